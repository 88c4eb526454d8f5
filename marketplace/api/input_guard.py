"""InputGuardMiddleware: hostile input is refused once, before any view, for every endpoint.

- JSON bodies (application/json and +json): decoded and checked (marketplace.json_limits) for every view
  that reads JSON, including views that ignore their body and the allauth endpoints; views with their own
  reader opt out by their parsers (the streamed task upload checks each line itself; the Stripe webhook
  verifies the signature over the raw bytes first).
- Path parameters: an integer id outside the signed 64-bit range names nothing: 404.
- Query parameters: NUL characters, or an integer outside the signed 64-bit range: 400.

Answers use the one error format. The check costs one pass over the decoded body, which the API's
JSONParser then reuses instead of decoding again.
"""

from django.http import JsonResponse

from marketplace import json_limits
from marketplace.api.errors import error_body
from marketplace.api.parsers import CHECKED_BODY_ATTR, JSONParser, body_loads
from marketplace.errors import ValidationFailed


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (content_type.startswith("application/")
                                                  and content_type.endswith("+json"))


def _reads_json_itself(view_func) -> bool:
    """A DRF view whose parsers are not the API's JSONParser reads its body its own way."""
    cls = getattr(view_func, "cls", None)
    parsers = getattr(cls, "parser_classes", None)
    if cls is None or parsers is None:
        return False
    return not any(isinstance(p, type) and issubclass(p, JSONParser) for p in parsers)


def _looks_like_int(text: str) -> bool:
    digits = text[1:] if text[:1] in "+-" else text
    return digits.isascii() and digits.isdigit()


def _query_fault(request) -> tuple[str, str] | None:
    for name, values in request.GET.lists():
        if json_limits.NUL in name:
            return "query", "NUL characters are not allowed in parameter names"
        for value in values:
            if json_limits.NUL in value:
                return name, "NUL characters are not allowed"
            if _looks_like_int(value) and len(value) > 18 and not (
                    json_limits.INT_MIN <= int(value) <= json_limits.INT_MAX):
                return name, "integer out of range (signed 64-bit)"
    return None


class InputGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        for value in list(view_args) + list(view_kwargs.values()):
            if isinstance(value, int) and not json_limits.INT_MIN <= value <= json_limits.INT_MAX:
                return JsonResponse(error_body("not_found", "Not found."), status=404)
        if request.GET:
            fault = _query_fault(request)
            if fault:
                where, message = fault
                return JsonResponse(error_body("invalid", f"Invalid query parameter: {where}: {message}; nothing was changed.",
                                               {where: [message]}), status=400)
        if request.method in ("GET", "HEAD", "OPTIONS") or not _is_json(request.content_type or ""):
            return None
        if _reads_json_itself(view_func):
            return None
        raw = request.body  # DATA_UPLOAD_MAX_MEMORY_SIZE bounds it (400 above)
        if not raw:
            return None
        try:
            value = body_loads(raw)
        except ValidationFailed as exc:
            return JsonResponse(error_body(exc.code, exc.message, exc.fields), status=400)
        setattr(request, CHECKED_BODY_ATTR, (value,))
        return None
