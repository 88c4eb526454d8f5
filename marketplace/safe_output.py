"""Output that cannot fail on odd stored data: a read or an export never answers 500 for what a row holds.

Input is checked at the edge (marketplace.json_limits), but rows written before that, by a migration, by
hand or by a bug can still hold text that has no UTF-8 encoding (a lone UTF-16 surrogate, which SQLite's
text JSON keeps) or floats JSON has no spelling for (NaN in a float column). Rendering those raised, and
a stream (JSONL, CSV) stopped halfway. Here, a lone surrogate becomes U+FFFD (the replacement character)
and a non-finite float becomes null, only when the plain encoding fails, so the usual path costs nothing.
"""

from __future__ import annotations

import json
import math
import re

from django.core.serializers.json import DjangoJSONEncoder

_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def text_utf8(text: str) -> bytes:
    """UTF-8 bytes of text; lone surrogates become U+FFFD."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(REPLACEMENT, text).encode("utf-8")


def scrub_text(text: str) -> str:
    return _SURROGATE.sub(REPLACEMENT, text) if not text.isascii() else text


def scrub_json(value):
    """A copy of a decoded JSON value that any JSON encoder takes: surrogates replaced in strings and keys,
    NaN and infinities as None. Iterative, so depth is no limit."""
    def clean_leaf(node):
        if isinstance(node, str):
            return scrub_text(node)
        if isinstance(node, float) and not math.isfinite(node):
            return None
        return node

    if not isinstance(value, dict | list | tuple):
        return clean_leaf(value)
    root: dict | list = {} if isinstance(value, dict) else []
    stack = [(value, root)]
    while stack:
        source, target = stack.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            if isinstance(item, dict | list | tuple):
                child: dict | list = {} if isinstance(item, dict) else []
                stack.append((item, child))
            else:
                child = clean_leaf(item)
            if isinstance(target, dict):
                target[scrub_text(key) if isinstance(key, str) else key] = child
            else:
                target.append(child)
    return root


def json_line(obj) -> bytes:
    """One JSONL line (UTF-8, newline-terminated) that is valid JSON whatever obj holds."""
    try:
        text = json.dumps(obj, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return (text + "\n").encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        text = json.dumps(scrub_json(obj), cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)
        return text_utf8(text + "\n")


def utf8_chunks(chunks):
    """Encode a stream of text chunks (CSV) without ever failing halfway."""
    for chunk in chunks:
        yield text_utf8(chunk)


class _SafeTemplate:
    """Wraps a template so that its rendered page can always be encoded (see SafeTemplateMiddleware)."""

    def __init__(self, template):
        self.template = template

    def render(self, context=None, request=None):
        return scrub_text(self.template.render(context, request))


class SafeTemplateMiddleware:
    """Pages (the admin) show stored JSON: a lone surrogate in it made the page's encoding fail (500). The
    page's text is scrubbed once it is rendered, before Django encodes it; ASCII-only pages are untouched."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_template_response(self, request, response):
        resolve = response.resolve_template
        response.resolve_template = lambda template: _SafeTemplate(resolve(template))
        return response
