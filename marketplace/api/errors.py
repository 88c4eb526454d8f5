"""One error format for every API answer: {"error": {"code", "message", "fields"}}."""

import logging
import sys

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import IntegrityError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from marketplace.api import integrity
from marketplace.errors import ServiceError

logger = logging.getLogger(__name__)


def error_body(code: str, message: str, fields: dict | None = None, **extra) -> dict:
    body = {"code": code, "message": message, "fields": fields or {}}
    body.update(extra)
    return {"error": body}


def _flatten(detail):
    """DRF detail (nested lists/dicts of ErrorDetail) -> plain JSON with string messages."""
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(x, (dict, list)) for x in detail):
            return [str(x) for x in detail]
        return [_flatten(x) for x in detail]
    return str(detail)


def _first_message(fields: dict) -> str:
    for name, value in fields.items():
        while isinstance(value, (list, dict)) and value:
            value = value[0] if isinstance(value, list) else next(iter(value.values()))
        if value:
            prefix = "" if name == "non_field_errors" else f"{name}: "
            return f"{prefix}{value}"
    return "Invalid input."


# The database is unreachable, restarting, or dropped the connection (also a deadlock or a serialization
# failure, which psycopg reports as OperationalError too): nothing was committed, and the same request
# may succeed in a moment. Django closes the broken connection at the end of the request.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# SQLite reports its own bugs' kind (a syntax error, a missing table) as OperationalError too: only these
# mean "try again" there. Anything else stays a 500 and is logged with its traceback.
_SQLITE_TRANSIENT = ("database is locked", "database table is locked", "unable to open database", "disk i/o error")


def is_database_unavailable(exc: BaseException | None) -> bool:
    if not isinstance(exc, DATABASE_UNAVAILABLE):
        return False
    cause = exc.__cause__ or exc
    if type(cause).__module__.startswith("sqlite3"):
        return any(text in str(cause).lower() for text in _SQLITE_TRANSIENT)
    return True


def database_unavailable_body() -> dict:
    return error_body("database_unavailable",
                      "The database is unavailable for a moment; nothing was changed. Retry after a few seconds.")


def retry_after() -> str:
    return str(settings.DATABASE_UNAVAILABLE_RETRY_AFTER)


def exception_handler(exc, context):
    if is_database_unavailable(exc):
        logger.warning("database unavailable, answered 503: %s: %s", type(exc).__name__, exc)
        return Response(database_unavailable_body(), status=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": retry_after()})
    if isinstance(exc, ServiceError):
        return Response(error_body(exc.code, exc.message, exc.fields, **exc.extra), status=exc.status_code)
    if isinstance(exc, IntegrityError):
        # A constraint caught a conflict the service did not check first (often a race): the request
        # changed nothing, and the answer names the model, fields and constraint that refused it.
        refusal = integrity.describe(exc)
        logger.warning("integrity error answered as 409 %s: %s", refusal.code, exc)
        return Response(error_body(refusal.code, refusal.message, refusal.fields, constraint=refusal.constraint),
                        status=status.HTTP_409_CONFLICT)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        fields = _flatten(detail) if isinstance(detail, dict) else {"non_field_errors": _flatten(detail)}
        response.data = error_body("invalid", _first_message(fields), fields)
    else:
        detail = getattr(exc, "detail", "")
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        message = str(detail) if not isinstance(detail, (dict, list)) else str(_flatten(detail))
        response.data = error_body(str(code), message)
    return response


def json_404(request, exception=None):
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def json_500(request):
    # Django calls this while handling the exception: a database outage outside DRF views (allauth,
    # admin, middleware) gets the same 503 as inside them.
    if is_database_unavailable(sys.exc_info()[1]):
        response = JsonResponse(database_unavailable_body(), status=503)
        response["Retry-After"] = retry_after()
        return response
    return JsonResponse(error_body("server_error", "Internal error; it has been logged."), status=500)


def json_400(request, exception=None):
    return JsonResponse(error_body("bad_request", "Bad request."), status=400)


def json_403(request, exception=None):
    # A person's browser outside the API (the admin, the consoles) gets a page it can read; clients of the
    # API, and anything not asking for HTML, keep the one JSON error shape.
    if not request.path.startswith("/api/") and "text/html" in request.headers.get("Accept", ""):
        from django.template.response import TemplateResponse

        reason = str(exception) if exception is not None and str(exception) else ""
        return TemplateResponse(request, "marketplace/forbidden.html", {"reason": reason}, status=403)
    return JsonResponse(error_body("permission_denied", "Permission denied."), status=403)
