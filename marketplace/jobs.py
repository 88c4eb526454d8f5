"""Platform jobs. Jobs take ids (or nothing), call services, and are safe to run twice."""

from celery import shared_task
from django.utils import timezone

from marketplace.models import Heartbeat


@shared_task(name="marketplace.jobs.heartbeat")
def heartbeat(name: str = "worker") -> str:
    """Proves a worker consumes the queue; GET /healthz reports its age."""
    now = timezone.now()
    Heartbeat.objects.update_or_create(name=name, defaults={"beat_at": now})
    return now.isoformat()


@shared_task(name="marketplace.jobs.outbox_relay")
def outbox_relay() -> int:
    """Beat backstop for the relay process: publishes what is pending (marketplace.outbox). Running beside
    the relay is safe: on PostgreSQL each row is published by whoever locks it first."""
    from marketplace.outbox import outbox_drain, outbox_prune

    n = outbox_drain()
    outbox_prune()
    return n


@shared_task(name="marketplace.jobs.idempotency_keys_prune")
def idempotency_keys_prune() -> int:
    """Forgets Idempotency-Key answers older than IDEMPOTENCY_KEEP_SECONDS (beat, hourly)."""
    from marketplace.idempotency import idempotency_keys_prune as prune

    return prune()
