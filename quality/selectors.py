"""Reads of quality/ that other apps call (docs/internal-interfaces.md). None means "not computed yet"."""

from collections.abc import Iterable

from django.db.models import Count, QuerySet

from quality.models import Flag, ProjectAgreement, TaskConsensus, WorkerStanding

# What a worker is shown of their own standing: only figures made of their own work (how many judgments,
# their speed, how often they give their most frequent answer). Gold figures and agreement with other raters
# change with single judgments: a worker who submitted one task between two recomputes could tell that it
# was a gold task and whether they got it right, or what the other raters answered (docs/design.md invariant 5).
_STANDING_FIELDS = ("n_judgments", "median_seconds", "top_answer_share", "computed_at")
# Rules that read gold answers or other raters' answers: the worker sees them only once they are acted on
# (review or suspend: a flag, which ops decide), in fixed words, never their early "watch" or their figures.
_ANSWER_RULE_MESSAGES = {
    "gold": "Your answers on quality-control tasks fall below the project's bar; ops will review your work.",
    "agreement": "Your answers agree with the other raters' far less often than is usual in this project; "
                 "ops will review your work.",
    "random": "Your answers match the other raters' no better than random answers would; ops will review "
              "your work.",
    "change": "Your recent answers match the other raters' no better than random answers would; ops will review "
              "your work.",
    "gold_record": "Your answers on quality-control tasks fall below the project's bar; ops will review your work.",
    "copying": "Your answers follow the other raters' far more closely than the tasks explain; ops will review "
               "your work.",
    "collusion": "Your answers follow a small group of raters' far more closely than the rest of the project's; "
                 "ops will review your work.",
}


def _project_min_n(project_ids) -> dict:
    """{project_id: {rule: min_n}} under each project's rules (settings.QUALITY_RULES, then its policy);
    the key None holds the platform's (for a reason without a project). One query for the policies."""
    from django.conf import settings

    from quality.models import ProjectQualityPolicy
    from quality.rules import merge_rules, rules_errors

    def min_n(rules: dict) -> dict:
        return {rule: cfg["min_n"] for rule, cfg in rules.items() if isinstance(cfg, dict) and "min_n" in cfg}

    base = getattr(settings, "QUALITY_RULES", None)
    out = {None: min_n(merge_rules(base))}
    policies = dict(ProjectQualityPolicy.objects.filter(project_id__in=[p for p in project_ids if p])
                    .values_list("project_id", "rules"))
    for pid in project_ids:
        if pid is not None:
            overrides = policies.get(pid)
            out[pid] = min_n(merge_rules(base, None if overrides and rules_errors(overrides) else overrides))
    return out


def _worker_reasons(reasons, *, n_by_project: dict, min_n: dict, default_project=None) -> list[dict]:
    """The reasons a worker is shown: the answer rules' only once acted on, in fixed words; no "watch" from a
    project where the worker has fewer judgments than that rule's own minimum (min_n: one judgment is no
    evidence of anything); each message once (the overall standing gathers every project's reasons)."""
    shown, seen = [], set()
    for reason in reasons or []:
        rule = reason.get("rule")
        if rule in _ANSWER_RULE_MESSAGES:
            if reason.get("level") not in ("review", "suspend"):
                continue
            reason = {**reason, "message": _ANSWER_RULE_MESSAGES[rule]}
        project_id = reason.get("project_id", default_project)
        if reason.get("level") == "watch":
            needed = min_n.get(project_id, min_n[None]).get(rule, 0)
            if n_by_project.get(project_id, 0) < needed:
                continue
        key = (reason.get("level"), reason.get("message"))
        if key in seen:
            continue
        seen.add(key)
        shown.append(reason)
    return shown


def _worker_standing_dict(standing: WorkerStanding, *, n_by_project: dict, min_n: dict,
                          n_judgments: int | None = None) -> dict:
    reasons = _worker_reasons(standing.reasons, n_by_project=n_by_project, min_n=min_n,
                              default_project=standing.project_id)
    status = standing.status
    if status in (WorkerStanding.Status.GOOD, WorkerStanding.Status.WATCH):  # flagged/suspended: ops acted
        status = WorkerStanding.Status.WATCH if reasons else WorkerStanding.Status.GOOD
    shown = {name: getattr(standing, name) for name in _STANDING_FIELDS}
    if n_judgments is not None:
        shown["n_judgments"] = n_judgments
    return {"status": status, "reasons": reasons, **shown}


