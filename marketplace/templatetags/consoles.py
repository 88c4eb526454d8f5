"""Filters of the ops and finance consoles: money as people read it (cents stay in the API and the database)."""

from django import template

from marketplace.money import money_text

register = template.Library()


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
