"""The amortised quality run: between full refits, only the tasks touched by new judgments are scored.

A full refit (quality.services.recompute) fits Dawid-Skene over the whole project and stores the model
(priors, per-worker confusions, the pooled matrix) with the size of the project at that fit. While the
approved judgments since that fit are fewer than settings.QUALITY_REFIT_FRACTION of it, a run here:
- loads the approved judgments of the tasks that new judgments (id above the last run's watermark) touched,
  and nothing else of the project;
- takes their consensus by one E-step with the stored model (a worker unseen by the fit gets the pooled
  matrix, as task_consensus_compute does);
- adds the new judgments' counts to the standings of the workers who made them (judgments, gold, leave-one-out
  agreement against the others of the same task) and runs the gold and agreement rules on the merged figures.

Figures that are not sums (Krippendorff's alpha, Fleiss' kappa, the median seconds, the top-answer share,
the random-answering likelihood ratio, the adaptive gold share) keep their values of the last full refit,
as do the findings of the rules built on them. A full refit comes at most once per fraction of growth, so
the cost per new judgment stays bounded whatever the project's history; a project's completion always
refits in full, so its final figures are exactly those of a full run.
"""

import numpy as np
from django.conf import settings

from quality.consensus import dawid_skene_posterior, loo_agreement_scores
from quality.metrics import wilson_interval
from quality.models import Flag, TaskConsensus, WorkerStanding
from quality.rules import rule_agreement, rule_gold
from quality.scoring import CATEGORICAL
from quality.services.flags import flag_raise
from quality.services.loading import decode, project_data_load
from tasks.models import Judgment

# Rules whose evidence is a sum over judgments: re-run on merged figures. The others keep their findings.
INCREMENTAL_RULES = ("gold", "agreement")


def refit_fraction() -> float:
    return float(getattr(settings, "QUALITY_REFIT_FRACTION", 0.25))


def new_rows(project, watermark: int) -> list[tuple]:
    """(id, task_id, worker_id, status) of the project's judgments above the watermark: a range read on the
    (project, id) index, bounded by the new rows."""
    return list(Judgment.objects.filter(project=project, id__gt=watermark).order_by("id")
                .values_list("id", "task_id", "worker_id", "status"))


def incremental_possible(state, n_now: int) -> bool:
    """A stored model of a full fit, and the project grew by less than the refit fraction since that fit."""
    model = state.model or {}
    fit = model.get("fit")
    if not fit or not model.get("pooled"):
        return False
    since_fit = n_now - int(fit["n_judgments"])
    return 0 <= since_fit < refit_fraction() * int(fit["n_judgments"])


def incremental_run(project, state, rules: dict, rows: list[tuple], now) -> list[int] | None:
    """Score the tasks the new rows touched with the stored model; the ids of the workers whose standings
    changed. None when the loaded data does not fit the model (another kind or other classes): the caller
    refits in full."""
    new_ids = {r[0] for r in rows if r[3] == Judgment.Status.APPROVED}
    task_ids = sorted({r[1] for r in rows})
    loaded = project_data_load(project=project, task_ids=task_ids)
    data = loaded.data
    model = state.model
    if data.kind != CATEGORICAL or model.get("classes") != data.classes:
        return None
    k = len(data.classes)
    pooled = model["pooled"]
    confusions = np.array([model["confusions"].get(str(w), pooled) for w in loaded.worker_ids],
                          dtype=np.float64).reshape(len(loaded.worker_ids), k, k)
    priors = np.array(model["priors"], dtype=np.float64)
    if len(data.items):
        answers, confidence, _ = dawid_skene_posterior(data.items, data.workers, data.labels, n_items=data.n_items,
                                                       confusions=confusions, priors=priors)
        scores, n_others = loo_agreement_scores(data.items, data.workers, data.labels, confusions=confusions,
                                                priors=priors, n_items=data.n_items)
    else:
        answers, confidence = np.full(data.n_items, -1), np.full(data.n_items, np.nan)
        scores, n_others = np.zeros(0), np.zeros(0, dtype=np.int64)
    _store_consensus(project, loaded, answers, confidence, now)
    is_new = np.array([int(j) in new_ids for j in loaded.judgment_ids], dtype=bool)
    return _merge_standings(project, loaded, rules, is_new, scores, n_others, now, model.get("loo_median"))


