"""Reads of quality/ that other apps call (docs/internal-interfaces.md). None means "not computed yet"."""

from collections.abc import Iterable

from django.db.models import QuerySet

from quality.models import Flag, ProjectAgreement, TaskConsensus, WorkerStanding

# What a worker is shown of their own standing. No gold figures: exact gold counts (or an accuracy that moves
# with each gold answer) would let a worker who submitted one task between two recomputes tell that it was a
# gold task and whether their answer was right, i.e. learn a gold answer and pass it on (DESIGN.md invariant 5).
# The gold rule still explains itself in `reasons` when it applies; ops see the figures (admin, flags).
_STANDING_FIELDS = ("status", "reasons", "n_judgments", "loo_agreement", "loo_n", "pool_loo_agreement",
                    "median_seconds", "top_answer_share", "computed_at")


def _standing_dict(standing: WorkerStanding) -> dict:
    return {name: getattr(standing, name) for name in _STANDING_FIELDS}


def worker_standing_get(*, user) -> dict | None:
    """The worker's quality standing across projects, with reasons and one entry per project measured, as
    the worker may see it (GET /api/v1/me/): no gold figures (see _STANDING_FIELDS).

    Shape: {status, reasons: [{rule, level, message, ...}], n_judgments, loo_agreement, loo_n,
    pool_loo_agreement, median_seconds, top_answer_share, computed_at, projects: [{project_id, status,
    reasons, ...}]}. None until the quality job has measured the worker at least once.
    """
    standings = list(WorkerStanding.objects.filter(worker=user).order_by("project_id"))
    overall = next((s for s in standings if s.project_id is None), None)
    if overall is None:
        return None
    result = _standing_dict(overall)
    result["projects"] = [{"project_id": s.project_id, **_standing_dict(s)} for s in standings if s.project_id]
    return result


_OPS_STANDING_FIELDS = ("status", "reasons", "n_judgments", "gold_n", "gold_correct", "gold_accuracy", "gold_lower",
                        "gold_upper", "loo_agreement", "loo_n", "pool_loo_agreement", "median_seconds",
                        "top_answer_share", "computed_at")


def worker_standing_for_ops(*, worker_id: int) -> dict | None:
    """Everything the quality job measured about one worker, gold figures included (ops only: GET
    /api/v1/workers/{id}/standing/). Same shape as worker_standing_get plus gold_n, gold_correct,
    gold_accuracy, gold_lower, gold_upper. None until the worker has been measured."""
    standings = list(WorkerStanding.objects.filter(worker_id=worker_id).order_by("project_id"))
    overall = next((s for s in standings if s.project_id is None), None)
    if overall is None:
        return None
    result = {name: getattr(overall, name) for name in _OPS_STANDING_FIELDS}
    result["projects"] = [{"project_id": s.project_id, **{name: getattr(s, name) for name in _OPS_STANDING_FIELDS}}
                          for s in standings if s.project_id]
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
