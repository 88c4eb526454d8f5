"""Client-facing jobs (webhooks to clients). Each takes ids and is safe to run twice."""

from celery import shared_task

from marketplace import events
from marketplace.observability.instruments import WEBHOOK_DELIVERIES
from tasks.services.completion import task_completed_notify
from tasks.services.webhooks import webhook_attempt, webhook_deliveries_due, webhook_delivery_wait_seconds

__all__ = ["webhook_task_completed", "webhook_deliver", "webhooks_sweep"]


@shared_task(name="tasks.jobs.clients.webhook_task_completed")
def webhook_task_completed(task_id: int, waited: int = 0) -> None:
    """Outbox rows written before the consensus came back by event (quality.jobs.task_consensus_compute
    now records task.completed itself, tasks.services.completion): record the event(s) with the consensus
    as it stands, without waiting. Kept so such rows still deliver after an upgrade; nothing enqueues it."""
    consensus = events.task_consensus.ask(task_ids=[task_id]).get(task_id)
    task_completed_notify(task_id=task_id, consensus=consensus)  # its delivery jobs go out through the outbox


@shared_task(bind=True, name="tasks.jobs.clients.webhook_deliver", max_retries=None)
def webhook_deliver(self, delivery_id: int) -> str:
    """One attempt; on failure schedule the next with exponential backoff (attempts are bounded by
    WEBHOOKS_MAX_ATTEMPTS in the service, which counts them in the database, not in Celery)."""
    outcome, retry_in = webhook_attempt(delivery_id=delivery_id)
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    if outcome == "retry":
        raise self.retry(countdown=retry_in)
    if outcome == "skipped":
        # Still pending but not attemptable now: another job holds the attempt, or an attempt's job died
        # after claiming it (its lease must run out). Come back then, so the event is not left to the sweeper.
        wait = webhook_delivery_wait_seconds(delivery_id=delivery_id)
        if wait is not None:
            raise self.retry(countdown=wait)
    return outcome


@shared_task(name="tasks.jobs.clients.webhooks_sweep")
def webhooks_sweep() -> int:
    """Beat: re-enqueue pending deliveries whose retry job was lost (broker flush, worker crash)."""
    ids = webhook_deliveries_due()
    for delivery_id in ids:
        webhook_deliver.delay(delivery_id)
    return len(ids)
