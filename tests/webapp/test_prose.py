"""The |prose filter (issue 30, item 4): prompts and questions written by clients, ops and quiz authors show
`code` in backticks as code, and nothing else they write can become markup."""

import pytest
from django.template import Context, Template
from django.utils.safestring import mark_safe

from webapp.templatetags.webapp import prose


def render(text) -> str:
    return Template("{% load webapp %}{{ text|prose }}").render(Context({"text": text}))


@pytest.mark.parametrize("text,html", [
    ("Use `xs.sort()` here.", "Use <code>xs.sort()</code> here."),
    ("`a` and `b`", "<code>a</code> and <code>b</code>"),
    ("line one\r\nline `two`\nthree", "line one<br>line <code>two</code><br>three"),
    ("a lone ` backtick", "a lone ` backtick"),
    ("``", "``"),
    ("`not\ncode`", "`not<br>code`"),
    ("", ""),
    (None, ""),
])
def test_backticks_become_code_and_line_breaks_br(text, html):
    assert render(text) == html


@pytest.mark.parametrize("hostile", [
    "<script>alert(1)</script>",
    "`<img src=x onerror=alert(1)>`",
    "`\" onmouseover=\"alert(1)` and `'`",
    "`</code><script>alert(1)</script>`",
    "``<b>`x`</b>``",
    mark_safe("<b>already marked safe</b> `<i>`"),  # noqa: S308 - the filter must escape it anyway
])
def test_nothing_written_becomes_markup_but_code_and_br(hostile):
    out = str(prose(hostile))
    stripped = out.replace("<code>", "").replace("</code>", "").replace("<br>", "")
    assert "<" not in stripped and ">" not in stripped, out
    assert '"' not in stripped and "'" not in stripped, out
    assert out.count("<code>") == out.count("</code>")
