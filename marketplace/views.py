from allauth.account.models import EmailConfirmationHMAC
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
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


@require_GET
def verify_email_link(request, key: str):
    """The link in the verification mail. A GET confirms the address, so a person can click it and a
    script can follow it; the API equivalent is POST /_allauth/app/v1/auth/email/verify {key}."""
    confirmation = EmailConfirmationHMAC.from_key(key)
    if confirmation is None:
        return JsonResponse({"error": {"code": "invalid_key", "message": "This link is invalid or has expired.",
                                       "fields": {}}}, status=400)
    with transaction.atomic():
        confirmation.confirm(request)
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"email": confirmation.email_address.email, "verified": True})
    return HttpResponse(
        f"<p>{confirmation.email_address.email} is verified. You can log in now.</p>", content_type="text/html"
    )
