import re
from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.dateparse import parse_datetime
from django.utils.formats import get_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import normalize_newlines
from django.utils.translation import gettext as _

from marketplace.money import money_text
from webapp.highlight import code_html

register = template.Library()


@register.filter
def money(cents, currency: str = "usd") -> str:
    """Integer minor units as an amount with its currency code: 1234, "usd" -> "12.34 USD" (no floats)."""
    return money_text(cents, currency)


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


def _moment(value) -> datetime | None:
    if isinstance(value, str):
        value = parse_datetime(value)
    if not isinstance(value, datetime):
        return None
    return timezone.localtime(value) if timezone.is_aware(value) else value


@register.filter
def when(value, what: str = "datetime") -> str:
    """A moment as people read it, in the reader's timezone (the one worker_page activated: the profile's,
    else the browser's, else UTC) with that zone named: "Dec. 10, 2026, 12:54 p.m. (Europe/Paris time)".
    Takes a datetime or an ISO string (the selectors' expected_clear_at); "time" gives the time of day only.
    Never raw ISO. Ends with ")", so it can sit right before a sentence's full stop."""
    moment = _moment(value)
    if moment is None:
        return "—"
    fmt = get_format("TIME_FORMAT" if what == "time" else "DATETIME_FORMAT")
    return _("%(moment)s (%(zone)s time)") % {"moment": date_format(moment, fmt),
                                              "zone": timezone.get_current_timezone_name()}
