"""Webhooks to clients: SSRF guard, signing, and one delivery attempt at a time.

Signature: header `X-Marketplace-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "{t}.{body}")>`, the same
scheme as Stripe's, so clients can reuse what they know. Every attempt is a WebhookAttempt row; the
delivery row carries the state (pending -> delivered | failed). Sending happens outside any transaction:
an attempt is claimed with a conditional UPDATE (a short lease in next_attempt_at), so two Celery workers
that got the same job do not post the same attempt twice.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import re
import socket
import time
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from marketplace.errors import ValidationFailed
from tasks.models import Client, WebhookAttempt, WebhookDelivery

logger = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Marketplace-Signature"
USER_AGENT = "LabelingMarketplace-Webhooks/1"


def _setting(name: str, default):
    return getattr(settings, name, default)


# --- SSRF guard ----------------------------------------------------------------------------------

NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: a private translator's own prefix
SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")  # RFC 6598: carrier-grade NAT, cloud metadata
# IANA's global unicast space: nothing outside it is a public IPv6 destination (NAT64 aside), whatever
# is_global says (Python 3.11 calls the deprecated IPv4-compatible ::a.b.c.d and ::ffff:0:a.b.c.d global).
IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
IPV6_DOCUMENTATION_NEW = ipaddress.IPv6Network("3fff::/20")  # RFC 9637 (2024): newer than Python 3.11's tables
# A host whose last label is a number (decimal, octal 0177, hex 0x7f) is an IPv4 address to libc's
# inet_aton and to browsers (WHATWG URL "ends in a number"): 2130706433, 0177.0.0.1, 0x7f.1 and 127.1 are
# all 127.0.0.1. Only the canonical dotted quad is accepted as an address.
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


def _address_refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_private: bool = False) -> str | None:
    """Why a callback may not go to this address, or None when it is a globally routable unicast one.

    An allow-list, not a deny-list: anything that is not `is_global` is refused (private, loopback,
    link-local, shared 100.64.0.0/10, documentation, benchmarking, reserved, unspecified...), and so is
    multicast, which Python counts as global, and IPv6 outside 2000::/3. IPv6 forms that carry an IPv4
    address (IPv4-mapped, 6to4 2002::/16, NAT64 64:ff9b::/96) are judged by the IPv4 address they lead to;
    Python's is_global looks only at the outer prefix and would pass 6to4 or NAT64 of 10.0.0.1.

    `allow_private` (settings.WEBHOOKS_ALLOW_PRIVATE_URLS: tests, a local receiver) lets loopback, private
    and the other non-global unicast ranges through, never link-local (169.254.169.254 is the cloud's
    metadata service, fe80::/10 its IPv6 twin), multicast or the unspecified address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in NAT64_LOCAL_USE:
            return None if allow_private else "local-use NAT64"
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64_WELL_KNOWN:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            why = _address_refused(embedded, allow_private=allow_private)
            return f"{why} (embedded in {ip})" if why else None
    for test, what in ((ip.is_link_local, "link-local"), (ip.is_multicast, "multicast"),
                       (ip.is_unspecified, "unspecified")):
        if test:
            return what
    if allow_private:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and (ip not in IPV6_GLOBAL_UNICAST or ip in IPV6_DOCUMENTATION_NEW):
        return "loopback" if ip.is_loopback else "non-global IPv6"
    if ip.is_global and not ip.is_reserved:
        return None
    for test, what in ((ip.is_loopback, "loopback"), (ip in SHARED_ADDRESS_SPACE, "shared (100.64.0.0/10)"),
                       (ip.is_private, "private"), (ip.is_reserved, "reserved")):
        if test:
            return what
    return "non-global"


def callback_host(hostname: str) -> str:
    """The host as the network sees it: IDNA-encoded (what getaddrinfo would do with it: fullwidth
    digits and look-alike letters fold to ASCII, so "１２７.０.０.１" is 127.0.0.1), lower case.
    Raises UnicodeError for a name IDNA refuses."""
    if ":" in hostname:  # an IPv6 literal (urlsplit took the brackets off)
        return hostname.lower()
    return hostname.encode("idna").decode("ascii").lower()


