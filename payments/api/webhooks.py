"""POST /webhooks/stripe/: Stripe's events, verified and processed once (payments.services.webhooks)."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.services.webhooks import stripe_webhook_receive


class RawBodyParser(BaseParser):
    """Leaves the body alone: the signature is over the exact bytes Stripe sent."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return {}


class StripeWebhookView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [RawBodyParser]

    @extend_schema(
        request={"application/json": {"type": "object", "description": "A Stripe event, signed (Stripe-Signature)"}},
        responses=inline_serializer("StripeWebhookAck", {"id": serializers.CharField(),
                                                         "status": serializers.CharField()}),
        summary="Stripe webhook endpoint (signature verified, 300 s tolerance)", tags=["payments"])
    def post(self, request):
        event = stripe_webhook_receive(payload=request.body, signature=request.headers.get("Stripe-Signature"))
        return Response({"id": event.event_id, "status": event.status})
