"""Quality's answer to payments' question "may this worker's pending pay clear?" (issue 20).

Payments sits below quality in the app order, so it asks through marketplace.events.worker_pay_verdicts and
this module answers from quality's standings, flags and policies; the rule itself (what doubt and evidence
are) is documented in payments.services.clearance, whose pure helpers it uses.
"""

import statistics
from collections import defaultdict

from django.conf import settings

from payments.services.clearance import DOUBT, EVIDENCE, UNPROVEN, evidence_passes
from quality.models import Flag, ProjectQualityPolicy, WorkerStanding
from quality.rules import merge_rules, rules_errors


def _project_lines(project_ids) -> dict[int, tuple[float, float]]:
    """{project_id: (evidence floor, doubt line of the random test's log LR)}: PAY_CLEARANCE_FLOOR and
    PAY_CLEARANCE_DOUBT_LOG_LR when set, else the project's quality rules (gold.upper_below, random.watch_log_lr)."""
    policies = dict(ProjectQualityPolicy.objects.filter(project_id__in=list(project_ids))
                    .values_list("project_id", "rules"))
    out = {}
    for pid in project_ids:
        overrides = policies.get(pid)
        if overrides and rules_errors(overrides):
            overrides = None
        rules = merge_rules(getattr(settings, "QUALITY_RULES", None), overrides)
        floor = settings.PAY_CLEARANCE_FLOOR if settings.PAY_CLEARANCE_FLOOR is not None else rules["gold"]["upper_below"]
        line = (settings.PAY_CLEARANCE_DOUBT_LOG_LR if settings.PAY_CLEARANCE_DOUBT_LOG_LR is not None
                else rules["random"]["watch_log_lr"])
        out[pid] = (float(floor), float(line))
    return out


def _project_median_seconds(project_ids) -> dict[int, float]:
    """The median of the workers' median seconds per judgment, per project (its standings: its workers only)."""
    values: dict[int, list[float]] = defaultdict(list)
    for pid, seconds in (WorkerStanding.objects.filter(project_id__in=list(project_ids), median_seconds__gt=0)
                         .values_list("project_id", "median_seconds")):
        values[pid].append(seconds)
    return {pid: statistics.median(v) for pid, v in values.items()}


def worker_pay_verdicts(*, worker_ids) -> dict[int, str]:
    """{worker_id: "evidence" | "doubt" | "unproven"} from quality's standings and open flags, for the given
    workers (their standings, their open flags, and their projects' policies and speeds)."""
    ids = sorted(set(worker_ids))
    # An open flag, or one ops confirmed (the standing's status goes back to what its figures say once the
    # flag is resolved; a confirmed bad rater stays in doubt).
    doubt = set(Flag.objects.filter(worker_id__in=ids, status__in=[Flag.Status.OPEN, Flag.Status.CONFIRMED])
                .values_list("worker_id", flat=True))
    standings = list(WorkerStanding.objects.filter(worker_id__in=ids, project__isnull=False)
                     .values("worker_id", "project_id", "status", "gold_n", "gold_correct", "loo_n", "loo_agreement",
                             "gold_share", "project__gold_share", "median_seconds", "pool_loo_agreement",
                             "random_log_lr"))
    projects = {s["project_id"] for s in standings}
    lines = _project_lines(projects)
    fast_share = settings.PAY_CLEARANCE_FAST_SHARE
    pace = _project_median_seconds(projects) if fast_share > 0 else {}
    passed = set()
    for s in standings:
        floor, line = lines[s["project_id"]]
        if s["random_log_lr"] is not None:
            # Quality watches the worker for random answering: the test's ratio is past its watch level (e:1 for
            # random by default). A test short of it is not doubt, though adaptive gold still serves more gold
            # until it falls past -0.5: an honest average rater's ratio can take more than a day's work to get
            # there, and the evidence rule below decides for them (docs/payments.md, the measured days).
            unsettled = s["random_log_lr"] > line
        else:
            # No random test on this schema (ratings, flags, rankings): adaptive gold's own doubt, from the
            # agreement test (quality.gold): a share above the project's means that test has not settled.
            unsettled = s["gold_share"] is not None and s["gold_share"] > (s["project__gold_share"] or 0.0) + 1e-9
        # Far quicker than the project's workers: answers given faster than the others read (a "watch" of
        # the too-fast rule's kind, relative to the pool rather than an absolute floor).
        pool = pace.get(s["project_id"])
        hurried = bool(pool) and s["median_seconds"] is not None and s["median_seconds"] < fast_share * pool
        if s["status"] in (WorkerStanding.Status.FLAGGED, WorkerStanding.Status.SUSPENDED) or unsettled or hurried:
            doubt.add(s["worker_id"])
        elif evidence_passes(gold_n=s["gold_n"], gold_correct=s["gold_correct"], loo_n=s["loo_n"],
                             loo_agreement=s["loo_agreement"], floor=floor,
                             pool_agreement=s["pool_loo_agreement"]):
            passed.add(s["worker_id"])
    return {w: DOUBT if w in doubt else EVIDENCE if w in passed else UNPROVEN for w in ids}