def worker_standing_get(*, user) -> dict | None:
    """The worker's quality standing across projects, with reasons and one entry per project measured, as
    the worker may see it (GET /api/v1/me/): figures of their own work only (see _STANDING_FIELDS).

    Shape: {status, reasons: [{rule, level, message, ...}], n_judgments, median_seconds, top_answer_share,
    computed_at, projects: [{project_id, status, reasons, ...}]}. None until the quality job has measured
    the worker at least once. Ops see everything at worker_standing_for_ops.

    n_judgments is the count of the worker's judgments that the flags ops read were raised on (the
    judgments they submitted, approved or since discarded by a quality review), not the approved ones the
    last run kept: a suspension discards a worker's non-gold judgments on unfinished tasks, and the
    approved count left ("2" of 14) would both contradict what ops see and tell the worker how many of
    their tasks were gold. Reasons: see _worker_reasons.
    """
    standings = list(WorkerStanding.objects.filter(worker_id=user.pk).order_by("project_id"))
    overall = next((s for s in standings if s.project_id is None), None)
    if overall is None:
        return None
    from tasks.models import Judgment

    submitted = dict(Judgment.objects.filter(worker_id=user.pk).order_by().values_list("project_id")
                     .annotate(n=Count("id")).values_list("project_id", "n"))
    counted: dict = {s.project_id: max(s.n_judgments, submitted.get(s.project_id, 0))
                     for s in standings if s.project_id}
    min_n = _project_min_n([s.project_id for s in standings])
    counted[None] = max(overall.n_judgments, sum(counted.values()))  # reasons stored without a project
    result = _worker_standing_dict(overall, n_by_project=counted, min_n=min_n, n_judgments=counted[None])
    result["projects"] = [{"project_id": s.project_id, **_worker_standing_dict(
        s, n_by_project=counted, min_n=min_n, n_judgments=counted[s.project_id])} for s in standings if s.project_id]
    return result


def _standings(*, worker_id: int, render) -> dict | None:
    """The overall standing rendered, with the per-project ones under "projects"; None before any."""
    standings = list(WorkerStanding.objects.filter(worker_id=worker_id).order_by("project_id"))
    overall = next((s for s in standings if s.project_id is None), None)
    if overall is None:
        return None
    result = render(overall)
    result["projects"] = [{"project_id": s.project_id, **render(s)} for s in standings if s.project_id]
    return result


_OPS_STANDING_FIELDS = ("status", "reasons", "n_judgments", "gold_n", "gold_correct", "gold_accuracy", "gold_lower",
                        "gold_upper", "loo_agreement", "loo_n", "pool_loo_agreement", "median_seconds",
                        "top_answer_share", "gold_share", "random_log_lr", "computed_at")


def worker_standing_for_ops(*, worker_id: int) -> dict | None:
    """Everything the quality job measured about one worker, gold figures included (ops only: GET
    /api/v1/workers/{id}/standing/). Same shape as worker_standing_get plus gold_n, gold_correct,
    gold_accuracy, gold_lower, gold_upper. None until the worker has been measured.

    n_judgments is what the last run measured (approved judgments); n_submitted is the count the worker's own
    standing shows and the flags were raised on (approved or since discarded by a quality review), so ops and
    the worker read the same number after a suspension requeued the worker's work."""
    from tasks.models import Judgment

    submitted = dict(Judgment.objects.filter(worker_id=worker_id).order_by().values_list("project_id")
                     .annotate(n=Count("id")).values_list("project_id", "n"))

    def render(standing) -> dict:
        row = {name: getattr(standing, name) for name in _OPS_STANDING_FIELDS}
        mine = submitted.get(standing.project_id, 0) if standing.project_id else sum(submitted.values())
        row["n_submitted"] = max(standing.n_judgments, mine)
        return row

    return _standings(worker_id=worker_id, render=render)


def task_consensus_get(*, task_ids: Iterable[int]) -> dict[int, dict]:
    """{task_id: {"answer", "confidence", "method"}} for the tasks that have a consensus (others are absent)."""
    ids = list(task_ids)
    if not ids:
        return {}
    rows = TaskConsensus.objects.filter(task_id__in=ids).values_list("task_id", "answer", "confidence", "method")
    return {task_id: {"answer": answer, "confidence": confidence, "method": method}
            for task_id, answer, confidence, method in rows}


