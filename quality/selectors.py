"""Reads of quality/ that other apps call (docs/internal-interfaces.md). None means "not computed yet"."""

from collections.abc import Iterable

from django.db.models import QuerySet

from quality.models import Flag, ProjectAgreement, TaskConsensus, WorkerStanding

_STANDING_FIELDS = ("status", "reasons", "n_judgments", "gold_n", "gold_correct", "gold_accuracy", "gold_lower",
                    "gold_upper", "loo_agreement", "loo_n", "pool_loo_agreement", "median_seconds",
                    "top_answer_share", "computed_at")


def _standing_dict(standing: WorkerStanding) -> dict:
    return {name: getattr(standing, name) for name in _STANDING_FIELDS}


def worker_standing_get(*, user) -> dict | None:
    """The worker's quality standing across projects, with reasons and one entry per project measured.

    Shape: {status, reasons: [{rule, message, ...}], n_judgments, gold_accuracy, gold_lower, gold_upper,
    loo_agreement, median_seconds, ..., computed_at, projects: [{project_id, status, reasons, ...}]}.
    None until the quality job has measured the worker at least once.
    """
    standings = list(WorkerStanding.objects.filter(worker=user).order_by("project_id"))
    overall = next((s for s in standings if s.project_id is None), None)
    if overall is None:
        return None
    result = _standing_dict(overall)
    result["projects"] = [{"project_id": s.project_id, **_standing_dict(s)} for s in standings if s.project_id]
    return result


def task_consensus_get(*, task_ids: Iterable[int]) -> dict[int, dict]:
    """{task_id: {"answer", "confidence", "method"}} for the tasks that have a consensus (others are absent)."""
    ids = list(task_ids)
    if not ids:
        return {}
    rows = TaskConsensus.objects.filter(task_id__in=ids).values_list("task_id", "answer", "confidence", "method")
    return {task_id: {"answer": answer, "confidence": confidence, "method": method}
            for task_id, answer, confidence, method in rows}


def project_agreement_get(*, project_id: int) -> dict | None:
    """{alpha, level, fleiss_kappa, n_tasks, n_judgments, computed_at} or None before the first run."""
    row = (ProjectAgreement.objects.filter(project_id=project_id)
           .values("alpha", "level", "fleiss_kappa", "n_tasks", "n_judgments", "computed_at").first())
    return row


def flag_list(*, status: str | None = None) -> QuerySet[Flag]:
    """Flags for ops, newest first, optionally of one status."""
    qs = Flag.objects.select_related("worker", "project", "resolved_by")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def worker_standings_list(*, project_id: int | None = None) -> QuerySet[WorkerStanding]:
    qs = WorkerStanding.objects.select_related("worker")
    return qs.filter(project_id=project_id) if project_id else qs.filter(project__isnull=True)
