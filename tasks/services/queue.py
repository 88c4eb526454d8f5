"""The assignment queue: claim here; submit, release and lease expiry in queue_leases; quality's requeue
and dynamic overlap in queue_requeue. Everything is importable from this module (the cross-app interface).

Claim guarantees (docs/design.md invariants 1-4):
- A task never has more live + submitted assignments than its overlap: the claim increments n_active with
  a conditional UPDATE (n_active < overlap) on the row it holds locked, and the check constraint
  task_never_over_overlap backs it. n_active and the assignment row change in the same transaction.
- One worker's claims run one at a time: the claim is one transaction whose first statement locks the
  worker's profile row (worker_claim_lock), so the caps it reads next (live claims, per-project share)
  are exact under any number of parallel requests of that worker. Other workers never wait on it.
- One assignment per (task, worker), ever: the candidate query skips tasks the worker touched before
  (under the worker's lock, every earlier claim of theirs is committed), and the unique constraint backs it.
- On PostgreSQL the pick is one statement (a CTE: SELECT ... FOR UPDATE SKIP LOCKED, the conditional
  UPDATE, the INSERT) at the end of a short transaction, so task rows are held only from it to commit;
  claimers never wait on each other's task rows. On SQLite (the embedded default) the same rules run as
  ORM statements; its BEGIN IMMEDIATE transaction serialises writers, so the conditional UPDATE is enough.
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
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplace import events
from marketplace.errors import Forbidden, NotFound
from tasks.models import Project
from tasks.selectors.queue import (
    ClaimableProject,
    project_claim_refusal,
    worker_claim_blocker,
    worker_claim_context,
)
from tasks.selectors.queue_backends import queue_backend, served_reason  # noqa: F401 - served_reason re-exported
from tasks.services.queue_leases import (  # noqa: F401 - re-exported: the queue's interface lives here
    assignment_release,
    assignment_submit,
    assignments_expire,
    assignments_release_for_worker,
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


def assignment_claim(*, user, project_id: int | None = None, rng: random.Random | None = None) -> Claim | None:
    """Leases the next task this worker may do (optionally from one project), or returns None when there is
    none. Raises Forbidden (codes suspended, onboarding_incomplete, not_qualified, too_many_live_claims)
    when the worker may not claim, NotFound for an unknown project id.

    One transaction, and the worker's own row lock first: the worker's claims run one at a time, so the
    caps read under it (live claims, share) are exact however many requests one worker sends at once.
    Other workers' claims do not wait on it (and never on each other's task rows: SKIP LOCKED)."""
    rng = rng or random
    with transaction.atomic():
        worker_claim_lock(user=user)
        return _claim_under_lock(user=user, project_id=project_id, rng=rng)


def worker_claim_lock(*, user) -> None:
    """The per-worker lock of the queue, the first lock any claim takes (lock order: the worker's profile
    row, then assignment rows, then task rows in id order). worker_suspend and worker_ban lock the same
    row, so a suspension waits for a claim in flight and then releases what it leased. PostgreSQL: the
    profile row FOR UPDATE. SQLite: nothing to do, the claim's transaction is BEGIN IMMEDIATE (settings),
    which serialises writers already. A person without a profile may not claim; nothing is locked."""
    queue_backend().worker_lock(user=user)


def _claim_under_lock(*, user, project_id: int | None, rng) -> Claim | None:
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

    shares = _gold_shares(user=user, projects=projects)
    with_gold = [p for p in projects if p.gold_share > 0]
    gold_projects = [p for p in with_gold if rng.random() < shares.get(p.id, p.gold_share)]
    if with_gold:
        # One peek on every claim in projects with gold, whatever the draw said, and then a pick by id, gold or
        # real, so that both kinds of claim run the same statements at the same cost (a timing tell otherwise:
        # a real pick that searched would scan past every task the worker touched or passed over). The peek
        # reads the real task a gold check stands in for (its reason is the one served; gold is served only
        # where real work is left, else "only gold left" would be a tell) and the gold task it would serve
        # (none left: the claim is real and costs what a real one costs).
        peeked = gold_projects or with_gold
        passed_over, reason, gold_task = _peek_reason(user=user, projects=peeked)
        if gold_projects and gold_task is not None and passed_over is not None:
            claim = (_claim_one(user=user, projects=gold_projects, gold=True, reason=reason, passed_over=passed_over,
                                task_id=gold_task)
                     or _claim_one(user=user, projects=gold_projects, gold=True, reason=reason,
                                   passed_over=passed_over))  # taken meanwhile: the usual pick
            if claim is not None:
                return claim
        elif passed_over is not None and len(peeked) == len(projects):
            claim = _claim_one(user=user, projects=projects, gold=False, reason=None, task_id=passed_over)
            if claim is not None:
                return claim
    claim = _claim_one(user=user, projects=projects, gold=False, reason=None)
    if claim is None:
        # Nothing untouched is left for this worker: the real tasks their gold checks passed over are
        # theirs to take after all (else a small crowd could leave tasks below overlap for good). Only
        # here, at the end of the worker's queue, can gold and real work be told apart (docs/queue.md).
        claim = _claim_one(user=user, projects=projects, gold=False, reason=None, lenient=True)
    return claim


def _gold_shares(*, user, projects: list[ClaimableProject]) -> dict[int, float]:
    """Adaptive gold: each worker's gold share per project as quality last set it (more gold where there is
    doubt about the worker, docs/quality.md); the project's gold_share where quality has none. Read on every
    claim in a project with gold, whatever is then served, so its timing tells nothing."""
    with_gold = [p.id for p in projects if p.gold_share > 0]
    if not with_gold:
        return {}
    return events.worker_gold_shares.ask(worker_id=user.pk, project_ids=with_gold)


def _claim_one(*, user, projects: list[ClaimableProject], gold: bool, reason: str | None,
               passed_over: int | None = None, lenient: bool = False, task_id: int | None = None) -> Claim | None:
    """Lease the best candidate of these projects (`task_id`: that one, in one attempt, or None)."""
    by_id = {p.id: p.project for p in projects}
    backend = queue_backend()
    for attempt in range(1 if task_id is not None else CLAIM_ATTEMPTS):
        try:
            row = backend.pick(user=user, projects=projects, gold=gold, reason=reason, passed_over=passed_over,
                               lenient=lenient, attempt=attempt, task_id=task_id)
        except IntegrityError:
            # Portable path only (its own savepoint): the task filled up between pick and update; pick again.
            logger.info("claim race for worker %s; retrying", user.pk)
            continue
        if row is None and task_id is not None:
            return None
        if row is None:
            # SKIP LOCKED passes over rows other claims hold for a moment: only answer "nothing" when a
            # look without locks agrees (else claim again, reading more candidates per project; those
            # rows are free or full by now).
            if _peek(user=user, projects=projects, gold=gold, lenient=lenient) is None:
                return None
            continue
        assignment_id, task_id, project_id, served, expires_at, data = row
        if isinstance(data, (str, bytes)):
            data = json.loads(data)
        return Claim(assignment_id=assignment_id, task_id=task_id, task_data=data, project=by_id[project_id],
                     expires_at=expires_at, reason=served)
    return None


def _peek(*, user, projects: list[ClaimableProject], gold: bool, lenient: bool = False) -> tuple | None:
    """The best candidate (id, n_active, overlap, priority, age_boost, project priority) these projects
    offer the worker, read without locks, or None."""
    return queue_backend().peek(user=user, projects=projects, gold=gold, lenient=lenient)


def _peek_reason(*, user, projects: list[ClaimableProject]) -> tuple[int | None, str | None, int | None]:
    """(id, reason, gold id): the best real task these projects offer the worker (the task a gold check
    served instead passes over) and the reason it would be served with, (None, None, None) when they offer
    none; and the gold task a gold check would serve there, or None. One statement on PostgreSQL."""
    row, gold_task = queue_backend().peek_for_gold(user=user, projects=projects)
    if row is None:
        return None, None, None
    task_id, n_active, overlap, priority, age_boost, project_priority = row
    return task_id, served_reason(n_before=n_active, overlap=overlap, age_boost=age_boost, priority=priority,
                                  project_priority=project_priority), gold_task
