"""The queue on any database Django supports (SQLite, the embedded default; PostgreSQL with
QUEUE_CLAIM_RAW_SQL=0): the same rules as the PostgreSQL backend, as ORM statements in the claim's
transaction. Chosen by tasks.selectors.queue_backends.queue_backend.

- The worker's lock: their profile row SELECT ... FOR UPDATE where the database has row locks; on SQLite
  the claim's transaction is BEGIN IMMEDIATE (settings), which serialises writers and so is the lock.
- The pick: each project's first candidates in the order of its partial index (one bounded query per
  project), merged in Python; then the first of them no other claim holds is locked (SKIP LOCKED where the
  database has it) and its n_active raised with a conditional UPDATE.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from tasks.models import Assignment, Project, Task

name = "portable"

_COLUMNS = ("id", "n_active", "overlap", "priority", "age_boost", "project__priority")


def worker_lock(*, user) -> None:
    if not connection.features.has_select_for_update:
        return  # SQLite: the claim's BEGIN IMMEDIATE transaction is the lock
    from workers.models import WorkerProfile

    list(WorkerProfile.objects.select_for_update().filter(user_id=user.pk).values_list("pk"))


def worker_may_claim(*, user) -> bool:
    from workers.selectors import workers_eligible_for

    return workers_eligible_for(skill_ids=(), pool_id=None).filter(pk=user.pk).exists()


def claim_state(*, user, now) -> tuple[bool, int, bool]:
    from tasks.selectors.queue import worker_live_claims_and_stale_leases

    return (worker_may_claim(user=user), *worker_live_claims_and_stale_leases(user=user, now=now))


def claim_context(*, user, project_id: int | None, now):
    from tasks.selectors.queue import ClaimContext, projects_claimable_for

    may, live, stale = claim_state(user=user, now=now)
    return ClaimContext(may, live, stale, projects_claimable_for(user=user, project_id=project_id) if may else [])


def _order(projects, gold: bool) -> tuple[str, ...]:
    """The serving order (docs/queue.md); within one project it is its partial index's order."""
    if gold:
        return ("n_active", "id")  # spread gold checks over the gold set
    if len({p.priority for p in projects}) == 1:
        return ("-n_active", "-priority", "id")
    return ("-n_active", "-effective_priority", "id")


def _candidates(*, user, project_ids, gold: bool, lenient: bool):
    from tasks.selectors.queue import untouched_by

    return (Task.objects.filter(project_id__in=project_ids, project__status=Project.Status.ACTIVE,
                                status=Task.Status.OPEN, is_gold=gold, n_active__lt=F("overlap"))
            .filter(untouched_by(user.pk, lenient=lenient))
            .annotate(effective_priority=F("project__priority") + F("priority")))


def _merged(*, user, projects, gold: bool, lenient: bool, per_project: int | None):
    """Candidates (a queryset in serving order): with one project, all of its candidates (the database
    stops at the first row it takes); with several, each project's first ``per_project`` in the order of
    its index (None: all), so nothing sorts the projects' whole backlogs together."""
    order = _order(projects, gold)
    if len(projects) == 1 or per_project is None:
        return _candidates(user=user, project_ids=[p.id for p in projects], gold=gold, lenient=lenient).order_by(*order)
    within = _order(projects[:1], gold)
    ids = []
    for project in projects:
        ids += _candidates(user=user, project_ids=[project.id], gold=gold, lenient=lenient).order_by(
            *within).values_list("id", flat=True)[:per_project]
    # Re-checked here (status, overlap): a row may have filled up since it was read.
    return (Task.objects.filter(pk__in=ids, status=Task.Status.OPEN, n_active__lt=F("overlap"))
            .annotate(effective_priority=F("project__priority") + F("priority")).order_by(*order))


def pick(*, user, projects, gold, reason, passed_over, lenient, attempt=0, task_id=None):
    from tasks.selectors.queue_backends import per_project, served_reason

    if task_id is not None:  # the candidate the claim's peek found, or nothing
        candidates = _candidates(user=user, project_ids=[p.id for p in projects], gold=gold, lenient=False).filter(
            pk=task_id)
    else:
        candidates = _merged(user=user, projects=projects, gold=gold, lenient=lenient,
                             per_project=per_project(attempt))
    with transaction.atomic():
        task = candidates.select_for_update(skip_locked=True, of=("self",)).select_related("project").first()
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
            served_reason=served, claimed_at=now, passed_over_task_id=passed_over,
            expires_at=now + timedelta(seconds=task.project.lease_seconds))
    return assignment.pk, task.pk, task.project_id, served, assignment.expires_at, task.data


def peek(*, user, projects, gold, lenient=False):
    """The best candidate, read without locks (one per project is enough: nothing is skipped)."""
    return _merged(user=user, projects=projects, gold=gold, lenient=lenient, per_project=1).values_list(
        *_COLUMNS).first()


def peek_for_gold(*, user, projects):
    """(the best real candidate, as peek, or None; the id of the gold task a gold check would serve, or
    None), both read whatever the claim's gold draw said (postgres.peek_for_gold does it in one statement)."""
    real = peek(user=user, projects=projects, gold=False)
    gold = peek(user=user, projects=projects, gold=True)
    return (real, gold[0] if gold else None) if real is not None else (None, None)