def _host_refused(host: str) -> str | None:
    """Names refused before any resolver is asked (so the answer does not depend on the machine's
    resolver): localhost and *.localhost (RFC 6761), and IPv4 written other than as a dotted quad."""
    name = host[:-1] if host.endswith(".") else host
    if name == "localhost" or name.endswith(".localhost"):
        return "is a loopback name"
    if ":" in host:
        try:
            ipaddress.IPv6Address(host.split("%")[0])
        except ValueError:
            return "is not a valid IPv6 address"
        return None
    labels = name.split(".")
    if labels and _NUMERIC_LABEL.match(labels[-1]):
        try:
            canonical = str(ipaddress.IPv4Address(host)) == host
        except ValueError:
            canonical = False
        if not canonical:
            return "is an IPv4 address in a non-canonical form (decimal, octal, hex, short or trailing dot)"
    return None


def callback_url_check(url: str, *, field: str = "callback_url") -> list[str]:
    """Validate a callback URL and return the addresses it may be reached at.

    Refuses non-http(s) URLs, credentials in the URL (http://good@127.0.0.1), loopback names and
    non-canonical numeric hosts (_host_refused), and any host with an address that is not globally
    routable unicast (see _address_refused; settings.WEBHOOKS_ALLOW_PRIVATE_URLS lets loopback and
    private ranges through): outgoing webhooks must not be a way into our own network. Every address the
    name resolves to must pass. Called when the URL is registered and again before every delivery
    attempt, whose connection then goes to an address vetted here (DNS rebinding), never following a
    redirect. Raises ValidationFailed naming `field`."""
    def refuse(message: str):
        raise ValidationFailed(f"{field}: {message}", code="callback_url_refused", fields={field: [message]})

    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        refuse("not a valid URL")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        refuse("must be an http:// or https:// URL with a host")
    if parts.username or parts.password or "@" in parts.netloc:
        refuse("must not carry credentials")
    try:
        host = callback_host(parts.hostname)
    except UnicodeError:
        refuse(f"host {parts.hostname!r} is not a valid host name")
    allow_private = bool(_setting("WEBHOOKS_ALLOW_PRIVATE_URLS", False))
    why = _host_refused(host)
    if why and not (allow_private and why == "is a loopback name"):
        refuse(f"host {parts.hostname!r} {why}; callbacks must be public")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        refuse(f"host {parts.hostname!r} does not resolve")
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        refuse(f"host {parts.hostname!r} does not resolve")
    for address in addresses:
        why = _address_refused(ipaddress.ip_address(address.split("%")[0]), allow_private=allow_private)
        if why:
            refuse(f"resolves to a {why} address ({address}); callbacks must be public")
    return addresses


# --- signing -------------------------------------------------------------------------------------

