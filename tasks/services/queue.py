"""The assignment queue: claim here; submit, release and lease expiry in queue_leases; quality's requeue
and dynamic overlap in queue_requeue. Everything is importable from this module (the cross-app interface).

Claim guarantees (docs/design.md invariants 1-4):
- A task never has more live + submitted assignments than its overlap: the claim increments n_active with
  a conditional UPDATE (n_active < overlap) on the row it holds locked, and the check constraint
  task_never_over_overlap backs it. n_active and the assignment row change in the same transaction.
- One assignment per (task, worker), ever: the candidate query skips tasks the worker touched before, and
  the unique constraint catches the rare race (two claims of one worker at once): that claim rolls back
  whole and is retried.
- On PostgreSQL the whole claim is one statement (a CTE: SELECT ... FOR UPDATE SKIP LOCKED, the
  conditional UPDATE, the INSERT): one short transaction, claimers never wait on each other's rows. On
  SQLite (the embedded default) the same rules run as ORM statements in one transaction; SQLite
  serialises writers, so the conditional UPDATE is enough there.
- Expired leases never block a claim: before picking, the claim returns the slots of leases that have run
  out (the expire_leases beat job does the same every QUEUE_EXPIRE_EVERY_SECONDS).

Order: closest to overlap first (n_active desc), then effective priority (project priority + task priority,
which aging raises), then age (id). Gold tasks are mixed in at each project's gold_share and are served
with the reason a real task would have had at that moment, so nothing in the answer tells them apart.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from marketplace.errors import Forbidden, NotFound
from tasks.models import Assignment, Project, Task
from tasks.selectors.queue import (
    ClaimableProject,
    project_claim_refusal,
    worker_claim_blocker,
    worker_claim_context,
)
from tasks.services.queue_leases import (  # noqa: F401 - re-exported: the queue's interface lives here
    assignment_release,
    assignment_submit,
    assignments_expire,
    tasks_age,
)
from tasks.services.queue_requeue import judgments_requeue_for_worker, project_overlap_extend  # noqa: F401

logger = logging.getLogger(__name__)
CLAIM_ATTEMPTS = 5


@dataclass(frozen=True)
class Claim:
    """A successful claim: what the worker sees (never whether the task is gold)."""

    assignment_id: int
    task_id: int
    task_data: dict
    project: Project
    expires_at: datetime
    reason: str


def served_reason(*, n_before: int, overlap: int, age_boost: int, priority: int, project_priority: int) -> str:
    """Why a task was served, in words (mirrored by _REASON_SQL; a test holds the two together)."""
    if n_before > 0:
        return f"closest to completion: {n_before}/{overlap} judgments"
    if age_boost > 0:
        return "waiting longest: priority raised with age"
    if priority > 0 or project_priority > 0:
        return "priority task"
    return "oldest open task"


_REASON_SQL = """CASE
    WHEN b.n_active > 1 THEN 'closest to completion: ' || (b.n_active - 1) || '/' || b.overlap || ' judgments'
    WHEN b.age_boost > 0 THEN 'waiting longest: priority raised with age'
    WHEN b.priority > 0 OR p.priority > 0 THEN 'priority task'
    ELSE 'oldest open task' END"""


def assignment_claim(*, user, project_id: int | None = None, rng: random.Random | None = None) -> Claim | None:
    """Leases the next task this worker may do (optionally from one project), or returns None when there is
    none. Raises Forbidden (codes suspended, onboarding_incomplete, not_qualified, too_many_live_claims)
    when the worker may not claim, NotFound for an unknown project id.

    Not wrapped in one transaction on purpose: eligibility is read first, then the claim itself is one short
    transaction (a long one collapses SKIP LOCKED throughput). The caps (live claims, share) are checked
    before that transaction, so two simultaneous claims by the same worker may pass one over a cap by one;
    overlap and one-per-(task, worker) are never exceeded."""
    rng = rng or random
    now = timezone.now()
    context = worker_claim_context(user=user, project_id=project_id, now=now)  # one round trip
    blocker = None if context.may_claim else worker_claim_blocker(user=user, may_claim=False)
    if blocker:
        raise Forbidden(blocker["message"], code=blocker["code"])
    if context.live >= settings.QUEUE_MAX_LIVE_CLAIMS:
        raise Forbidden(f"You already hold {settings.QUEUE_MAX_LIVE_CLAIMS} live assignments: submit or release "
                        "one first.", code="too_many_live_claims")
    projects, stale = context.projects, context.stale
    if not projects:
        if project_id is not None and not Project.objects.filter(pk=project_id).exists():
            raise NotFound(f"No project {project_id}.", fields={"project": ["no such project"]})
        refusal = project_claim_refusal(user=user, project_id=project_id) if project_id is not None else None
        if refusal:
            raise Forbidden(refusal["message"], code=refusal["code"])
        return None
    if stale:
        assignments_expire(now=now, limit=200)

    gold_projects = [p for p in projects if p.gold_share > 0 and rng.random() < p.gold_share]
    if gold_projects:
        # Serve gold only where real work is available too (else "only gold left" would be a tell), and
        # with the reason that real task would have been served with.
        peek = _peek_reason(user=user, projects=gold_projects)
        if peek is not None:
            claim = _claim_one(user=user, projects=gold_projects, gold=True, reason=peek)
            if claim is not None:
                return claim
    return _claim_one(user=user, projects=projects, gold=False, reason=None)


def _claim_one(*, user, projects: list[ClaimableProject], gold: bool, reason: str | None) -> Claim | None:
    by_id = {p.id: p.project for p in projects}
    raw = settings.QUEUE_CLAIM_RAW_SQL and connection.vendor == "postgresql"
    for _ in range(CLAIM_ATTEMPTS):
        try:
            row = (_claim_sql if raw else _claim_orm)(user=user, projects=projects, gold=gold, reason=reason)
        except IntegrityError:
            # The same worker claimed this task in a parallel request: nothing was written; pick again.
            logger.info("claim race for worker %s; retrying", user.pk)
            continue
        if row is None:
            # SKIP LOCKED passes over rows other claims hold for a moment: only answer "nothing" when a
            # look without locks agrees (else claim again; those rows are free or full by now).
            if _peek(user=user, projects=projects, gold=gold) is None:
                return None
            continue
        assignment_id, task_id, project_id, served, expires_at, data = row
        if isinstance(data, (str, bytes)):
            data = json.loads(data)
        return Claim(assignment_id=assignment_id, task_id=task_id, task_data=data, project=by_id[project_id],
                     expires_at=expires_at, reason=served)
    return None


def _order_sql(projects: list[ClaimableProject], gold: bool) -> str:
    if gold:
        return "t.n_active, t.id"  # spread gold checks over the gold set
    if len({p.priority for p in projects}) == 1:
        # Same project priority everywhere: leave it out so the partial index gives the order directly.
        return "t.n_active DESC, t.priority DESC, t.id"
    return "t.n_active DESC, (p.priority + t.priority) DESC, t.id"


def _candidates_sql(projects: list[ClaimableProject], gold: bool) -> str:
    where_project = "t.project_id = %(project)s" if len(projects) == 1 else "t.project_id = ANY(%(projects)s)"
    # Only constant fragments are formatted into the SQL; every value is a bound parameter, except whether
    # gold is wanted: written as a literal, it lets a prepared statement's generic plan use the partial
    # index of its kind (task_claimable_order or task_gold_claimable), which a parameter would not prove.
    is_gold = "t.is_gold" if gold else "NOT t.is_gold"
    return f"""
        SELECT t.id, t.n_active, t.overlap, t.priority, t.age_boost, p.priority AS project_priority
        FROM tasks_task t JOIN tasks_project p ON p.id = t.project_id
        WHERE {where_project} AND p.status = 'active' AND t.status = 'open' AND {is_gold}
          AND t.n_active < t.overlap
          AND NOT EXISTS (SELECT 1 FROM tasks_assignment a WHERE a.task_id = t.id AND a.worker_id = %(worker)s)
        ORDER BY {_order_sql(projects, gold)}
        LIMIT 1"""  # noqa: S608


def _params(*, user, projects, gold, reason=None) -> dict:
    ids = [p.id for p in projects]
    return {"project": ids[0], "projects": ids, "gold": gold, "worker": user.pk, "reason": reason,
            "now": timezone.now()}


def _claim_sql(*, user, projects, gold, reason):
    """PostgreSQL: the claim as one statement (its own transaction unless the caller holds one)."""
    sql = f"""
        WITH cand AS ({_candidates_sql(projects, gold)} FOR UPDATE OF t SKIP LOCKED),
        bumped AS (
            UPDATE tasks_task t SET n_active = t.n_active + 1 FROM cand
            WHERE t.id = cand.id AND t.n_active < t.overlap AND t.status = 'open'
            RETURNING t.id, t.project_id, t.n_active, t.overlap, t.priority, t.age_boost, t.data
        ),
        ins AS (
            INSERT INTO tasks_assignment (task_id, worker_id, project_id, status, served_reason, claimed_at, expires_at)
            SELECT b.id, %(worker)s, b.project_id, 'live', COALESCE(%(reason)s, {_REASON_SQL}),
                   %(now)s, %(now)s + p.lease_seconds * interval '1 second'
            FROM bumped b JOIN tasks_project p ON p.id = b.project_id
            RETURNING id, task_id, project_id, served_reason, expires_at
        )
        SELECT ins.id, ins.task_id, ins.project_id, ins.served_reason, ins.expires_at, b.data::text
        FROM ins JOIN bumped b ON b.id = ins.task_id"""  # noqa: S608
    params = _params(user=user, projects=projects, gold=gold, reason=reason)
    if connection.in_atomic_block:
        with transaction.atomic(), connection.cursor() as cursor:  # a savepoint: a race undoes only this
            cursor.execute(sql, params)
            return cursor.fetchone()
    with connection.cursor() as cursor:  # autocommit: the statement is the transaction
        cursor.execute(sql, params)
        return cursor.fetchone()


def _claim_orm(*, user, projects, gold, reason):
    """Portable path (SQLite, or QUEUE_CLAIM_RAW_SQL=0): the same rules as ORM statements in one transaction."""
    order = {"t.n_active, t.id": ("n_active", "id"),
             "t.n_active DESC, t.priority DESC, t.id": ("-n_active", "-priority", "id")}.get(
        _order_sql(projects, gold), ("-n_active", "-effective_priority", "id"))
    touched = Assignment.objects.filter(task=OuterRef("pk"), worker=user)
    candidates = (Task.objects.filter(project_id__in=[p.id for p in projects], project__status=Project.Status.ACTIVE,
                                      status=Task.Status.OPEN, is_gold=gold, n_active__lt=F("overlap"))
                  .filter(~Exists(touched))
                  .annotate(effective_priority=F("project__priority") + F("priority"))
                  .order_by(*order))
    with transaction.atomic():
        task = (candidates.select_for_update(skip_locked=True, of=("self",))
                .select_related("project").first())
        if task is None:
            return None
        bumped = Task.objects.filter(pk=task.pk, status=Task.Status.OPEN, n_active__lt=F("overlap")).update(
            n_active=F("n_active") + 1)
        if not bumped:
            raise IntegrityError("task filled up between pick and update")  # retried by the caller
        now = timezone.now()
        served = reason or served_reason(n_before=task.n_active, overlap=task.overlap, age_boost=task.age_boost,
                                         priority=task.priority, project_priority=task.project.priority)
        assignment = Assignment.objects.create(
            task=task, worker=user, project_id=task.project_id, status=Assignment.Status.LIVE,
            served_reason=served, claimed_at=now,
            expires_at=now + timedelta(seconds=task.project.lease_seconds))
    return assignment.pk, task.pk, task.project_id, served, assignment.expires_at, task.data


def _peek(*, user, projects: list[ClaimableProject], gold: bool) -> tuple | None:
    """The best candidate (n_active, overlap, priority, age_boost, project priority) these projects offer
    the worker, read without locks, or None."""
    if settings.QUEUE_CLAIM_RAW_SQL and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_candidates_sql(projects, gold), _params(user=user, projects=projects, gold=gold))
            row = cursor.fetchone()
        return row[1:] if row is not None else None
    touched = Assignment.objects.filter(task=OuterRef("pk"), worker=user)
    return (Task.objects.filter(project_id__in=[p.id for p in projects], project__status=Project.Status.ACTIVE,
                                status=Task.Status.OPEN, is_gold=gold, n_active__lt=F("overlap"))
            .filter(~Exists(touched))
            .annotate(effective_priority=F("project__priority") + F("priority"))
            .order_by("-n_active", "-effective_priority", "id")
            .values_list("n_active", "overlap", "priority", "age_boost", "project__priority").first())


def _peek_reason(*, user, projects: list[ClaimableProject]) -> str | None:
    """The reason the best real task these projects offer the worker would be served with, or None when
    they offer none."""
    row = _peek(user=user, projects=projects, gold=False)
    if row is None:
        return None
    n_active, overlap, priority, age_boost, project_priority = row
    return served_reason(n_before=n_active, overlap=overlap, age_boost=age_boost, priority=priority,
                         project_priority=project_priority)
