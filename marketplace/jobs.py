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
