import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import normalize_newlines
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


_INLINE_CODE = re.compile(r"`([^`\n]+)`")


@register.filter(is_safe=False)
def prose(text) -> SafeString:
    """Text a client, ops or a quiz author wrote (a prompt, a question), as people read it: escaped first,
    always (even text already marked safe), then `code` between backticks as <code>, then line breaks as
    <br>. Those two are the only markup: the code's content is the escaped text, so it cannot open a tag
    or an attribute. Replaces |linebreaksbr on such text; never |safe on it."""
    escaped = escape(normalize_newlines(str(text if text is not None else "")))
    with_code = _INLINE_CODE.sub(lambda m: f"<code>{m.group(1)}</code>", escaped)
    return mark_safe(with_code.replace("\n", "<br>"))  # noqa: S308 - built from escaped text only


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
