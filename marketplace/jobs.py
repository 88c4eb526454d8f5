"""Platform jobs. Jobs take ids (or nothing), call services, and are safe to run twice."""

import logging

from celery import shared_task
from django.utils import timezone

from marketplace.models import Heartbeat

logger = logging.getLogger(__name__)


@shared_task(name="marketplace.jobs.heartbeat")
def heartbeat(name: str = "worker") -> str:
    """Proves a worker consumes the queue; GET /healthz reports its age."""
    now = timezone.now()
    Heartbeat.objects.update_or_create(name=name, defaults={"beat_at": now})
    logger.info("heartbeat %s", name)
    return now.isoformat()


@shared_task(name="marketplace.jobs.refresh_project_gauges")
def refresh_project_gauges() -> int:
    """Beat: recounts open and complete tasks per unfinished project for /metrics and the ops console, and
    rolls the judgments made since its last run into hourly buckets (marketplace/observability/gauges.py).
    Safe to run twice (a second run finds no new judgment); returns how many projects it holds."""
    from marketplace.observability.gauges import judgments_per_hour_refresh, project_task_counts_refresh

    judgments_per_hour_refresh()
    return len(project_task_counts_refresh()["projects"])


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
