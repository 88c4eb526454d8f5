"""The beat job's work: per project, recompute consensus, agreement and worker standings, then run the rules.

Incremental: a project is run only when it has a judgment above its watermark or a requeue marked it
(projects_changed, project_refit_needed). A beat run is amortised (quality.services.incremental): between full
refits it scores only the tasks new judgments touched; a full refit comes past QUALITY_REFIT_FRACTION of
growth and always at completion. A run holds the project's ProjectQualityState row lock (SKIP LOCKED: a
concurrent run of the same project skips it), and writes by upsert, so running it twice leaves the same state."""

import logging
import math

import numpy as np
from django.db import connection, transaction
from django.db.models import F, Max, OuterRef, Q, Subquery
from django.utils import timezone

from marketplace.outbox import outbox_enqueue
from quality.gold import worker_gold_shares
from quality.metrics import wilson_interval
from quality.models import Flag, ProjectAgreement, ProjectQualityState, TaskConsensus, WorkerStanding
from quality.scoring import score_project
from quality.services.flags import flag_raise, standing_status_refresh
from quality.services.incremental import incremental_possible, incremental_run, new_rows
from quality.services.loading import decode, project_data_load, project_rules
from tasks.models import Judgment, Project

logger = logging.getLogger(__name__)


def _none_if_nan(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def projects_changed() -> list[int]:
    """Projects with a judgment above their last quality run's watermark (or never run and with judgments).

    One statement whose cost follows the number of projects, not of judgments: per project, its highest
    judgment id is the last entry of the (project, id) index (a backward index scan, LIMIT 1). Status changes
    without a new judgment (a requeue) mark the project with project_refit_needed (the requeue path, rare:
    the hot submit path writes nothing here), which this reads from the project's state row."""
    if connection.vendor == "postgresql":
        # The row comparison can only be served by the (project, id) index, in its order: the planner
        # cannot walk the primary key backwards filtering on project instead (which it picks on small or
        # skewed tables, and which reads every newer judgment of other projects for a dormant one).
        with connection.cursor() as cursor:
            cursor.execute(_CHANGED_SQL)
            return [row[0] for row in cursor.fetchall()]
    newest = Judgment.objects.filter(project=OuterRef("pk")).order_by("-id").values("id")[:1]
    return sorted(Project.objects.order_by().annotate(max_id=Subquery(newest))
                  .filter(max_id__isnull=False)
                  .filter(Q(quality_state__isnull=True) | Q(quality_state__last_run_at__isnull=True)
                          | Q(max_id__gt=F("quality_state__watermark_judgment_id")))
                  .values_list("pk", flat=True))


_CHANGED_SQL = """
SELECT p.id FROM tasks_project p
LEFT JOIN quality_projectqualitystate s ON s.project_id = p.id
CROSS JOIN LATERAL (SELECT j.project_id, j.id FROM tasks_judgment j
                    WHERE (j.project_id, j.id) < (p.id + 1, 0)
                    ORDER BY j.project_id DESC, j.id DESC LIMIT 1) newest
WHERE newest.project_id = p.id
  AND (s.id IS NULL OR s.last_run_at IS NULL OR newest.id > s.watermark_judgment_id)
ORDER BY p.id
"""


def project_refit_needed(*, project_id: int) -> None:
    """Judgments of the project changed status (a requeue): its next run refits in full (last_run_at empty
    marks it; projects_changed finds it without counting judgments)."""
    ProjectQualityState.objects.filter(project_id=project_id).update(last_run_at=None)


def _not_requeued(state) -> bool:
    return ProjectQualityState.objects.filter(pk=state.pk, last_run_at__isnull=False).exists()


def _model_json(model: dict | None, worker_ids: list[int], score=None, n_judgments: int = 0,
                max_id: int = 0) -> dict | None:
    """The fitted model, and what the amortised runs need of the fit: its size and watermark (the refit
    fraction counts from there) and the pool's leave-one-out median (the agreement rule's bar)."""
    if model is None:
        return None
    confusions = model["confusions"]
    return {"classes": model["classes"], "priors": model["priors"],
            "confusions": {str(w): confusions[i].tolist() for i, w in enumerate(worker_ids)},
            "pooled": confusions.mean(axis=0).tolist() if len(worker_ids) else None,
            "loo_median": score.pool["loo_median"] if score is not None else None,
            "fit": {"n_judgments": n_judgments, "watermark": max_id}}


def project_quality_recompute(*, project_id: int, force: bool = False, wait: bool = False) -> bool:
    """Recompute one project's quality figures and apply the rules. False when skipped (unchanged, or
    another run holds the project). Safe to run twice: upserts, and flags are unique while open.

    wait: block on a run in progress instead of skipping, then run if the judgments changed since it (the
    completion path, which must read figures that include every judgment)."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return False
    ProjectQualityState.objects.get_or_create(project=project)
    with transaction.atomic():
        state = ProjectQualityState.objects.select_for_update(skip_locked=not wait).filter(project=project).first()
        if state is None:
            return False
        approved = Judgment.objects.filter(project=project, status=Judgment.Status.APPROVED)
        rules = project_rules(project)
        if not force and not wait and state.last_run_at:
            # Amortised (quality.services.incremental): only rows above the watermark are read (a range of
            # the (project, id) index); no count of the project's judgments. A requeue since the last run
            # emptied last_run_at (project_refit_needed), so the approved count is the last one plus the new.
            rows = new_rows(project, state.watermark_judgment_id)
            if not rows:
                return False
            n_now = state.n_judgments_seen + sum(1 for r in rows if r[3] == Judgment.Status.APPROVED)
            max_now = rows[-1][0]
            now = timezone.now()
            changed = incremental_run(project, state, rules, rows, now) if incremental_possible(state, n_now) else None
            if changed is not None and _not_requeued(state):  # else a flag of this run requeued: refit below
                if changed:  # pay follows evidence, as after a full run (below)
                    outbox_enqueue("payments.jobs.earnings_clearance_review", sorted(changed))
                state.watermark_judgment_id = max_now
                state.n_judgments_seen = n_now
                state.last_run_at = now
                state.save(update_fields=["watermark_judgment_id", "n_judgments_seen", "last_run_at"])
                return True
        n_now = approved.count()
        max_now = Judgment.objects.filter(project=project).aggregate(m=Max("id"))["m"] or 0
        if not force and state.last_run_at and max_now <= state.watermark_judgment_id and n_now == state.n_judgments_seen:
            return False
        # A flag may requeue judgments (they leave the approved set): score again without them, so the
        # stored figures are those of the judgments that count, and a second run finds nothing to change.
        for _ in range(3):
            loaded = project_data_load(project=project)
            score = score_project(loaded.data, rules)
            now = timezone.now()
            _store_consensus(project, loaded, score, now)
            ProjectAgreement.objects.update_or_create(project=project, defaults={
                "alpha": _none_if_nan(score.alpha), "level": score.level,
                "fleiss_kappa": _none_if_nan(score.fleiss_kappa), "n_tasks": score.n_tasks,
                "n_judgments": score.n_judgments, "spans": score.span_agreement, "computed_at": now})
            shares = (worker_gold_shares(score.workers, floor=project.gold_share, rules=rules,
                                         cfg=rules.get("adaptive_gold")) if project.gold_share > 0 else None)
            _store_standings(project, loaded, score, now, shares)
            n_after = approved.count()
            if n_after == n_now:
                break
            n_now = n_after
        # Pay follows evidence: the payments app clears (or keeps pending) these workers' credits by the
        # standings just stored, in a job of its own once this commits (its row locks stay out of this run).
        if loaded.worker_ids:
            outbox_enqueue("payments.jobs.earnings_clearance_review", sorted(int(w) for w in loaded.worker_ids))
        # The watermark covers what was loaded: a judgment committed after max_now was read but before the load
        # is in these figures, and the next amortised run must not add it a second time.
        max_now = max(max_now, loaded.max_judgment_id)
        state.watermark_judgment_id = max_now
        state.n_judgments_seen = n_now
        state.last_run_at = now
        state.model = _model_json(score.model, loaded.worker_ids, score, n_now, max_now)
        state.save()
    return True


def project_agreement_ensure(*, project_id: int) -> dict | None:
    """The project's agreement, computed now if its judgments changed since the last run (waiting for a run
    in progress). Called when a project completes, before project.completed is recorded, so the event and
    GET .../agreement/ carry figures over every judgment. Returns project_agreement_get's dict with
    computed_at as an ISO string (JSON-ready), or None when nothing can be computed. A failure is logged
    and leaves the last stored figures (the beat sweeps again); it never blocks the completion."""
    from quality.selectors import project_agreement_get

    try:
        with transaction.atomic():
            project_quality_recompute(project_id=project_id, wait=True)
    except Exception:  # noqa: BLE001 - the project still completes; the beat retries the figures
        logger.exception("quality recompute at completion of project %s failed", project_id)
    row = project_agreement_get(project_id=project_id)
    if row is not None and row.get("computed_at") is not None:
        row = {**row, "computed_at": row["computed_at"].isoformat()}
    return row


def project_first_figures(*, project_id: int) -> bool:
    """A task completed: compute the project's figures now if it has none yet, so a client does not wait for
    the beat to see its first agreement. Later runs are the beat's (a full run per task would cost the whole
    project per judgment) and the completion's. Skips when another run holds the project."""
    if ProjectAgreement.objects.filter(project_id=project_id).exists():
        return False
    return project_quality_recompute(project_id=project_id)


