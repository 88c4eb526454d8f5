"""Client (task source) authentication: `Authorization: Api-Key <key>`.

Keys are stored hashed by djangorestframework-api-key (SHA-512 of a high-entropy key; the key itself is
shown once). A request with a valid key gets `request.auth = Client` and an anonymous `request.user`:
a client is an organization, not a person, so nothing that expects a User can mistake it for one.
"""

from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission

from tasks.models import Client, ClientAPIKey

KEYWORD = "Api-Key"
# last_used_at is a hint for ops ("is this key still in use?"), not an audit log: one write a minute
# per key keeps a busy client from turning every request into an UPDATE.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ClientAPIKeyAuthentication(authentication.BaseAuthentication):
    """Unknown, malformed, revoked or expired keys, and keys of a deactivated client, are answered 401."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme.lower() != KEYWORD.lower():
            return None
        key = key.strip()
        if not key or " " in key or "." not in key:
            raise exceptions.AuthenticationFailed("Malformed API key: use 'Authorization: Api-Key <key>'.")
        prefix = key.partition(".")[0]
        api_key = (ClientAPIKey.objects.get_usable_keys().select_related("client")
                   .filter(prefix=prefix).first())
        if api_key is None or not api_key.is_valid(key):
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        client = api_key.client
        if not client.is_active:
            raise exceptions.AuthenticationFailed("This client is deactivated.")
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
            # Conditional, so concurrent requests do not all write.
            ClientAPIKey.objects.filter(pk=api_key.pk).filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
            ).update(last_used_at=now)
        return AnonymousUser(), client

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) when the key is missing or bad.
        return KEYWORD


class IsClient(BasePermission):
    """The request carries a valid client API key."""

    message = "Send a client API key: 'Authorization: Api-Key <key>'."

    def has_permission(self, request, view):
        return isinstance(request.auth, Client)


class ClientAPIKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tasks.auth.ClientAPIKeyAuthentication"
    name = "ClientApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>` (keys are created by ops: admin or `manage.py create_client_key`).",
        }
