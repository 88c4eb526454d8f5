"""Filters of the ops and finance consoles: money as people read it (cents stay in the API and the database)."""

from django import template

register = template.Library()


def money_text(cents, currency: str = "usd") -> str:
    """Integer minor units as an amount with its currency code: 10040, "usd" -> "100.40 USD" (no floats)."""
    if cents is None:
        return "—"
    cents = int(cents)
    sign = "-" if cents < 0 else ""
    units, rest = divmod(abs(cents), 100)
    return f"{sign}{units:,}.{rest:02d} {str(currency).upper()}"


@register.filter
def money(cents, currency: str = "usd") -> str:
    return money_text(cents, currency)


@register.filter
def get_item(mapping, key):
    """mapping[key], or None: a dict keyed by a loop variable (a currency, a project id)."""
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def duration_hours(hours) -> str:
    """An estimate in hours as people say it: 0.4 -> "under an hour", 30 -> "1.3 days"."""
    if hours is None:
        return "—"
    if hours < 1:
        return "under an hour"
    if hours < 48:
        return f"{hours:.0f} hours"
    return f"{hours / 24:,.1f} days"