def worker_gold_shares(*, worker_id: int, project_ids: list[int]) -> dict[int, float]:
    """{project_id: share of this worker's claims there to serve as gold} from the last quality run (adaptive
    gold, quality.gold). Projects where the worker was never measured are absent: the caller uses the
    project's gold_share. Read by the claim; one indexed lookup (one_standing_per_worker_project)."""
    rows = WorkerStanding.objects.filter(worker_id=worker_id, project_id__in=project_ids,
                                         gold_share__isnull=False).values_list("project_id", "gold_share")
    return dict(rows)


def project_agreement_get(*, project_id: int) -> dict | None:
    """{alpha, level, fleiss_kappa, n_tasks, n_judgments, spans, computed_at} or None before the first run.
    spans: line-level agreement of a flags project's spans (ProjectAgreement.spans), null otherwise."""
    row = (ProjectAgreement.objects.filter(project_id=project_id)
           .values("alpha", "level", "fleiss_kappa", "n_tasks", "n_judgments", "spans", "computed_at").first())
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


def collusion_groups_list(*, project_id: int) -> list[dict]:
    """Groups of raters the collusion rule found in a project, for ops (the admin's flag page): one entry per
    group, from the open flags whose findings include it. Shape: [{workers: [{id, email, flag_id, flag_status}],
    shared_tasks: [task ids], shared, agreed}], largest group first. Consensus counts each group as one voice
    until ops dismiss its members' flags (a confirmed flag suspends the worker and requeues their work)."""
    from django.contrib.auth import get_user_model

    groups: dict[tuple, dict] = {}
    flags = Flag.objects.filter(project_id=project_id, status=Flag.Status.OPEN).order_by("id")
    for flag in flags:
        for finding in (flag.evidence or {}).get("findings", []):
            if finding.get("rule") != "collusion":
                continue
            key = tuple(sorted(finding.get("group_workers", [])))
            group = groups.setdefault(key, {"workers": {}, "shared_tasks": set(), "shared": 0, "agreed": 0})
            group["workers"][flag.worker_id] = {"flag_id": flag.pk, "flag_status": flag.status}
            group["shared_tasks"].update(finding.get("shared_tasks", []))
            group["shared"] = max(group["shared"], finding.get("shared", 0))
            group["agreed"] = max(group["agreed"], finding.get("agreed", 0))
    emails = dict(get_user_model().objects.filter(pk__in={w for k in groups for w in k}).values_list("pk", "email"))
    out = []
    for key, group in groups.items():
        workers = [{"id": w, "email": emails.get(w), **group["workers"].get(w, {"flag_id": None, "flag_status": None})}
                   for w in key]
        out.append({"workers": workers, "shared_tasks": sorted(group["shared_tasks"]), "shared": group["shared"],
                    "agreed": group["agreed"]})
    return sorted(out, key=lambda g: -len(g["workers"]))


def worker_suspension_causes(*, worker_id: int) -> list[dict]:
    """The quality flags that suspended this worker (on the platform or in a project's pool) and are not
    dismissed, newest first: [{"flag_id", "rule", "project_id", "status", "median_seconds", "floor"}]. Figures
    of the worker's own work only (the fast rule's median seconds and its floor; None for the others, whose
    figures read gold or other raters' answers). What the worker's standing page words a suspension from."""
    rows = (Flag.objects.filter(worker_id=worker_id, status__in=[Flag.Status.OPEN, Flag.Status.CONFIRMED])
            .order_by("-created_at", "-id").values("id", "rule", "project_id", "status", "evidence", "actions"))
    causes = []
    for row in rows:
        actions = row["actions"] or {}
        if not (actions.get("worker_suspended") or actions.get("pool_suspended")):
            continue
        evidence = row["evidence"] if row["rule"] == "fast" and isinstance(row["evidence"], dict) else {}
        causes.append({"flag_id": row["id"], "rule": row["rule"], "project_id": row["project_id"],
                       "status": row["status"], "median_seconds": evidence.get("median_seconds"),
                       "floor": evidence.get("floor")})
    return causes
