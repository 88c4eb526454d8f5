"""Quality's levers on the queue: discard a rater's judgments (the tasks regain their overlap) and raise a
task's overlap when its consensus is weak (dynamic overlap)."""

from __future__ import annotations

import logging
from collections import Counter

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tasks.models import Assignment, Judgment, Task

logger = logging.getLogger(__name__)


def judgments_requeue_for_worker(*, worker_id: int, project_id: int | None = None, reason: str) -> list[int]:
    """Marks the worker's APPROVED judgments on real (non-gold) tasks REJECTED (in one project, or all),
    their assignments REQUEUED, and gives each task its slot back (n_active and n_submitted - 1); a task
    that had completed is reopened when it falls below its overlap, so the queue serves it to someone
    else (never to this worker again: the (task, worker) row remains), and its project, if it had completed,
    becomes active again. Returns the judgment ids changed.

    Gold judgments are kept: they are the evidence about the worker. Idempotent (a second call finds
    nothing approved and returns []). Locks judgments' assignments, then tasks in id order."""
    with transaction.atomic():
        judgments = Judgment.objects.filter(worker_id=worker_id, status=Judgment.Status.APPROVED, is_gold=False)
        if project_id is not None:
            judgments = judgments.filter(project_id=project_id)
        rows = list(judgments.select_for_update().order_by("id").values_list("id", "assignment_id", "task_id"))
        if not rows:
            return []
        judgment_ids = [j for j, _, _ in rows]
        list(Assignment.objects.select_for_update().filter(pk__in=[a for _, a, _ in rows]).order_by("id")
             .values_list("id"))
        Judgment.objects.filter(pk__in=judgment_ids).update(status=Judgment.Status.REJECTED)
        Assignment.objects.filter(pk__in=[a for _, a, _ in rows]).update(
            status=Assignment.Status.REQUEUED, finished_at=timezone.now())
        per_task = Counter(t for _, _, t in rows)
        for task_id in sorted(per_task):
            n = per_task[task_id]
            Task.objects.filter(pk=task_id).update(n_active=F("n_active") - n, n_submitted=F("n_submitted") - n)
        Task.objects.filter(pk__in=list(per_task), status=Task.Status.COMPLETE, n_submitted__lt=F("overlap")).update(
            status=Task.Status.OPEN, completed_at=None)
        _reopen_projects(Task.objects.filter(pk__in=list(per_task), status=Task.Status.OPEN)
                         .values_list("project_id", flat=True).distinct())
    logger.info("requeued %d judgments of worker %s (%s)", len(judgment_ids), worker_id, reason)
    return judgment_ids


def project_overlap_extend(*, task_id: int, max_overlap: int) -> bool:
    """Asks for one more judgment on a real task: overlap + 1 unless that would pass ``max_overlap``,
    reopening the task (and its project) if it had completed. True when the overlap grew. Serialised by
    the task's row lock, so two concurrent calls never pass ``max_overlap``. Unknown and gold tasks: False."""
    with transaction.atomic():
        task = Task.objects.select_for_update(no_key=True).filter(pk=task_id, is_gold=False).first()
        if task is None or task.overlap >= max_overlap:
            return False
        Task.objects.filter(pk=task_id).update(overlap=F("overlap") + 1, status=Task.Status.OPEN, completed_at=None)
        _reopen_projects([task.project_id])
    return True


def _reopen_projects(project_ids) -> None:
    """A completed project whose task reopened is active again, or the queue would never serve the task."""
    from tasks.services.projects import project_reopen_if_completed

    for project_id in sorted(set(project_ids)):
        project_reopen_if_completed(project_id=project_id)
