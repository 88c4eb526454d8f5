from allauth.account.models import EmailConfirmationHMAC
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from marketplace import health


@extend_schema(
    tags=["health"],
    responses={
        200: inline_serializer(
            "Health",
            {"status": serializers.ChoiceField(["ok", "degraded"]), "database": serializers.CharField(),
             "broker": serializers.CharField(), "worker": serializers.DictField(), "outbox": serializers.DictField()},
        ),
        503: inline_serializer("HealthDown", {"status": serializers.CharField(), "database": serializers.CharField(),
                                              "broker": serializers.CharField()}),
    },
)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def healthz(request):
    """503 when the database is down (nothing can be served). A broker that is down is "degraded" with a
    200: every request still answers as usual (jobs wait in the outbox, published when the broker is back),
    so a load balancer should keep sending traffic. `outbox` shows the jobs waiting and the oldest's age."""
    body = {"status": "ok", "database": health.database_status(), "broker": health.broker_status()}
    if body["database"] != "ok":
        body["status"] = "down"
        return Response(body, status=503)
    if body["broker"] != "ok":
        body["status"] = "degraded"
    body["worker"] = health.worker_status()
    body["outbox"] = health.outbox_status()
    return Response(body, status=200)


def csrf_failure(request, reason=""):
    """Django's own CSRF failure page carries an inline <style>, which the CSP refuses: the same 403 in the
    site's layout, with no inline style (settings.CSRF_FAILURE_VIEW). The reason stays in the logs only."""
    return render(request, "marketplace/csrf_failure.html", status=403)


def _invalid_key(request):
    """400 for a mailed link whose key is wrong or spent: JSON for apps, a page for a person's browser."""
    if "text/html" in request.headers.get("Accept", "") and "application/json" not in request.headers.get("Accept", ""):
        from django.utils.translation import gettext as _

        return render(request, "webapp/error.html", {"title": _("This link does not work"), "message": _(
            "This link is invalid or has expired. Ask for a new one by signing in or resetting your password.")},
            status=400)
    return JsonResponse({"error": {"code": "invalid_key", "message": "This link is invalid or has expired.",
                                   "fields": {}}}, status=400)


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
def verify_email_link(request, key: str):
    """The link in the verification mail. A GET only shows a confirm page; its POST (with the page's CSRF
    token) verifies. Mail scanners and link previews fetch every link in a mail, so a GET that verified
    would verify addresses nobody confirmed (issue 13 row 17). Apps POST the key to
    /_allauth/app/v1/auth/email/verify instead (docs/workers.md)."""
    confirmation = EmailConfirmationHMAC.from_key(key)
    if confirmation is None:
        return _invalid_key(request)
    address = confirmation.email_address
    if request.method == "POST":
        with transaction.atomic():
            # None when allauth refuses (e.g. another account verified this address meanwhile).
            verified = confirmation.confirm(request) is not None
        if not verified:
            return JsonResponse({"error": {"code": "cannot_verify", "fields": {},
                                           "message": "This address cannot be verified for this account."}},
                                status=409)
    else:
        verified = address.verified
    if "application/json" in request.headers.get("Accept", ""):
        body = {"email": address.email, "verified": verified}
        if not verified:
            body["confirm"] = "POST this page's form (with its CSRF token), or POST the key to " \
                              "/_allauth/app/v1/auth/email/verify."
        return JsonResponse(body)
    return render(request, "marketplace/verify_email.html", {"email": address.email, "verified": verified})


def _rate_limited(request, action: str, key: str | None = None) -> bool:
    from allauth.core import ratelimit

    return not ratelimit.consume(request, action=action, key=key)


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
def reset_password_request(request):
    """The page a "forgot your password?" link opens (also mailed to whoever signs up with an address that
    already has an account). Answers the same whether or not the address has an account. Apps POST
    {"email"} to /_allauth/app/v1/auth/password/request instead."""
    from allauth.headless.account.inputs import RequestPasswordResetInput

    form = RequestPasswordResetInput(request.POST or None)
    sent = False
    if request.method == "POST" and form.is_valid():
        if _rate_limited(request, "reset_password", form.cleaned_data["email"].lower()):
            return render(request, "marketplace/reset_password.html", {"form": form, "limited": True}, status=429)
        form.save(request)
        sent = True
    return render(request, "marketplace/reset_password.html", {"form": form, "sent": sent})


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
def reset_password_from_key(request, key: str):
    """The link in a password-reset mail: a GET shows a form, its POST (CSRF) sets the new password. Apps
    POST {"key", "password"} to /_allauth/app/v1/auth/password/reset instead."""
    from allauth.account.internal import flows
    from allauth.account.internal.flows.password_reset import finalize_password_reset
    from allauth.headless.account.inputs import ResetPasswordInput, ResetPasswordKeyInput

    if not ResetPasswordKeyInput({"key": key}).is_valid():
        return _invalid_key(request)
    if request.method != "POST":
        return render(request, "marketplace/reset_password_key.html", {"errors": None})
    if _rate_limited(request, "reset_password_from_key"):
        return render(request, "marketplace/reset_password_key.html", {"limited": True}, status=429)
    form = ResetPasswordInput({"key": key, "password": request.POST.get("password", "")})
    if not form.is_valid():
        return render(request, "marketplace/reset_password_key.html", {"errors": form.errors}, status=400)
    with transaction.atomic():
        flows.password_reset.reset_password(form.user, form.cleaned_data["password"])
        finalize_password_reset(request, form.user)
    return render(request, "marketplace/reset_password_key.html", {"done": True})
