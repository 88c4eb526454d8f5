"""The API's one body parser: JSON, decoded once with orjson and checked against marketplace.json_limits.

Bodies are refused with 400 in the one error format, naming the path ({"error": {"code": "invalid",
"fields": {"answer.reason": ["lone UTF-16 surrogate ..."]}}}), before any view sees them. The API speaks
JSON only (form and multipart bodies get 415): a form field can carry neither a type nor a limit.
"""

from django.conf import settings
from rest_framework.parsers import BaseParser

from marketplace import json_limits
from marketplace.errors import ValidationFailed

# InputGuardMiddleware leaves the checked value here, so the parser does not decode the body twice.
CHECKED_BODY_ATTR = "_checked_json_body"


def max_depth() -> int:
    return int(getattr(settings, "API_JSON_MAX_DEPTH", json_limits.DEFAULT_MAX_DEPTH))


def refused(exc: json_limits.HostileJSON) -> ValidationFailed:
    where = exc.path or "body"
    return ValidationFailed(f"Invalid JSON body: {where}: {exc.message}; nothing was changed.",
                            code="invalid_json", fields={where: [exc.message]})


def body_loads(raw: bytes):
    """Decode and check a request body; ValidationFailed (400) names what and where."""
    try:
        return json_limits.loads(raw, max_depth=max_depth())
    except json_limits.HostileJSON as exc:
        raise refused(exc) from None


class JSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        django_request = getattr(request, "_request", None)
        checked = getattr(django_request, CHECKED_BODY_ATTR, None)
        if checked is not None:
            return checked[0]
        return body_loads(stream.read() if stream is not None else b"")
