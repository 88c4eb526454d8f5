"""Celery jobs of quality/: each takes ids (or nothing), calls one service, and is safe to run twice."""

import logging

from celery import shared_task
from django.db import transaction

from quality import services
from quality.selectors import task_consensus_get
from tasks.models import Task
from tasks.services.completion import task_consensus_ready

logger = logging.getLogger(__name__)

__all__ = ["task_consensus_compute", "recompute_quality", "project_quality_recompute"]


@shared_task(name="quality.jobs.task_consensus_compute", acks_late=True)
def task_consensus_compute(task_id: int) -> dict | None:
    """Consensus of a task that just completed (recorded in the outbox by quality's receiver of the
    task_completed hook, quality.apps), and the project's first figures if it has none yet; then hands the
    consensus down to tasks (task_consensus_ready), which records the client's task.completed webhook. It
    hands it down also when the computation fails (consensus null, the error raised after), so the client
    always hears of its task. Safe to run twice: the consensus is an upsert, the webhook recorded once.

    Every submit records this job, gold or real, completing or not (tasks.services.queue_leases, so that a
    completion leaves no work behind that a gold submit does not): for a task that is not a completed real
    task (gold, still open, deleted) it reads one row and returns None."""
    state = Task.objects.filter(pk=task_id).values_list("is_gold", "status").first()
    if state is None or state[0] or state[1] != Task.Status.COMPLETE:
        return None
    consensus = None
    try:
        result = services.task_consensus_compute(task_id=task_id)
        services.review_scores_apply(review_task_id=task_id)  # a review task: score the answers it ranks
        project_id = Task.objects.filter(pk=task_id).values_list("project_id", flat=True).first()
        if project_id is not None:
            services.project_first_figures(project_id=project_id)
        consensus = task_consensus_get(task_ids=[task_id]).get(task_id)
    finally:
        task_consensus_ready(task_id=task_id, consensus=consensus)
    return result


@shared_task(name="quality.jobs.project_quality_recompute", acks_late=True)
def project_quality_recompute(project_id: int) -> bool:
    """Recompute one project's agreement, consensus and standings, and apply the rules."""
    return services.project_quality_recompute(project_id=project_id)


@shared_task(name="quality.jobs.recompute_quality")
def recompute_quality() -> list[int]:
    """Beat: enqueue a recompute for every project whose judgments changed since its last run."""
    changed = services.projects_changed()
    for project_id in changed:
        transaction.on_commit(lambda pid=project_id: project_quality_recompute.delay(pid))
    if changed:
        logger.info("quality recompute enqueued for projects %s", changed)
    return changed
