"""Verify a webhook delivery: `X-Marketplace-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "{t}.{raw body}")>`."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

SIGNATURE_HEADER = "X-Marketplace-Signature"
EVENT_HEADER = "X-Marketplace-Event"
DELIVERY_HEADER = "X-Marketplace-Delivery"
DEFAULT_TOLERANCE = 300


class WebhookVerificationError(Exception):
    """The delivery is not authentic or too old: answer it with a 400 and do not act on it."""


def _header(headers: Mapping[str, str] | str) -> str:
    if isinstance(headers, str):
        return headers
    for name, value in headers.items():  # case-insensitive, for plain dicts as well as frameworks' header maps
        if name.lower() == SIGNATURE_HEADER.lower():
            return value
    raise WebhookVerificationError(f"no {SIGNATURE_HEADER} header")


def verify_webhook(secret: str | Iterable[str], body: bytes | str, headers: Mapping[str, str] | str, *,
                   tolerance: int = DEFAULT_TOLERANCE, now: float | None = None) -> dict[str, Any]:
    """Check a delivery's signature and timestamp; return the event ({id, event, created, data}).

    `body` is the raw request body as received (re-serialised JSON has other bytes and fails).
    `headers` is the request's headers (any mapping) or the signature header's value. `secret` may be
    several secrets, e.g. the new and the previous one while a rotation settles. A timestamp more than
    `tolerance` seconds away from now is refused, so a captured delivery cannot be replayed later.
    Raises WebhookVerificationError saying why. Deliveries are at least once: deduplicate on the event id."""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    header = _header(headers)
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise WebhookVerificationError("the signature's timestamp is not an integer") from None
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookVerificationError(f"malformed {SIGNATURE_HEADER}: expected t=<unix>,v1=<hex>")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError(f"timestamp {timestamp} is more than {tolerance}s away from now")
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets or not all(secrets):
        raise ValueError("a webhook secret is required")
    signed = f"{timestamp}.".encode() + raw
    expected = [hmac.new(s.encode(), signed, hashlib.sha256).hexdigest() for s in secrets]
    if not any(hmac.compare_digest(e, given) for e in expected for given in signatures):
        raise WebhookVerificationError("signature mismatch (wrong secret, or the body was altered)")
    try:
        event = json.loads(raw)
    except ValueError:
        raise WebhookVerificationError("the signed body is not JSON") from None
    if not isinstance(event, dict):
        raise WebhookVerificationError("the signed body is not a JSON object")
    return event
