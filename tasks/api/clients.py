"""Client API: the client itself (callback URL, webhook secret) and its webhook deliveries."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from marketplace.api.pagination import Pagination
from tasks.api.base import ClientAPIView
from tasks.api.projects import ErrorSerializer
from tasks.models import WebhookDelivery
from tasks.services.clients import client_callback_set, client_webhook_secret_rotate


class ClientOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    callback_url = serializers.CharField(allow_blank=True)
    webhook_secret = serializers.CharField(required=False,
                                           help_text="Only in the answer that issued it (shown once).")


class ClientPatchSerializer(serializers.Serializer):
    # A plain string here: the service's SSRF guard judges the URL (tasks.services.webhooks.callback_url_check),
    # so every refusal is the same 400 callback_url_refused saying why, not URLField's bare "Enter a valid URL".
    callback_url = serializers.CharField(max_length=500, allow_blank=True, trim_whitespace=True,
                                         help_text="Where events are POSTed (a public http(s) URL); empty "
                                                   "string to stop.")


class SecretSerializer(serializers.Serializer):
    webhook_secret = serializers.CharField()


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "event", "event_id", "status", "attempts", "last_status_code", "last_error", "url",
                  "created_at", "delivered_at", "next_attempt_at", "payload"]


def _client_out(client, secret=None) -> dict:
    data = {"id": client.pk, "name": client.name, "callback_url": client.callback_url}
    if secret:
        data["webhook_secret"] = secret
    return data


class ClientMeView(ClientAPIView):
    @extend_schema(tags=["client: account"], summary="Your organization", responses={200: ClientOutSerializer})
    def get(self, request):
        return Response(_client_out(self.client))

    @extend_schema(tags=["client: account"], summary="Set the webhook callback URL",
                   description="Registering a URL where none was set issues a new signing secret, returned "
                               "once in this answer (rotate it with POST /api/v1/client/webhook-secret/).",
                   request=ClientPatchSerializer, responses={200: ClientOutSerializer, 400: ErrorSerializer})
    def patch(self, request):
        data = ClientPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        client, secret = client_callback_set(client_id=self.client.pk, callback_url=data.validated_data["callback_url"])
        return Response(_client_out(client, secret))


class WebhookSecretRotateView(ClientAPIView):
    @extend_schema(tags=["client: account"], summary="Rotate the webhook signing secret (shown once)",
                   request=None, responses={200: SecretSerializer})
    def post(self, request):
        return Response({"webhook_secret": client_webhook_secret_rotate(client_id=self.client.pk)})


class WebhookDeliveryListView(ClientAPIView):
    @extend_schema(tags=["client: account"], summary="Your webhook deliveries, newest first",
                   responses={200: WebhookDeliverySerializer(many=True)})
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(WebhookDelivery.objects.filter(client=self.client), request, view=self)
        return paginator.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)