def _store_consensus(project, loaded, score, now) -> None:
    counts = np.bincount(loaded.data.items, minlength=loaded.data.n_items) if len(loaded.data.items) else \
        np.zeros(loaded.data.n_items, dtype=np.int64)
    # Tasks left without approved judgments (all requeued) lose their stale consensus.
    existing = set(TaskConsensus.objects.filter(project=project).values_list("task_id", flat=True))
    emptied = [t for i, t in enumerate(loaded.task_ids) if counts[i] == 0 and t in existing]
    if emptied:
        TaskConsensus.objects.filter(project=project, task_id__in=emptied).delete()
    rows = []
    gold_items = loaded.data.gold
    for i, task_id in enumerate(loaded.task_ids):
        if counts[i] == 0 or score.method == "none":
            continue
        method = "gold" if i in gold_items else score.method
        confidence = 1.0 if i in gold_items else _none_if_nan(score.confidence[i])
        spans = score.span_answers[i] if score.span_answers is not None else None
        rows.append(TaskConsensus(task_id=task_id, project=project, method=method, n_judgments=int(counts[i]),
                                  answer=decode(project.task_type, score.answers[i], loaded.data.classes, spans),
                                  confidence=None if confidence is None else min(1.0, max(0.0, confidence)),
                                  computed_at=now))
    TaskConsensus.objects.bulk_create(rows, batch_size=1000, update_conflicts=True, unique_fields=["task"],
                                      update_fields=["answer", "confidence", "method", "n_judgments", "computed_at"])


