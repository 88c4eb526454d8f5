"""Peer review jobs (tasks.services.reviews)."""

from celery import shared_task

from tasks.services.reviews import task_review_create as _task_review_create

__all__ = ["task_review_create"]


@shared_task(name="tasks.jobs.reviews.task_review_create", acks_late=True)
def task_review_create(task_id: int) -> int | None:
    """Make the review task of a completed text task (recorded in the outbox by task_consensus_ready). Safe to
    run twice: the review is unique per source task."""
    review = _task_review_create(task_id=task_id)
    return review.review_task_id if review else None