def _store_consensus(project, loaded, answers, confidence, now) -> None:
    data = loaded.data
    counts = np.bincount(data.items, minlength=data.n_items) if len(data.items) else np.zeros(data.n_items, int)
    emptied = [t for i, t in enumerate(loaded.task_ids) if counts[i] == 0]
    if emptied:  # tasks whose new rows were not approved and that have no approved judgment left
        TaskConsensus.objects.filter(project=project, task_id__in=emptied).delete()
    out = []
    for i, task_id in enumerate(loaded.task_ids):
        if counts[i] == 0:
            continue
        gold = i in data.gold
        label = data.gold[i] if gold else (int(answers[i]) if answers[i] >= 0 else None)
        conf = 1.0 if gold else (None if np.isnan(confidence[i]) else min(1.0, max(0.0, float(confidence[i]))))
        out.append(TaskConsensus(task_id=task_id, project=project, method="gold" if gold else "dawid_skene",
                                 n_judgments=int(counts[i]), answer=decode(project.task_type, label, data.classes),
                                 confidence=conf, computed_at=now))
    TaskConsensus.objects.bulk_create(out, batch_size=1000, update_conflicts=True, unique_fields=["task"],
                                      update_fields=["answer", "confidence", "method", "n_judgments", "computed_at"])


def _merge_standings(project, loaded, rules, is_new, scores, n_others, now, loo_median) -> list[int]:
    """Add the new judgments' sums to each of their workers' standing, and re-run the rules on sums."""
    from quality.services.recompute import worker_global_standing_refresh

    data = loaded.data
    n_w = data.n_workers
    workers = data.workers[is_new]
    gc = np.asarray(data.gold_correct, dtype=np.float64)[is_new]
    graded = ~np.isnan(gc)
    scored = (n_others >= 2)[is_new] if len(n_others) else np.zeros(0, dtype=bool)
    new_n = np.bincount(workers, minlength=n_w)
    gold_n = np.bincount(workers[graded], minlength=n_w)
    gold_ok = np.bincount(workers[graded], weights=gc[graded], minlength=n_w)
    loo_n = np.bincount(workers[scored], minlength=n_w)
    loo_sum = np.bincount(workers[scored], weights=scores[is_new][scored], minlength=n_w)
    touched = [w for w in range(n_w) if new_n[w]]
    existing = {s.worker_id: s for s in WorkerStanding.objects.filter(
        project=project, worker_id__in=[loaded.worker_ids[w] for w in touched])}
    for w in touched:
        worker_id = loaded.worker_ids[w]
        s = existing.get(worker_id) or WorkerStanding(worker_id=worker_id, project=project, reasons=[])
        prev_loo_n = s.loo_n or 0
        total_loo = prev_loo_n + int(loo_n[w])
        if total_loo:
            s.loo_agreement = ((s.loo_agreement or 0.0) * prev_loo_n + float(loo_sum[w])) / total_loo
        s.loo_n = total_loo
        s.n_judgments = (s.n_judgments or 0) + int(new_n[w])
        s.gold_n = (s.gold_n or 0) + int(gold_n[w])
        s.gold_correct = (s.gold_correct or 0) + int(round(gold_ok[w]))
        s.gold_accuracy = s.gold_correct / s.gold_n if s.gold_n else None
        if s.gold_n:
            lower, upper = wilson_interval(s.gold_correct, s.gold_n)
            s.gold_lower, s.gold_upper = float(lower), float(upper)
        stats = {"gold_n": s.gold_n, "gold_correct": s.gold_correct, "gold_upper": s.gold_upper,
                 "loo_n": s.loo_n, "loo_agreement": s.loo_agreement}
        s.pool_loo_agreement = loo_median  # the pool's median of the last full fit
        pool = {"loo_median": loo_median}
        findings = [f for f in (rule_gold(stats, rules["gold"]) if rules["gold"]["enabled"] else None,
                                rule_agreement(stats, pool, rules["agreement"]) if rules["agreement"]["enabled"]
                                else None) if f is not None]
        flag_raise(worker_id=worker_id, project_id=project.pk, findings=findings, n_judgments=s.n_judgments)
        kept = [r for r in (s.reasons or []) if r["rule"] not in INCREMENTAL_RULES]
        reasons = kept + [{"rule": f["rule"], "level": f["level"], "message": f["message"]} for f in findings]
        for flag in Flag.objects.filter(worker_id=worker_id, project=project, status=Flag.Status.OPEN):
            for f in flag.evidence.get("findings", []):
                if not any(r["rule"] == f["rule"] and r["level"] in ("review", "suspend") for r in reasons):
                    reasons.append({"rule": f["rule"], "level": flag.severity, "message": f.get("message", "")})
        s.reasons = reasons
        s.computed_at = now
        s.save()
        worker_global_standing_refresh(worker_id=worker_id, now=now, median=False)
    return [int(loaded.worker_ids[w]) for w in touched]