def _standing_fields(stats: dict, reasons: list, pool_median, now) -> dict:
    return {
        "n_judgments": stats["n_judgments"], "gold_n": stats["gold_n"], "gold_correct": stats["gold_correct"],
        "gold_accuracy": stats["gold_accuracy"], "gold_lower": stats["gold_lower"], "gold_upper": stats["gold_upper"],
        "loo_agreement": stats["loo_agreement"], "loo_n": stats["loo_n"], "pool_loo_agreement": pool_median,
        "median_seconds": stats["median_seconds"], "top_answer_share": stats["top_answer_share"],
        "random_log_lr": _none_if_nan(stats.get("random_log_lr")), "reasons": reasons, "computed_at": now,
    }


def _with_ids(findings: list[dict], loaded) -> list[dict]:
    """Findings with the scoring's worker and task indexes replaced by ids, so ops read who and which tasks
    (a collusion finding names the group's workers and the tasks they shared)."""
    out = []
    for f in findings:
        if f["rule"] != "collusion":
            out.append(f)
            continue
        e = dict(f["evidence"])
        e["group_workers"] = [int(loaded.worker_ids[w]) for w in e.get("group_workers", [])]
        e["shared_tasks"] = [int(loaded.task_ids[i]) for i in e.get("shared_tasks", [])]
        e["pairs"] = [{**p, "partner": int(loaded.worker_ids[p["partner"]])} for p in e.get("pairs", [])]
        out.append({**f, "evidence": e})
    return out


