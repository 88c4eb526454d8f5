"""Leases: submit, release, expiry, and aging of open tasks.

Lock order everywhere in the queue: assignment rows, then task rows (in id order when several). The
claim only locks a task row and inserts a new assignment, so no two queue paths wait on each other in a
cycle.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, PositiveSmallIntegerField, Q, Value, When
from django.utils import timezone

from marketplace import events
from marketplace.errors import Conflict, Forbidden, NotFound
from marketplace.observability.instruments import LEASE_EXPIRIES
from tasks.models import Assignment, Judgment, Project, Task
from tasks.selectors.queue import instance_with_fields

logger = logging.getLogger(__name__)
LIVE = Assignment.Status.LIVE


def _own_assignment(*, user, assignment_id: int) -> Assignment:
    assignment = (Assignment.objects.select_related("task", "project")
                  .filter(pk=assignment_id, worker=user).first())
    if assignment is None:
        # Another worker's assignment is "not found" too: ids of others' work are not confirmed.
        raise NotFound(f"No assignment {assignment_id}.")
    return assignment


# What the submit needs of the task and the project, beside the assignment itself (its answer echoes
# the project's public fields; validation needs the schema, the task's data and, for gold, its answer).
_SUBMIT_TASK_FIELDS = ("data", "gold", "is_gold")
_SUBMIT_PROJECT_FIELDS = ("name", "task_type", "label_schema", "instructions", "data_use_statement", "reward_cents",
                          "currency")


def _own_assignment_for_submit(*, user, assignment_id: int) -> Assignment:
    """The worker's assignment with the task and project fields the submit uses, and the worker's standing
    (account status; membership status in the project's pool, if it has one), in one written-out
    statement (the ORM's select_related compiled on every submit was the biggest share of its CPU). Model
    fields of the assignment go through the ORM's converters (raw()); the joined task and project columns
    through instance_with_fields."""
    from workers.models import PoolMembership, WorkerProfile

    # Columns named, never a.*: a prepared "SELECT a.*" fails once a migration adds a column.
    columns = ", ".join([*(f"a.{f.column}" for f in Assignment._meta.concrete_fields),
                         *(f"t.{f} AS task_{f}" for f in _SUBMIT_TASK_FIELDS),
                         *(f"p.{f} AS project_{f}" for f in _SUBMIT_PROJECT_FIELDS),
                         "p.pool_id AS project_pool_id", "wp.status AS worker_standing", "pm.status AS pool_standing"])
    found = list(Assignment.objects.raw(
        f"SELECT {columns} FROM {Assignment._meta.db_table} a "  # noqa: S608 - constant fragments only
        f"JOIN {Task._meta.db_table} t ON t.id = a.task_id JOIN {Project._meta.db_table} p ON p.id = a.project_id "
        f"LEFT JOIN {WorkerProfile._meta.db_table} wp ON wp.user_id = a.worker_id "
        f"LEFT JOIN {PoolMembership._meta.db_table} pm ON pm.pool_id = p.pool_id AND pm.worker_id = a.worker_id "
        "WHERE a.id = %s AND a.worker_id = %s", [assignment_id, user.pk]))
    if not found:
        raise NotFound(f"No assignment {assignment_id}.")
    assignment = found[0]
    assignment.task = instance_with_fields(
        Task, {"id": assignment.task_id, **{f: getattr(assignment, f"task_{f}") for f in _SUBMIT_TASK_FIELDS}})
    assignment.project = instance_with_fields(
        Project, {"id": assignment.project_id, "pool_id": assignment.project_pool_id,
                  **{f: getattr(assignment, f"project_{f}") for f in _SUBMIT_PROJECT_FIELDS}})
    return assignment


def _standing_refusal(assignment: Assignment) -> Forbidden | None:
    """Why this worker may no longer be paid for work (suspended or banned, or their membership in the
    project's pool suspended or gone), or None. Work claimed while eligible is not voided by a lapsed
    qualification or new terms: those stop new claims only."""
    if assignment.worker_standing != "active":
        return Forbidden("This account is suspended or banned: its work is no longer accepted. The task went "
                         "back to the queue.", code="suspended")
    if assignment.project_pool_id is not None and assignment.pool_standing != "active":
        return Forbidden("Your membership in this project's pool is suspended or ended: your work on it is no "
                         "longer accepted. The task went back to the queue.", code="suspended")
    return None


def server_seconds_spent(*, claimed_at: datetime, now: datetime) -> float:
    """Time spent on an assignment as the server measures it: from the claim to the submit, never what the
    worker says. QUEUE_TIME_SCALE (1 in production) lets a compressed-clock simulation read simulated time."""
    return max(0.0, (now - claimed_at).total_seconds()) * settings.QUEUE_TIME_SCALE


def _judgment_insert(*, assignment: Assignment, answer, reported_seconds: float | None, gold_correct: bool | None,
                     now: datetime) -> Judgment:
    """The approved judgment, written out (the ORM's create compiled it on every submit)."""
    task = assignment.task
    values = {"assignment_id": assignment.pk, "task_id": task.pk, "project_id": assignment.project_id,
              "worker_id": assignment.worker_id, "answer": answer,
              "seconds_spent": server_seconds_spent(claimed_at=assignment.claimed_at, now=now),
              "reported_seconds": reported_seconds,
              "is_gold": task.is_gold, "gold_correct": gold_correct, "status": Judgment.Status.APPROVED,
              "created_at": now}
    params = [json.dumps(answer) if name == "answer" else
              connection.ops.adapt_datetimefield_value(now) if name == "created_at" else value
              for name, value in values.items()]
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {Judgment._meta.db_table} ({', '.join(values)}) "  # noqa: S608
                       f"VALUES ({', '.join(['%s'] * len(values))}) RETURNING id", params)
        pk = cursor.fetchone()[0]
    judgment = Judgment(id=pk, **values)
    judgment._state.adding = False
    judgment.assignment, judgment.task, judgment.project = assignment, task, assignment.project
    return judgment


def _closed_conflict(assignment: Assignment, now: datetime) -> Conflict:
    """What conflicts, named: the assignment, its status and (for an expired lease) when it expired."""
    extra = {"assignment": assignment.pk, "status": assignment.status}
    expired = {**extra, "status": Assignment.Status.EXPIRED.value,
               "expired_at": assignment.expires_at.isoformat() if assignment.expires_at else None}
    if assignment.status == LIVE and assignment.expires_at <= now:
        return Conflict(f"The lease on assignment {assignment.pk} expired at {assignment.expires_at.isoformat()}; "
                        "claim another task.", code="lease_expired", extra=expired)
    if assignment.status == Assignment.Status.EXPIRED:
        return Conflict(f"The lease on assignment {assignment.pk} has expired; claim another task.",
                        code="lease_expired", extra=expired)
    if assignment.status == Assignment.Status.SUBMITTED:
        return Conflict(f"Assignment {assignment.pk} was already submitted.", code="already_submitted", extra=extra)
    return Conflict(f"Assignment {assignment.pk} is {assignment.status}; it can no longer be submitted.",
                    code=f"assignment_{assignment.status}", extra=extra)


def _credit(judgment: Judgment) -> None:
    """payments credits the worker inside our transaction (a 2xx means the credit is committed): payments
    stands above tasks (it reads judgments), so the submit calls it through the judgment_approved hook.
    The judgment just written goes along, so payments need not read it back. Any failure, a missing
    receiver included (HookNotConnected), propagates and rolls the submit back: never a 200 uncredited."""
    events.judgment_approved.send(judgment=judgment)


def _count_submission(*, task_id: int, now: datetime, jobs_on_submit: list) -> bool:
    """n_submitted + 1 and, when a real task thereby reaches its overlap, status complete; and the jobs every
    submit records (`jobs_on_submit`, in the outbox: quality's settle job, which computes the consensus of a
    task it finds completed and does nothing else). The same statement and the same rows for every submit,
    gold or real, completing or not (one outbox row and one NOTIFY each), so neither its cost nor the work
    it leaves behind tells a completion apart (docs/queue.md, "What a worker can learn about gold"). One
    statement on PostgreSQL, two elsewhere. The row lock it takes is held to commit, serialising
    submissions on one task. True if it completed."""
    from marketplace.outbox import outbox_enqueue_many, outbox_insert_cte

    table = Task._meta.db_table
    update = f"""UPDATE {table} SET n_submitted = n_submitted + 1,
                status = CASE WHEN NOT is_gold AND n_submitted + 1 >= overlap THEN 'complete' ELSE status END,
                completed_at = CASE WHEN NOT is_gold AND n_submitted + 1 >= overlap THEN %s ELSE completed_at END
            WHERE id = %s RETURNING status, is_gold"""  # noqa: S608 - table name only
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and jobs_on_submit:
            # The jobs' CTE reads the update's, so PostgreSQL runs the count before the insert.
            ctes, woken, params = outbox_insert_cte(
                jobs_on_submit, when_sql="EXISTS (SELECT 1 FROM counted)")
            cursor.execute(f"WITH up AS ({update}), "  # noqa: S608 - constant fragments only
                           "counted AS (SELECT status, is_gold FROM up), "
                           f"{ctes} SELECT status, is_gold, {woken} FROM counted",
                           [now, task_id, *params])
            status, is_gold, _ = cursor.fetchone()
            return status == Task.Status.COMPLETE and not is_gold
        cursor.execute(update, [now, task_id])
        status, is_gold = cursor.fetchone()
    outbox_enqueue_many(jobs_on_submit)  # elsewhere (SQLite): a second statement, every submit
    return status == Task.Status.COMPLETE and not is_gold


def _close_live(*, assignment_id: int, status: str, now: datetime) -> bool:
    """LIVE -> status if the lease still runs at `now`: one conditional UPDATE, written out (it runs on every
    submit). False when the assignment is no longer live or its lease has run out."""
    table = Assignment._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET status = %s, finished_at = %s "  # noqa: S608 - table name only
                       "WHERE id = %s AND status = %s AND expires_at > %s",
                       [status, adapt(now), assignment_id, LIVE, adapt(now)])
        return cursor.rowcount == 1


def assignment_submit(**kwargs) -> Judgment:
    """_assignment_submit (below), where a repeat of a committed submit, same assignment and same answer
    (a retry after a lost response), gets the first judgment back instead of 409 already_submitted."""
    try:
        return _assignment_submit(**kwargs)
    except _Replayed as replayed:
        return replayed.judgment


def _assignment_submit(*, user, assignment_id: int, answer, seconds_spent: float | None = None) -> Judgment:
    """Records the worker's answer on their live assignment and returns the (APPROVED) judgment, whose
    .assignment is the submitted assignment as committed (with its task and project loaded).

    Guarantees: 404 for an assignment that is not the worker's; 409 (lease_expired, already_submitted,
    assignment_released, ...) unless the assignment is live and its lease runs at commit time (a
    conditional UPDATE on status and expires_at, so a submit racing expiry or a second submit loses
    cleanly); 400 with the field at fault for an answer the label schema refuses, with nothing written.
    In one transaction: the judgment (gold_correct set for gold tasks), n_submitted + 1, the task marked
    complete when a real task reaches its overlap (quality's settle job recorded by the same statement, on
    every submit: it computes the consensus of a task it finds completed), and the worker's earnings credit (payments).

    403 suspended, with nothing written and no credit, when the worker is suspended or banned (or their
    membership in the project's pool is): their live assignment is released back to the queue instead.
    Time spent is measured by the server (claim to submit); ``seconds_spent`` is what the worker reports,
    kept as Judgment.reported_seconds and read by no rule."""
    from tasks.label_schemas import answers_equal, validate_answer

    now = timezone.now()
    assignment = _own_assignment_for_submit(user=user, assignment_id=assignment_id)
    refusal = _standing_refusal(assignment)
    if refusal is not None:
        _release_live(assignment_id=assignment.pk, task_id=assignment.task_id)  # the slot goes back to the queue
        raise refusal
    if assignment.status != LIVE or assignment.expires_at <= now:
        raise _replay_or_conflict(assignment, answer, now)
    task, project = assignment.task, assignment.project
    answer = validate_answer(project.task_type, project.label_schema, answer, data=task.data)
    gold_correct = answers_equal(project.task_type, answer, task.gold) if task.is_gold and task.gold else None
    with transaction.atomic():
        now = timezone.now()
        closed = _close_live(assignment_id=assignment.pk, status=Assignment.Status.SUBMITTED, now=now)
        if not closed:
            assignment.refresh_from_db()
            raise _replay_or_conflict(assignment, answer, now)
        assignment.status, assignment.finished_at = Assignment.Status.SUBMITTED, now
        judgment = _judgment_insert(assignment=assignment, answer=answer, reported_seconds=seconds_spent,
                                    gold_correct=gold_correct, now=now)
        # Every submit records quality's settle job in the counting statement itself, completing or not, gold
        # or real: the job computes the consensus of a completed task (tasks.services.completion.task_completed
        # without a statement or a row of its own) and returns at once for any other.
        _count_submission(task_id=task.pk, now=now,
                          jobs_on_submit=events.task_completion_jobs.ask(task_id=task.pk))
        _credit(judgment)
        if project.task_type == "fix":
            from marketplace.outbox import outbox_enqueue

            # The edited code runs against the task's tests on the sandbox queue, never here (docs/sandbox.md).
            outbox_enqueue("tasks.jobs.execution.run_fix", judgment.pk)
    return judgment


class _Replayed(Exception):  # noqa: N818 - control flow: carries the first submit's judgment out
    def __init__(self, judgment: Judgment):
        self.judgment = judgment


def _replay_or_conflict(assignment: Assignment, answer, now: datetime) -> Exception:
    """A repeat of this assignment's committed submit (tasks.services.queue_replay) is answered with the
    first judgment; anything else is the 409 it always was."""
    from tasks.label_schemas import validate_answer
    from tasks.services.queue_replay import submit_replay

    if assignment.status == Assignment.Status.SUBMITTED:
        try:
            answer = validate_answer(assignment.project.task_type, assignment.project.label_schema, answer,
                                     data=assignment.task.data)
        except Exception:  # noqa: BLE001 - an invalid answer cannot be a repeat of a valid one
            return _closed_conflict(assignment, now)
        judgment = submit_replay(assignment=assignment, answer=answer)
        if judgment is not None:
            return _Replayed(judgment)
    return _closed_conflict(assignment, now)


def _release_live(*, assignment_id: int, task_id: int) -> bool:
    """LIVE -> RELEASED and the task's slot back (n_active - 1), in one transaction; False (nothing done)
    when the assignment is no longer live. A live lease past its expiry may be released too: either way
    the slot comes back once."""
    with transaction.atomic():
        released = Assignment.objects.filter(pk=assignment_id, status=LIVE).update(
            status=Assignment.Status.RELEASED, finished_at=timezone.now())
        if released:
            Task.objects.filter(pk=task_id).update(n_active=F("n_active") - 1)
    return bool(released)


def assignment_release(*, user, assignment_id: int) -> Assignment:
    """The worker gives a live assignment back: the slot returns to the queue at once (n_active - 1). The
    worker will not be served this task again (released counts as touched). 404 for another worker's
    assignment; 409 when it is no longer live (submitted, released, or expired and already returned)."""
    assignment = _own_assignment(user=user, assignment_id=assignment_id)
    if not _release_live(assignment_id=assignment.pk, task_id=assignment.task_id):
        assignment.refresh_from_db()
        raise Conflict(f"Assignment {assignment.pk} is {assignment.status}; only a live assignment can be "
                       "released.", code=f"assignment_{assignment.status}",
                       extra={"assignment": assignment.pk, "status": assignment.status})
    assignment.refresh_from_db()
    return assignment


def assignments_release_for_worker(*, worker_id: int, pool_id: int | None = None) -> int:
    """Releases the worker's live assignments (only those on the pool's projects when ``pool_id``) back to
    the queue: the workers app calls it when it suspends or bans a worker, or suspends a pool membership,
    inside that transaction (lock order: the worker's profile, then assignments, then tasks in id order).
    Returns how many. Idempotent; a submit racing it either commits first (then it was paid before the
    suspension) or finds the assignment released (409)."""
    with transaction.atomic():
        live = Assignment.objects.select_for_update(of=("self",)).filter(worker_id=worker_id, status=LIVE)
        if pool_id is not None:
            live = live.filter(project__pool_id=pool_id)
        rows = list(live.order_by("id").values_list("id", "task_id"))
        if not rows:
            return 0
        Assignment.objects.filter(pk__in=[pk for pk, _ in rows]).update(
            status=Assignment.Status.RELEASED, finished_at=timezone.now())
        per_task = Counter(task_id for _, task_id in rows)
        for task_id in sorted(per_task):
            Task.objects.filter(pk=task_id).update(n_active=F("n_active") - per_task[task_id])
    logger.info("released %d live assignments of worker %s (pool %s)", len(rows), worker_id, pool_id)
    return len(rows)


def assignments_expire(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Returns the slots of live assignments whose lease ran out (status EXPIRED, n_active - 1 per task),
    at most ``limit`` per call; returns how many. Rows another transaction holds are skipped (it is
    submitting, releasing or expiring them); safe to run concurrently and twice."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(Assignment.objects.select_for_update(skip_locked=True)
                    .filter(status=LIVE, expires_at__lte=now).order_by("id").values_list("id", "task_id")[:limit])
        if not rows:
            return 0
        Assignment.objects.filter(pk__in=[pk for pk, _ in rows], status=LIVE).update(
            status=Assignment.Status.EXPIRED, finished_at=now)
        per_task = Counter(task_id for _, task_id in rows)
        for task_id in sorted(per_task):
            Task.objects.filter(pk=task_id).update(n_active=F("n_active") - per_task[task_id])
    logger.info("returned %d expired leases to the queue", len(rows))
    LEASE_EXPIRIES.inc(len(rows))  # /metrics (marketplace/observability)
    return len(rows)


def tasks_age(*, now: datetime | None = None) -> int:
    """Raises the priority of open tasks by one per QUEUE_AGING_STEP_SECONDS of age (at most
    QUEUE_AGING_MAX_BOOST), so old work overtakes a stream of new work. The boost is recomputed from the
    task's age, not added to, so running this twice (or late) gives the same priorities. One UPDATE;
    returns how many tasks changed."""
    now = now or timezone.now()
    step = max(1, settings.QUEUE_AGING_STEP_SECONDS)
    top = max(1, settings.QUEUE_AGING_MAX_BOOST)
    boost = Case(
        *[When(created_at__lte=now - timedelta(seconds=step * level), then=Value(level))
          for level in range(top, 0, -1)],
        default=Value(0), output_field=PositiveSmallIntegerField())
    stale = Task.objects.filter(status=Task.Status.OPEN, created_at__lte=now - timedelta(seconds=step)).filter(
        ~Q(age_boost=boost))
    return stale.update(priority=F("priority") - F("age_boost") + boost, age_boost=boost)