def signature_header(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def signature_verify(*, secret: str, body: bytes, header: str, tolerance: int = 300, now: int | None = None) -> bool:
    """What a client does on receipt (also used by our tests' receiver): constant-time compare, and a
    timestamp within `tolerance` seconds so a captured request cannot be replayed later."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        t = int(fields["t"])
    except (ValueError, KeyError):
        return False
    if abs((int(time.time()) if now is None else now) - t) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


# --- deliveries ----------------------------------------------------------------------------------

def webhook_delivery_create(*, client_id: int, event: str, event_key: str, data: dict) -> WebhookDelivery | None:
    """Record an event for the client, once per (client, event_key). Returns the delivery to send, or
    None when the client has no callback URL (nothing is recorded then) or the event was recorded before
    and already finished."""
    client = Client.objects.get(pk=client_id)
    if not client.callback_url:
        return None
    event_id = uuid.uuid4()
    payload = {"id": str(event_id), "event": event, "created": int(time.time()), "data": data}
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                client=client, event=event, event_key=event_key, event_id=event_id, payload=payload,
                url=client.callback_url)
    except IntegrityError:
        delivery = WebhookDelivery.objects.get(client=client, event_key=event_key)
    return delivery if delivery.status == WebhookDelivery.Status.PENDING else None


def webhook_delivery_wait_seconds(*, delivery_id: int) -> float | None:
    """Seconds until a pending delivery may be attempted again (its retry time, or the lease of an attempt
    whose job died mid-way: database gone, worker killed), or None when it is finished or due now."""
    row = WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING).values_list(
        "next_attempt_at", flat=True).first()
    if row is None:
        return None
    return max(1.0, (row - timezone.now()).total_seconds() + 1)


def _claim_attempt(delivery_id: int, lease: timedelta) -> WebhookDelivery | None:
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        pk=delivery_id, status=WebhookDelivery.Status.PENDING,
    ).update(next_attempt_at=now + lease)
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("client").get(pk=delivery_id)


def _post(url: str, addresses: list[str], body: bytes, headers: dict, timeout: float) -> tuple[int, str]:
    """POST to the vetted address (not a fresh DNS answer, so a rebinding host cannot redirect us inward);
    the name still goes in the Host header and TLS's server name, so certificates are checked against it.
    Redirects are not followed: http.client never does, and a 3xx is a failed attempt like any non-2xx."""
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(callback_host(parts.hostname), parts.port, timeout=timeout)
    address = addresses[0]
    conn._create_connection = lambda addr, t=None, src=None: socket.create_connection((address, addr[1]), t, src)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(500).decode("utf-8", "replace")
    finally:
        conn.close()


def webhook_attempt(*, delivery_id: int) -> tuple[str, int | None]:
    """Make one attempt of a pending delivery and log it.

    Returns (outcome, retry_in_seconds): outcome is "delivered", "retry" (retry_in_seconds set), "failed"
    (attempts exhausted), or "skipped" (nothing to do: finished, or another worker holds this attempt).
    A 2xx answer is success; anything else, a timeout or a refused address is a failed attempt."""
    timeout = float(_setting("WEBHOOKS_TIMEOUT_SECONDS", 10))
    delivery = _claim_attempt(delivery_id, timedelta(seconds=timeout + 30))
    if delivery is None:
        return "skipped", None
    client = delivery.client
    url = client.callback_url or delivery.url
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               SIGNATURE_HEADER: signature_header(secret=client.webhook_secret, body=body),
               "X-Marketplace-Event": delivery.event, "X-Marketplace-Delivery": str(delivery.event_id)}
    number = delivery.attempts + 1
    started = time.monotonic()
    status_code, error, excerpt = None, "", ""
    try:
        addresses = callback_url_check(url) if url else []
        if not addresses:
            raise ValidationFailed("no callback URL")
        status_code, excerpt = _post(url, addresses, body, headers, timeout)
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except ValidationFailed as exc:
        error = f"refused: {exc.message}"
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"[:1000]
    duration_ms = int((time.monotonic() - started) * 1000)
    now = timezone.now()
    max_attempts = int(_setting("WEBHOOKS_MAX_ATTEMPTS", 8))
    with transaction.atomic():
        WebhookAttempt.objects.create(delivery=delivery, number=number, url=url, at=now, status_code=status_code,
                                      error=error, duration_ms=duration_ms, response_excerpt=excerpt[:500])
        fields = {"attempts": number, "last_status_code": status_code, "last_error": error, "url": url}
        if not error:
            fields.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=now, next_attempt_at=None)
            outcome, retry_in = "delivered", None
        elif number >= max_attempts:
            fields.update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None)
            outcome, retry_in = "failed", None
        else:
            retry_in = backoff_seconds(number)
            fields.update(next_attempt_at=now + timedelta(seconds=retry_in))
            outcome = "retry"
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
    if error:
        logger.info("webhook %s attempt %s to %s failed: %s", delivery.pk, number, url, error)
    return outcome, retry_in


def backoff_seconds(attempt: int) -> int:
    """Exponential backoff after the given failed attempt: base, 2*base, 4*base, ... capped."""
    base = int(_setting("WEBHOOKS_BACKOFF_SECONDS", 30))
    return min(base * 2 ** (attempt - 1), int(_setting("WEBHOOKS_BACKOFF_MAX_SECONDS", 6 * 3600)))


def webhook_deliveries_due(*, limit: int = 500) -> list[int]:
    """Pending deliveries whose next attempt is overdue (the retry job was lost with a broker or worker)."""
    grace = timezone.now() - timedelta(seconds=60)
    return list(WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
                .filter(Q(next_attempt_at__isnull=True, created_at__lte=grace) | Q(next_attempt_at__lte=grace))
                .order_by("id").values_list("id", flat=True)[:limit])
