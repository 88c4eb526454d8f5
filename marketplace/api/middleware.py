"""Everything under /api/ answers in the one error shape, even where Django itself answers: a URL that
matches no route, an exception no handler caught, a CSRF refusal. With DEBUG on, Django would send its
HTML debug pages there (handler404/handler500 only apply with DEBUG off); a client parsing JSON gets HTML.
The exception itself is still logged with its traceback by django.request, so nothing is lost."""

from django.http import JsonResponse

from marketplace.api.errors import error_body

API_PREFIX = "/api/"
_GENERIC = {
    400: ("bad_request", "Bad request."),
    403: ("permission_denied", "Permission denied."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "Method not allowed."),
    500: ("server_error", "Internal error; it has been logged."),
}


class ApiJsonErrorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        renderer = getattr(response, "accepted_renderer", None)
        if (response.status_code >= 400 and request.path.startswith(API_PREFIX)
                and not response.get("Content-Type", "").startswith("application/json")
                # DRF's browsable API (DEBUG, a browser asking for HTML) already shows the error's body.
                and getattr(renderer, "format", None) != "api"):
            code, message = _GENERIC.get(response.status_code) or _GENERIC[500 if response.status_code >= 500 else 400]
            replacement = JsonResponse(error_body(code, message), status=response.status_code)
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in response:
                    replacement[header] = response[header]
            return replacement
        return response
