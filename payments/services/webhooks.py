"""Stripe webhooks in (docs/design.md invariant 9): verified, stored raw, one row per event id, processed once."""

import json
import logging
import time

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from marketplace.errors import ServiceError, ValidationFailed
from payments.models import StripeEvent
from payments.services.connect import stripe_account_updated, stripe_payout_failed
from payments.services.payout_lines import payout_transfer_reversed, payout_transfer_seen

logger = logging.getLogger(__name__)
TOLERANCE_SECONDS = 300


class EventProcessingFailed(ServiceError):
    status_code = 503
    default_code = "processing_failed"


def _handle(event: dict) -> bool:
    """Applies one event. Returns False when the type (or its object) is not ours to act on."""
    kind, obj = event.get("type"), (event.get("data") or {}).get("object") or {}
    if kind == "account.updated":
        return stripe_account_updated(account=obj, event_created=int(event.get("created") or 0))
    if kind in ("transfer.created", "transfer.updated"):
        return payout_transfer_seen(transfer=obj)
    if kind == "transfer.reversed":
        return payout_transfer_reversed(transfer=obj)
    if kind == "payout.failed":
        return stripe_payout_failed(account_id=event.get("account") or "", payout=obj)
    return False


def _signed_at(signature: str) -> int | None:
    """The header's timestamp, read as the stripe SDK reads it (the first t=)."""
    for item in signature.split(","):
        key, _, value = item.partition("=")
        if key.strip() == "t":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def stripe_webhook_receive(*, payload: bytes, signature: str | None) -> StripeEvent:
    """Verifies Stripe's signature (HMAC-SHA256 over "t.payload" with STRIPE_WEBHOOK_SECRET, timestamp at
    most 300 s old and at most 300 s ahead of our clock), stores the raw event (unique event id) and processes it once.

    A bad or old signature, or a body that is not an event, raises ValidationFailed and stores nothing.
    A repeated delivery of a processed event changes nothing; one whose processing failed before is
    processed again (Stripe's retries then heal it). Raises EventProcessingFailed (503, so Stripe
    retries) when processing fails; the event is kept with status failed and the error.
    """
    text = payload.decode("utf-8", errors="replace")
    try:
        stripe.WebhookSignature.verify_header(text, signature or "", settings.STRIPE_WEBHOOK_SECRET,
                                              tolerance=TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as exc:
        raise ValidationFailed(f"Invalid Stripe signature: {exc.user_message or exc}", code="invalid_signature",
                               fields={"Stripe-Signature": [str(exc.user_message or exc)]}) from None
    # The SDK only refuses old timestamps. One far in the future would keep a captured request replayable
    # until then (and Stripe never sends one): the tolerance holds both ways.
    signed_at = _signed_at(signature or "")
    if signed_at is None or signed_at > time.time() + TOLERANCE_SECONDS:
        message = "Timestamp is in the future (beyond the 300 s tolerance)."
        raise ValidationFailed(f"Invalid Stripe signature: {message}", code="invalid_signature",
                               fields={"Stripe-Signature": [message]})
    try:
        event = json.loads(text)
        event_id, event_type = str(event["id"]), str(event["type"])
    except (ValueError, KeyError, TypeError):
        raise ValidationFailed("The body is not a Stripe event.", code="invalid_event") from None
    try:
        with transaction.atomic():
            row, _ = StripeEvent.objects.get_or_create(
                event_id=event_id, defaults={"type": event_type, "account": event.get("account") or "",
                                             "payload": text})
    except IntegrityError:
        row = StripeEvent.objects.get(event_id=event_id)
    return stripe_event_process(event_id=row.event_id)


def stripe_event_process(*, event_id: str) -> StripeEvent:
    """Processes a stored event once: under the event's row lock, an event already processed (or ignored)
    is left alone. Used by the webhook endpoint and by the admin's "replay" action for failed events."""
    try:
        with transaction.atomic():
            row = StripeEvent.objects.select_for_update().get(event_id=event_id)
            if row.status in (StripeEvent.Status.PROCESSED, StripeEvent.Status.IGNORED):
                return row
            handled = _handle(json.loads(row.payload))
            row.status = StripeEvent.Status.PROCESSED if handled else StripeEvent.Status.IGNORED
            row.error = ""
            row.attempts += 1
            row.processed_at = timezone.now()
            row.save(update_fields=["status", "error", "attempts", "processed_at"])
            return row
    except Exception as exc:
        logger.exception("Stripe event %s failed", event_id)
        StripeEvent.objects.filter(event_id=event_id).update(
            status=StripeEvent.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:5000], attempts=F("attempts") + 1)
        raise EventProcessingFailed(f"Event {event_id} could not be processed; it is stored and can be "
                                    "replayed.") from exc
