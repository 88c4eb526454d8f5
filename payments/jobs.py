"""Celery jobs of the payments app: take ids, call services, own their retries. Delivery is at least
once (acks_late, reject_on_worker_lost): every job is safe to run twice, or concurrently."""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

logger = logging.getLogger(__name__)


# Lines sent per job by a batch's dispatch. One job per line cost more in Celery (enqueue, prefork hand-off,
# ack: several ms of CPU per line on 2 cores) than the line's own work; chunks keep several processes busy
# in parallel on a large batch while paying that overhead once per chunk (docs/benchmarks.md, payouts).
LINES_PER_JOB = 25


@shared_task(acks_late=True, reject_on_worker_lost=True)
def payout_batch_dispatch(batch_id: int) -> int:
    """Enqueues payout_lines_send jobs (LINES_PER_JOB lines each) for the open lines of an executing batch.
    Running it twice only enqueues idempotent jobs twice."""
    from payments.selectors import payout_batch_open_line_ids
    from payments.services.payouts import payout_batch_refresh_status

    line_ids = payout_batch_open_line_ids(batch_id=batch_id)
    if not line_ids:
        payout_batch_refresh_status(batch_id=batch_id)
    for start in range(0, len(line_ids), LINES_PER_JOB):
        payout_lines_send.delay(line_ids[start:start + LINES_PER_JOB])
    return len(line_ids)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def payout_lines_send(line_ids: list[int]) -> int:
    """payout_line_send for several lines, one after the other; returns how many were paid by this run.

    Each line keeps its own exactly-once guarantee (the service), so a chunk redelivered after a crash
    skips the lines already settled and reconciles the one that was in flight. A line to retry later gets
    its own payout_line_send job with its countdown; if a line raises (database gone, ...), it and the
    lines after it are handed to their own jobs too, after a pause, so one bad moment never strands a chunk."""
    from payments.services.payout_lines import payout_line_send as send

    paid = 0
    for i, line_id in enumerate(line_ids):
        try:
            outcome = send(line_id=line_id)
        except Exception:
            logger.exception("payout line %s failed in a chunk; handing it and %d more to their own jobs",
                             line_id, len(line_ids) - i - 1)
            for rest in line_ids[i:]:
                payout_line_send.apply_async((rest,), countdown=5)
            raise
        if outcome.status == "retry":
            logger.info("payout line %s: %s, retrying in %.1fs", line_id, outcome.detail, outcome.countdown)
            payout_line_send.apply_async((line_id,), countdown=outcome.countdown)
        paid += outcome.status == "paid"
    return paid


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
    from payments.selectors import payout_batches_executing_ids, payout_lines_stale_ids
    from payments.services.payouts import payout_batch_refresh_status

    for batch_id in payout_batches_executing_ids():
        payout_batch_refresh_status(batch_id=batch_id)  # a process may have died between a commit and this
    line_ids = payout_lines_stale_ids(updated_before=timezone.now() - timedelta(seconds=older_than_seconds))
    for line_id in line_ids:
        payout_line_send.delay(line_id)
    return len(line_ids)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def earnings_clearance_review(worker_ids: list[int]) -> int:
    """After a quality recompute (enqueued through the outbox with the project's workers): clears, holds or
    leaves pending each worker's credits by their evidence. Safe to run twice. Returns workers with money moved."""
    from payments.services.clearance import earnings_clearance_review as review

    return len(review(worker_ids=worker_ids))


@shared_task(acks_late=True, reject_on_worker_lost=True)
def earnings_clearance_due() -> int:
    """Beat: the clock fallback, over the workers holding pending money only (pages of worker ids)."""
    from payments.services.clearance import earnings_clearance_review as review
    from payments.services.clearance import workers_with_pending

    moved, after = 0, 0
    while True:
        page = workers_with_pending(after=after)
        if not page:
            return moved
        moved += len(review(worker_ids=page))
        after = page[-1]