def _reasons(findings: list[dict]) -> list[dict]:
    return [{"rule": f["rule"], "level": f["level"], "message": f["message"]} for f in findings]


def _store_standings(project, loaded, score, now, shares=None) -> None:
    for w, worker_id in enumerate(loaded.worker_ids):
        stats = score.workers[w]
        findings = _with_ids(stats["findings"], loaded)
        flag_raise(worker_id=worker_id, project_id=project.pk, findings=findings, n_judgments=stats["n_judgments"])
        reasons = _reasons(findings)
        # An open flag stays a reason until ops resolve it, even when its evidence has been requeued away.
        for flag in Flag.objects.filter(worker_id=worker_id, project=project, status=Flag.Status.OPEN):
            for f in flag.evidence.get("findings", []):
                if not any(r["rule"] == f["rule"] and r["level"] in ("review", "suspend") for r in reasons):
                    reasons.append({"rule": f["rule"], "level": flag.severity, "message": f.get("message", "")})
        WorkerStanding.objects.update_or_create(worker_id=worker_id, project=project, defaults={
            **_standing_fields(stats, reasons, score.pool["loo_median"], now),
            "gold_share": None if shares is None else float(shares[w])})
    # Workers whose judgments were all requeued have no rows left here: their standing keeps its figures.
    for worker_id in loaded.worker_ids:
        worker_global_standing_refresh(worker_id=worker_id, now=now)


def _worker_median_seconds(worker_id: int) -> float | None:
    """The median of the worker's approved, timed judgments across projects: the middle one or two values
    read in the database (a count, then ORDER BY ... OFFSET), averaged here as group_median does, so the
    figure is the same without bringing every judgment of the worker's history into Python."""
    timed = Judgment.objects.filter(worker_id=worker_id, status=Judgment.Status.APPROVED, seconds_spent__isnull=False)
    if connection.vendor == "postgresql":  # a float column there can hold NaN (SQLite stores it as NULL)
        timed = timed.exclude(seconds_spent=float("nan"))
    n = timed.count()
    if not n:
        return None
    lo, hi = (n - 1) // 2, n // 2
    middle = list(timed.order_by("seconds_spent").values_list("seconds_spent", flat=True)[lo:hi + 1])
    return (middle[0] + middle[-1]) / 2.0


def worker_global_standing_refresh(*, worker_id: int, now=None, median: bool = True) -> None:
    """The worker's standing across projects, from their per-project standings and all their judgments.
    median=False (the amortised runs) keeps the stored median seconds instead of reading the worker's
    timed judgments across every project."""
    now = now or timezone.now()
    per_project = list(WorkerStanding.objects.filter(worker_id=worker_id, project__isnull=False))
    n = sum(s.n_judgments for s in per_project)
    gold_n = sum(s.gold_n for s in per_project)
    gold_ok = sum(s.gold_correct for s in per_project)
    lower, upper = wilson_interval(gold_ok, gold_n) if gold_n else (None, None)
    loo_n = sum(s.loo_n for s in per_project if s.loo_agreement is not None)
    loo = (sum(s.loo_agreement * s.loo_n for s in per_project if s.loo_agreement is not None) / loo_n) if loo_n else None
    if median:
        median = _worker_median_seconds(worker_id)
    else:
        median = (WorkerStanding.objects.filter(worker_id=worker_id, project=None)
                  .values_list("median_seconds", flat=True).first())
    reasons = [{**r, "project_id": s.project_id} for s in per_project for r in (s.reasons or [])]
    WorkerStanding.objects.update_or_create(worker_id=worker_id, project=None, defaults={
        "n_judgments": n, "gold_n": gold_n, "gold_correct": gold_ok,
        "gold_accuracy": gold_ok / gold_n if gold_n else None, "gold_lower": lower, "gold_upper": upper,
        "loo_agreement": loo, "loo_n": loo_n, "median_seconds": _none_if_nan(median), "reasons": reasons,
        "computed_at": now})
    standing_status_refresh(worker_id=worker_id)


def open_flag_count() -> int:
    return Flag.objects.filter(status=Flag.Status.OPEN).count()
