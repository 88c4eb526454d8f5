"""Reads of the assignment queue: who may claim, which projects they may claim from, their assignments.

Eligibility (docs/design.md invariant 4) is decided here and nowhere else, so the claim path, the "there is
work" notifier and the tests agree on it:

- the worker may claim at all (workers.selectors.worker_claim_blockers is empty: verified email,
  complete profile, current terms, a qualification, not suspended or banned);
- per project: the project is active, the worker holds an unexpired qualification in every required
  skill, is an active member of the project's pool (if it has one), and is below the project's
  per-worker share cap (see ``project_share_cap``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import BooleanField, Exists, JSONField, OuterRef, Q, QuerySet
from django.utils import timezone

from tasks.models import Assignment, Judgment, Project, Task, TaskExclusion
from tasks.selectors.queue_backends import queue_backend

# worker_claim_blockers codes -> the claim endpoint's 403 codes (docs/api.md), most fundamental first.
_BLOCKER_ORDER = (
    ("banned", "suspended"),
    ("suspended", "suspended"),
    ("email_unverified", "onboarding_incomplete"),
    ("profile_incomplete", "onboarding_incomplete"),
    ("terms_not_accepted", "onboarding_incomplete"),
    ("not_qualified", "not_qualified"),
)
COUNTED = (Assignment.Status.LIVE, Assignment.Status.SUBMITTED)


@dataclass(frozen=True)
class ClaimableProject:
    """What the claim path needs to know about a project the worker may claim from."""

    id: int
    priority: int
    gold_share: float
    project: Project


def worker_may_claim(*, user) -> bool:
    """workers_eligible_for(skill_ids=(), pool_id=None) contains the user (the queue backend's one query)."""
    return queue_backend().worker_may_claim(user=user)


def worker_claim_blocker(*, user, may_claim: bool | None = None) -> dict | None:
    """The most fundamental reason this person may not claim work, as ``{"code", "message"}`` with the
    claim endpoint's codes (suspended, onboarding_incomplete, not_qualified), or None when they may.

    Fast path: one query, the workers app's own rules as SQL (workers_eligible_for); the detailed (several
    queries) worker_claim_blockers only runs to explain a refusal. Pass may_claim when the caller has just
    asked (worker_claim_state)."""
    from workers.selectors import worker_claim_blockers

    if may_claim is None:
        may_claim = worker_may_claim(user=user)
    if may_claim:
        return None
    blockers = {b["code"]: b["message"] for b in worker_claim_blockers(user=user)}
    for source, code in _BLOCKER_ORDER:
        if source in blockers:
            return {"code": code, "message": blockers[source]}
    if blockers:
        code, message = next(iter(blockers.items()))
        return {"code": "onboarding_incomplete", "message": message}
    # The two selectors disagree (a rule only one of them knows): refuse rather than serve work.
    return {"code": "onboarding_incomplete", "message": "Your account cannot claim work yet (GET /api/v1/me/)."}


def worker_live_claims_count(*, user, now=None) -> int:
    """Live assignments whose lease has not run out (an expired lease never counts against the worker)."""
    now = now or timezone.now()
    return Assignment.objects.filter(worker=user, status=Assignment.Status.LIVE, expires_at__gt=now).count()


def project_share_cap(*, project: Project, n_tasks: int | None = None) -> int:
    """Most live + submitted assignments on the project's tasks (gold checks included) one worker may hold:
    project.max_judgments_per_worker, or by default max(QUEUE_DEFAULT_SHARE_MIN,
    ceil(QUEUE_DEFAULT_SHARE_PERCENT% of its real tasks)). Gold checks count toward the cap: a cap that
    skipped them would let a worker at the cap tell which of their claims were gold (the next claim answers
    204 after a real one, a task after a gold one)."""
    if project.max_judgments_per_worker is not None:
        return project.max_judgments_per_worker
    if n_tasks is None:
        n_tasks = Task.objects.filter(project=project, is_gold=False).count()
    return max(settings.QUEUE_DEFAULT_SHARE_MIN, math.ceil(n_tasks * settings.QUEUE_DEFAULT_SHARE_PERCENT / 100))


_PROJECT_FIELDS = ("id", "name", "task_type", "label_schema", "instructions", "data_use_statement", "reward_cents",
                   "currency", "priority", "gold_share", "lease_seconds", "max_judgments_per_worker", "pool_id", "status")


def _projects_sql(*, user, project_id: int | None) -> tuple[str, list]:
    """Active projects whose required skills the worker meets, each with ``held``: the worker's live +
    submitted assignments on its tasks (gold included, see project_share_cap). Portable SQL (this runs on every claim; the ORM's compile time
    was most of the claim's CPU), with the workers app's qualification rule embedded
    (workers.selectors.worker_qualified_skills_sql). Pools are filtered after (_in_pools).

    ``held`` is counted as live assignments plus APPROVED judgments: a submitted assignment always has its
    judgment, approved until quality requeues it (which makes the assignment REQUEUED in the same
    transaction). Both counts read partial indexes alone (assignment_live_by_worker,
    judgment_share_count_all), so a claim's cost does not grow with the worker's history in the project."""
    from workers.selectors import worker_qualified_skills_sql

    skills, skill_params = worker_qualified_skills_sql(worker_id=user.pk)
    project_t, assignment_t = Project._meta.db_table, Assignment._meta.db_table
    judgment_t = Judgment._meta.db_table
    required_t = Project.required_qualifications.through._meta.db_table
    only_one = "AND p.id = %s" if project_id is not None else ""
    sql = f"""
        SELECT {", ".join(f"p.{f}" for f in _PROJECT_FIELDS)},
               (SELECT count(*) FROM {assignment_t} a
                WHERE a.worker_id = %s AND a.project_id = p.id AND a.status = 'live')
             + (SELECT count(*) FROM {judgment_t} j
                WHERE j.worker_id = %s AND j.project_id = p.id AND j.status = 'approved') AS held
        FROM {project_t} p
        WHERE p.status = 'active' {only_one}
          AND NOT EXISTS (SELECT 1 FROM {required_t} r WHERE r.project_id = p.id AND r.skill_id NOT IN ({skills}))
        """  # noqa: S608 - constant fragments; values bound
    return sql, [user.pk, user.pk, *([project_id] if project_id is not None else []), *skill_params]


def _in_pools(*, user, projects: list[Project]) -> list[Project]:
    from workers.selectors import worker_active_pool_ids

    if not any(p.pool_id is not None for p in projects):  # most projects have no pool: spare the query
        return projects
    pools = worker_active_pool_ids(user=user)
    return [p for p in projects if p.pool_id is None or p.pool_id in pools]


def _projects_meeting_requirements(*, user, project_id: int | None) -> list[Project]:
    """Active projects whose required skills and pool the worker meets, each with ``held`` (_projects_sql)."""
    sql, params = _projects_sql(user=user, project_id=project_id)
    return _in_pools(user=user, projects=list(Project.objects.raw(sql, params)))


def _real_tasks_up_to(limits: dict[int, int]) -> dict[int, int]:
    """Each project's number of real tasks, counted up to its limit (min(count, limit)), in one statement:
    a bounded count costs its limit, never the project's size."""
    table = Task._meta.db_table
    parts = [f"SELECT CAST(%s AS bigint), count(*) FROM (SELECT 1 FROM {table} WHERE project_id = %s AND is_gold = %s LIMIT %s) s"  # noqa: S608
             for _ in limits]
    params = [value for pid, limit in limits.items() for value in (pid, pid, False, limit)]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return {pid: n for pid, n in cursor.fetchall()}


def _under_share_cap(projects: list[Project]) -> list[ClaimableProject]:
    """The projects whose share cap the worker is below. The default cap is never below
    QUEUE_DEFAULT_SHARE_MIN, so a project's task count is looked up only for workers who already hold
    that many of its assignments, and then only as far as it matters: the cap
    ceil(n * QUEUE_DEFAULT_SHARE_PERCENT / 100) exceeds ``held`` exactly when n > held * 100 / percent,
    so counting up to floor(held * 100 / percent) + 1 tasks gives the same answer as counting them all,
    at a cost that follows the worker's own history in the project, not the project's size."""
    percent = settings.QUEUE_DEFAULT_SHARE_PERCENT
    need_size = {p.id: int(p.held * 100 // percent) + 1 for p in projects
                 if p.max_judgments_per_worker is None and p.held >= settings.QUEUE_DEFAULT_SHARE_MIN} if percent > 0 else {}
    sizes = _real_tasks_up_to(need_size) if need_size else {}
    return [
        ClaimableProject(id=p.id, priority=p.priority, gold_share=p.gold_share, project=p)
        for p in projects
        if p.held < project_share_cap(project=p, n_tasks=sizes.get(p.id, 0))
    ]


def projects_claimable_for(*, user, project_id: int | None = None) -> list[ClaimableProject]:
    """Active projects the worker meets the requirements of and is below the share cap in."""
    return _under_share_cap(_projects_meeting_requirements(user=user, project_id=project_id))


def project_claim_refusal(*, user, project_id: int) -> dict | None:
    """Why a worker may not claim from this one project (``{"code", "message"}`` for a 403), or None when
    the only obstacle is that nothing is available right now (204). Raises nothing for unknown ids."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None or project.status != Project.Status.ACTIVE:
        return None
    if not _projects_meeting_requirements(user=user, project_id=project_id):
        return {"code": "not_qualified",
                "message": "This project needs qualifications or a pool membership you do not have."}
    return None


def worker_assignments_list(*, user, status: str | None = None) -> QuerySet[Assignment]:
    """The worker's own assignments, newest first, with their task, project and own judgment. Only the
    worker's own answer is ever attached: never a gold answer, gold_correct, or another worker's answer."""
    qs = Assignment.objects.filter(worker=user).select_related("task", "project", "judgment", "judgment__fix_run").defer(
        "task__gold", "task__is_gold", "task__n_active", "task__n_submitted", "task__overlap",
        "judgment__gold_correct", "judgment__is_gold")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-claimed_at", "-id")


def worker_claim_state(*, user, now) -> tuple[bool, int, bool]:
    """(worker_may_claim, worker_live_claims_count, whether any live lease anywhere has run out): all three
    are read on every claim (one round trip on PostgreSQL). The eligibility part is the workers app's own
    rules."""
    return queue_backend().claim_state(user=user, now=now)


def worker_live_claims_and_stale_leases(*, user, now) -> tuple[int, bool]:
    """(worker_live_claims_count, whether any live lease anywhere has run out) in one round trip: both run on
    every claim."""
    table = Assignment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT (SELECT count(*) FROM {table} WHERE worker_id = %s AND status = 'live' AND expires_at > %s),
                       EXISTS (SELECT 1 FROM {table} WHERE status = 'live' AND expires_at <= %s)""",  # noqa: S608
            [user.pk, now, now])
        live, stale = cursor.fetchone()
    return live, bool(stale)


@dataclass(frozen=True)
class ClaimContext:
    """Everything a claim reads before it picks a task (see worker_claim_context)."""

    may_claim: bool
    live: int
    stale: bool
    projects: list[ClaimableProject]


def worker_claim_context(*, user, project_id: int | None, now) -> ClaimContext:
    """worker_claim_state and projects_claimable_for (only if the worker may claim): everything the claim
    decides on, in one round trip on PostgreSQL (the queue backend's context read)."""
    return queue_backend().claim_context(user=user, project_id=project_id, now=now)


def untouched_by(worker_id, *, lenient: bool = False) -> Q:
    """Tasks (the queryset's rows) this worker has never touched and is not excluded from (TaskExclusion): no
    assignment of theirs on the task, and
    (unless ``lenient``) no gold check of theirs that passed the task over (Assignment.passed_over_task).
    worker_id may be an OuterRef."""
    untouched = (~Q(Exists(Assignment.objects.filter(task_id=OuterRef("pk"), worker_id=worker_id)))
                 & ~Q(Exists(TaskExclusion.objects.filter(task_id=OuterRef("pk"), worker_id=worker_id))))
    if lenient:
        return untouched
    return untouched & ~Q(Exists(Assignment.objects.filter(passed_over_task_id=OuterRef("pk"), worker_id=worker_id)))


def instance_with_fields(model, values: dict):
    """An instance of `model` holding only `values` (by attname, "id" included; the other fields load on
    first access, as with .only()), from a row read with a plain cursor: JSON arrives there as text and
    SQLite's booleans as 0/1, so those two are converted here as the ORM would."""
    names, row = [], []
    for field in model._meta.concrete_fields:
        if field.attname not in values:
            continue
        value = values[field.attname]
        if isinstance(field, JSONField) and isinstance(value, (str, bytes)):
            value = json.loads(value)
        elif isinstance(field, BooleanField) and value is not None:
            value = bool(value)
        names.append(field.attname)
        row.append(value)
    return model.from_db(connection.alias, names, row)


def _project_from_row(values) -> Project:
    """A Project holding _PROJECT_FIELDS and ``held``, from a row of _projects_sql read with a plain cursor."""
    project = instance_with_fields(Project, dict(zip(_PROJECT_FIELDS, values[:-1], strict=True)))
    project.held = values[-1]
    return project
