"""Client (task source) authentication: `Authorization: Api-Key <key>`.

Keys are stored hashed by djangorestframework-api-key (SHA-512 of a high-entropy key; the key itself is
shown once). A request with a valid key gets `request.auth = Client` and an anonymous `request.user`:
a client is an organization, not a person, so nothing that expects a User can mistake it for one.

Guessing keys is rate limited per address: after API_KEY_FAILURE_LIMIT failed attempts within
API_KEY_FAILURE_WINDOW_SECONDS, every Api-Key request from that address is answered 429 with Retry-After
until the window ends, a correct key included (otherwise a guess that hits would still get through).
Successes neither count nor reset the count (a client holding one valid key could otherwise keep
guessing others). The counters live in the Django cache (Redis in production, shared by every web
process). The address is the one allauth's own limits use (ALLAUTH_TRUSTED_PROXY_COUNT behind proxies);
IPv6 addresses count per /64, the smallest block one subscriber usually gets.
"""

import ipaddress
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
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


def _address_bucket(request) -> str:
    from allauth.account.adapter import get_adapter

    try:
        address = ipaddress.ip_address(get_adapter().get_client_ip(request))
    except (ValueError, TypeError, PermissionDenied):  # no usable address: they all share one bucket
        return "unknown"
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False).network_address) + "/64"
    return str(address)


class FailedAttempts:
    """A fixed-window count of failed key attempts per address, in the Django cache."""

    def __init__(self, request):
        bucket = _address_bucket(request)
        self.count_key, self.start_key = f"apikey-failures:{bucket}", f"apikey-failures-start:{bucket}"
        self.limit = int(settings.API_KEY_FAILURE_LIMIT)
        self.window = int(settings.API_KEY_FAILURE_WINDOW_SECONDS)

    def retry_after(self) -> int | None:
        """Seconds until this address may try again, or None when it is under the limit."""
        if self.limit <= 0 or (cache.get(self.count_key) or 0) < self.limit:
            return None
        started = cache.get(self.start_key) or time.time()
        return max(1, int(started + self.window - time.time()) + 1)

    def record(self) -> None:
        if self.limit <= 0:
            return
        cache.add(self.start_key, time.time(), self.window)
        cache.add(self.count_key, 0, self.window)
        try:
            cache.incr(self.count_key)
        except ValueError:  # expired between add and incr: start a new window
            cache.set(self.count_key, 1, self.window)


class ClientAPIKeyAuthentication(authentication.BaseAuthentication):
    """Unknown, malformed, revoked or expired keys, and keys of a deactivated client, are answered 401;
    an address with too many of those recently is answered 429 (see the module docstring)."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme.lower() != KEYWORD.lower():
            return None
        failures = FailedAttempts(request)
        wait = failures.retry_after()
        if wait is not None:
            # DRF adds "Expected available in N seconds." and the Retry-After header.
            raise exceptions.Throttled(wait=wait, detail="Too many failed API key attempts from this address.")
        try:
            return self._authenticate_key(key)
        except exceptions.AuthenticationFailed:
            failures.record()
            raise

    def _authenticate_key(self, key: str):
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
