"""Code on the pages, highlighted on the server (Pygments): no JavaScript highlighter to download.

Pygments escapes everything it is given, so its output is safe to mark safe. Colours come from
webapp/static/webapp/pygments.css (class "hl")."""

import difflib

from django.utils.safestring import SafeString, mark_safe
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import DiffLexer, TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

_FORMATTER = HtmlFormatter(cssclass="hl")
_NUMBERED = HtmlFormatter(cssclass="hl", linenos="inline")
_TEXT = TextLexer()


def _lexer(language: str | None):
    if not language:
        return _TEXT
    try:
        return get_lexer_by_name(language, stripnl=False)
    except ClassNotFound:  # a language slug Pygments does not know: plain text, still escaped
        return _TEXT


_LINES = HtmlFormatter(cssclass="hl", linenos="inline", linespans="code-line")


def code_html(text: str, language: str | None = None, *, numbered: bool = False, line_ids: bool = False) -> SafeString:
    """line_ids: numbered, each line in its own <span id="code-line-N"> (the flags page's spans, spans.js)."""
    formatter = _LINES if line_ids else _NUMBERED if numbered else _FORMATTER
    return mark_safe(highlight(text or "", _lexer(language), formatter))  # noqa: S308


def diff_html(a: str, b: str, *, a_name: str = "A", b_name: str = "B") -> SafeString:
    """The unified diff of two texts, highlighted (the pairwise page's diff toggle)."""
    lines = difflib.unified_diff((a or "").splitlines(), (b or "").splitlines(), a_name, b_name, lineterm="", n=3)
    return mark_safe(highlight("\n".join(lines) or " ", DiffLexer(), _FORMATTER))  # noqa: S308
