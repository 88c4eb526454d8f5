"""Celery jobs of the payments app: take ids, call services, own their retries. Delivery is at least
once (acks_late, reject_on_worker_lost): every job is safe to run twice, or concurrently."""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def payout_batch_dispatch(batch_id: int) -> int:
    """Enqueues one payout_line_send per open line of an executing batch. Running it twice only enqueues
    idempotent jobs twice."""
    from payments.services.payouts import payout_batch_open_line_ids, payout_batch_refresh_status

    line_ids = payout_batch_open_line_ids(batch_id=batch_id)
    if not line_ids:
        payout_batch_refresh_status(batch_id=batch_id)
    for line_id in line_ids:
        payout_line_send.delay(line_id)
    return len(line_ids)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def payout_line_send(self, line_id: int) -> str:
    """One Stripe transfer for one line, exactly once (payments.services.payout_lines)."""
    from payments.services.payout_lines import payout_line_send as send

    outcome = send(line_id=line_id)
    if outcome.status == "retry":
        logger.info("payout line %s: %s, retrying in %.1fs", line_id, outcome.detail, outcome.countdown)
        raise self.retry(countdown=outcome.countdown)
    return outcome.status


@shared_task(acks_late=True, reject_on_worker_lost=True)
def payout_lines_resume(older_than_seconds: int = 300) -> int:
    """Beat: re-enqueues lines of executing batches that have been open for a while (a job lost beyond
    the broker's redelivery, a long outage). Idempotent like the line jobs it enqueues."""
    from payments.models import PayoutBatch, PayoutLine
    from payments.services.payouts import payout_batch_refresh_status

    for batch_id in PayoutBatch.objects.filter(status=PayoutBatch.Status.EXECUTING).values_list("pk", flat=True):
        payout_batch_refresh_status(batch_id=batch_id)  # a process may have died between a commit and this
    stale = timezone.now() - timedelta(seconds=older_than_seconds)
    line_ids = list(PayoutLine.objects.filter(
        batch__status=PayoutBatch.Status.EXECUTING, status__in=[PayoutLine.Status.RESERVED, PayoutLine.Status.SENDING],
        updated_at__lt=stale).values_list("pk", flat=True)[:10000])
    for line_id in line_ids:
        payout_line_send.delay(line_id)
    return len(line_ids)
