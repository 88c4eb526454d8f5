from django import template
from django.utils.translation import gettext as _

from webapp.highlight import code_html

register = template.Library()


@register.filter
def money(cents, currency: str = "usd") -> str:
    """Integer minor units as an amount with its currency code: 1234, "usd" -> "12.34 USD" (no floats)."""
    if cents is None:
        return "—"
    cents = int(cents)
    sign = "-" if cents < 0 else ""
    units, rest = divmod(abs(cents), 100)
    return f"{sign}{units:,}.{rest:02d} {str(currency).upper()}"


@register.filter
def percent(share) -> str:
    """A share from 0 to 1 (a quiz score, a pass mark) as people read it: 0.75 -> "75%"."""
    if share is None:
        return "—"
    return f"{round(float(share) * 100)}%"


@register.simple_tag
def code(text, language=None, numbered=False):
    return code_html(text, language, numbered=bool(numbered))


@register.filter
def duration(seconds) -> str:
    """Seconds in words a person reads at a glance: 45 -> "45 s", 900 -> "15 min", 5400 -> "1 h 30 min"."""
    seconds = int(seconds or 0)
    if seconds < 60:
        return _("%(n)d s") % {"n": seconds}
    minutes = (seconds + 59) // 60
    if minutes < 60:
        return _("%(n)d min") % {"n": minutes}
    hours, minutes = divmod(minutes, 60)
    return (_("%(h)d h %(m)d min") % {"h": hours, "m": minutes}) if minutes else _("%(h)d h") % {"h": hours}


@register.filter
def before_full_stop(text) -> str:
    """A formatted date or time placed right before a sentence's own full stop, without its trailing period:
    English times end in "a.m." or "p.m.", and "yours until 3:05 p.m.." reads as a typo."""
    text = str(text)
    return text[:-1] if text.endswith(".") else text
