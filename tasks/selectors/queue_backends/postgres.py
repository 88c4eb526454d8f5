"""The queue on PostgreSQL: the claim as few, written-out statements (docs/queue.md, "How the claim stays
correct and fast"). Chosen by tasks.selectors.queue_backends.queue_backend.

- The worker's lock: their profile row FOR UPDATE.
- The context read: the workers app's eligibility rules (their queryset compiled once per process),
  live leases, whether any lease has run out and the projects the worker may claim from, in one statement.
- The pick: one statement (a CTE) that locks the best candidate FOR UPDATE SKIP LOCKED, increments its
  n_active with a conditional UPDATE and inserts the assignment.

Candidates are read per project in the order of the project's partial index (a LATERAL join, at most
``per_project(attempt)`` rows each), then merged, so the cost follows the worker's projects and their own
history there, not the number of open tasks: within one project the serving order (n_active, project
priority + task priority, id) is the index's order, since the project's priority is the same for all of
its tasks, so the best of the merged candidates is the best overall.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from tasks.models import Assignment

name = "postgres"

REASON_SQL = """CASE
    WHEN b.n_active > 1 THEN 'closest to completion: ' || (b.n_active - 1) || '/' || b.overlap || ' judgments'
    WHEN b.age_boost > 0 THEN 'waiting longest: priority raised with age'
    WHEN b.priority > 0 OR p.priority > 0 THEN 'priority task'
    ELSE 'oldest open task' END"""

_eligible_sql_cache: dict[str, tuple | None] = {}


def eligible_sql_template() -> tuple | None:
    """workers_eligible_for's SQL, compiled once per process (per TERMS_VERSION, the one setting it reads),
    with the places of the user id and of "now" in its parameters; None when its parameters cannot be told
    apart safely (then every claim compiles the queryset, as the portable backend does). Compiling that
    queryset was half of a claim's CPU; the rules stay the workers app's own, read from its queryset.
    PostgreSQL's only: its driver keeps datetimes as datetimes, which is how "now" is found."""
    from workers.selectors import workers_eligible_for

    key = str(settings.TERMS_VERSION)
    if key not in _eligible_sql_cache:
        def compile_for(pk):
            qs = workers_eligible_for(skill_ids=(), pool_id=None).filter(pk=pk).values("pk")[:1]
            sql, params = qs.query.sql_with_params()
            return sql, list(params)

        (sql_a, params_a), (sql_b, params_b) = compile_for(-7_000_001), compile_for(-7_000_002)
        slots, ok = [], sql_a == sql_b and len(params_a) == len(params_b)
        for i, (a, b) in enumerate(zip(params_a, params_b, strict=False)):
            if a == -7_000_001 and b == -7_000_002:
                slots.append(("pk", i))
            elif isinstance(a, datetime) and a != b:
                slots.append(("now", i))
            elif a != b:
                ok = False
        nows = {params_a[i] for kind, i in slots if kind == "now"}
        ok = ok and len(nows) <= 1 and any(kind == "pk" for kind, _ in slots)
        _eligible_sql_cache[key] = (sql_a, params_a, slots) if ok else None
    return _eligible_sql_cache[key]


def _eligible(*, user, now) -> tuple[str, list] | None:
    template = eligible_sql_template()
    if template is None:
        return None
    sql, params, slots = template
    params = list(params)
    for kind, i in slots:
        params[i] = user.pk if kind == "pk" else now
    return sql, params


def worker_lock(*, user) -> None:
    """The worker's profile row FOR UPDATE (a person without a profile may not claim; nothing is locked)."""
    from workers.models import WorkerProfile

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {WorkerProfile._meta.db_table} WHERE user_id = %s FOR UPDATE",  # noqa: S608
                       [user.pk])


def worker_may_claim(*, user) -> bool:
    """workers_eligible_for(skill_ids=(), pool_id=None) contains the user: one query."""
    eligible = _eligible(user=user, now=timezone.now())
    if eligible is None:
        from tasks.selectors.queue_backends import portable

        return portable.worker_may_claim(user=user)
    with connection.cursor() as cursor:
        cursor.execute(*eligible)
        return cursor.fetchone() is not None


def claim_state(*, user, now) -> tuple[bool, int, bool]:
    """(may claim, live claims, whether any live lease anywhere has run out) in one round trip."""
    eligible = _eligible(user=user, now=now)
    if eligible is None:
        from tasks.selectors.queue_backends import portable

        return portable.claim_state(user=user, now=now)
    sql, params = eligible
    table = Assignment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT EXISTS ({sql}),
                       (SELECT count(*) FROM {table} WHERE worker_id = %s AND status = 'live' AND expires_at > %s),
                       EXISTS (SELECT 1 FROM {table} WHERE status = 'live' AND expires_at <= %s)""",  # noqa: S608
            [*params, user.pk, now, now])
        may, live, stale = cursor.fetchone()
    return bool(may), live, bool(stale)


def claim_context(*, user, project_id: int | None, now):
    """claim_state and the claimable projects in one round trip: the projects are read with a LATERAL join
    on the state row, so a worker who may not claim costs no project query, and the answer has at least
    one row."""
    from tasks.selectors.queue import ClaimContext, _in_pools, _project_from_row, _projects_sql, _under_share_cap

    eligible = _eligible(user=user, now=now)
    if eligible is None:
        from tasks.selectors.queue_backends import portable

        return portable.claim_context(user=user, project_id=project_id, now=now)
    eligible_sql, eligible_params = eligible
    projects_sql, projects_params = _projects_sql(user=user, project_id=project_id)
    table = Assignment._meta.db_table
    sql = f"""
        SELECT s.may, s.live, s.stale, p.*
        FROM (SELECT EXISTS ({eligible_sql}) AS may,
                     (SELECT count(*) FROM {table} WHERE worker_id = %s AND status = 'live' AND expires_at > %s) AS live,
                     EXISTS (SELECT 1 FROM {table} WHERE status = 'live' AND expires_at <= %s) AS stale) s
        LEFT JOIN LATERAL (SELECT * FROM ({projects_sql}) q WHERE s.may) p ON true"""  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*eligible_params, user.pk, now, now, *projects_params])
        rows = cursor.fetchall()
    may, live, stale = bool(rows[0][0]), rows[0][1], bool(rows[0][2])
    projects = [_project_from_row(row[3:]) for row in rows if row[3] is not None]
    return ClaimContext(may, live, stale, _under_share_cap(_in_pools(user=user, projects=projects)))


def _order_sql(projects, gold: bool, alias: str = "t") -> str:
    if gold:
        return f"{alias}.n_active, {alias}.id"  # spread gold checks over the gold set
    if len({p.priority for p in projects}) == 1:
        # Same project priority everywhere: leave it out so the partial index gives the order directly.
        return f"{alias}.n_active DESC, {alias}.priority DESC, {alias}.id"
    return f"{alias}.n_active DESC, (p.priority + {alias}.priority) DESC, {alias}.id"


def _open_for_worker(alias: str, gold: bool, lenient: bool) -> str:
    """The candidate conditions on a task row: open, of its kind, below overlap, untouched by the worker,
    not excluded from it (TaskExclusion: an author of the answers a review task ranks) (and, unless ``lenient``, not passed over by a gold check of theirs)."""
    # Whether gold is wanted is written as a literal: it lets a prepared statement's generic plan use the
    # partial index of its kind (task_claimable_order or task_gold_claimable), which a parameter would not.
    is_gold = f"{alias}.is_gold" if gold else f"NOT {alias}.is_gold"
    passed_over = "" if lenient else f"""AND NOT EXISTS (SELECT 1 FROM tasks_assignment s
                          WHERE s.passed_over_task_id = {alias}.id AND s.worker_id = %(worker)s)"""  # noqa: S608
    return f"""{alias}.status = 'open' AND {is_gold} AND {alias}.n_active < {alias}.overlap
          AND NOT EXISTS (SELECT 1 FROM tasks_assignment a WHERE a.task_id = {alias}.id AND a.worker_id = %(worker)s)
          AND NOT EXISTS (SELECT 1 FROM tasks_taskexclusion e WHERE e.task_id = {alias}.id AND e.worker_id = %(worker)s)
          {passed_over}"""  # noqa: S608


def candidates_sql(projects, gold: bool, lenient: bool = False, per_project: int | None = None) -> str:
    """The best candidate task (id, n_active, overlap, priority, age_boost, project priority). One project:
    its partial index read in order up to the first row taken. Several: each project's first
    ``per_project`` candidates in index order (LATERAL ... LIMIT), merged by the serving order; None reads
    them all. Only constant fragments are formatted into the SQL; every value is a bound parameter."""
    columns = "t.id, t.n_active, t.overlap, t.priority, t.age_boost, p.priority AS project_priority"
    if len(projects) == 1:
        return f"""
        SELECT {columns}
        FROM tasks_task t JOIN tasks_project p ON p.id = t.project_id
        WHERE t.project_id = %(project)s AND p.status = 'active' AND {_open_for_worker("t", gold, lenient)}
        ORDER BY {_order_sql(projects, gold)}
        LIMIT 1"""  # noqa: S608
    limit = "ALL" if per_project is None else str(int(per_project))
    # The outer conditions repeat what may change under a concurrent claim: a row locked FOR UPDATE is
    # re-checked against them in its newest version (the inner subquery's are not).
    return f"""
        SELECT {columns}
        FROM tasks_project p
        CROSS JOIN LATERAL (
            SELECT x.id FROM tasks_task x
            WHERE x.project_id = p.id AND {_open_for_worker("x", gold, lenient)}
            ORDER BY {_order_sql([projects[0]], gold, alias="x")}
            LIMIT {limit}) c
        JOIN tasks_task t ON t.id = c.id
        WHERE p.id = ANY(%(projects)s) AND p.status = 'active'
          AND t.status = 'open' AND t.n_active < t.overlap
        ORDER BY {_order_sql(projects, gold)}
        LIMIT 1"""  # noqa: S608


def _params(*, user, projects, reason=None, passed_over=None) -> dict:
    ids = [p.id for p in projects]
    return {"project": ids[0], "projects": ids, "worker": user.pk, "reason": reason, "passed_over": passed_over,
            "now": timezone.now()}


def _chosen_sql(gold: bool) -> str:
    """One named candidate (%(task)s), if it is still one: what a claim takes after its peek found it."""
    return f"""
        SELECT t.id, t.n_active, t.overlap, t.priority, t.age_boost, p.priority AS project_priority
        FROM tasks_task t JOIN tasks_project p ON p.id = t.project_id
        WHERE t.id = %(task)s AND p.id = ANY(%(projects)s) AND p.status = 'active'
          AND {_open_for_worker("t", gold, False)}"""  # noqa: S608


def pick(*, user, projects, gold, reason, passed_over, lenient, attempt=0, task_id=None):
    """The claim as one statement, in the claim's transaction. `task_id`: take that candidate or nothing
    (the one the claim's peek found)."""
    from tasks.selectors.queue_backends import per_project

    cand = _chosen_sql(gold) if task_id is not None else candidates_sql(projects, gold, lenient, per_project(attempt))
    sql = f"""
        WITH cand AS ({cand} FOR UPDATE OF t SKIP LOCKED),
        bumped AS (
            UPDATE tasks_task t SET n_active = t.n_active + 1 FROM cand
            WHERE t.id = cand.id AND t.n_active < t.overlap AND t.status = 'open'
            RETURNING t.id, t.project_id, t.n_active, t.overlap, t.priority, t.age_boost, t.data
        ),
        ins AS (
            INSERT INTO tasks_assignment (task_id, worker_id, project_id, status, served_reason, claimed_at, expires_at,
                                          passed_over_task_id)
            SELECT b.id, %(worker)s, b.project_id, 'live', COALESCE(%(reason)s, {REASON_SQL}),
                   %(now)s, %(now)s + p.lease_seconds * interval '1 second', %(passed_over)s::bigint
            FROM bumped b JOIN tasks_project p ON p.id = b.project_id
            RETURNING id, task_id, project_id, served_reason, expires_at
        )
        SELECT ins.id, ins.task_id, ins.project_id, ins.served_reason, ins.expires_at, b.data::text
        FROM ins JOIN bumped b ON b.id = ins.task_id"""  # noqa: S608
    # Inside the claim's transaction, without a savepoint: under the worker's lock the only race a
    # statement could lose (the same worker taking the same task twice) cannot happen.
    with connection.cursor() as cursor:
        cursor.execute(sql, {**_params(user=user, projects=projects, reason=reason, passed_over=passed_over),
                             "task": task_id})
        return cursor.fetchone()


def peek(*, user, projects, gold, lenient=False):
    """The best candidate, read without locks (one per project is enough: nothing is skipped)."""
    with connection.cursor() as cursor:
        cursor.execute(candidates_sql(projects, gold, lenient, per_project=1), _params(user=user, projects=projects))
        row = cursor.fetchone()
    return tuple(row) if row is not None else None


def peek_for_gold(*, user, projects):
    """(the best real candidate, as peek, or None; the id of the gold task a gold check would serve, or
    None), read without locks in one statement: a claim in projects with gold runs it whatever the gold
    draw said, so a gold claim and a real one run the same statements (docs/queue.md, "What a worker can
    learn about gold")."""
    real = candidates_sql(projects, False, per_project=1)
    gold = candidates_sql(projects, True, per_project=1)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT r.*, (SELECT g.id FROM ({gold}) g) AS gold_id FROM ({real}) r",  # noqa: S608
                       _params(user=user, projects=projects))
        row = cursor.fetchone()
    return (tuple(row[:-1]), row[-1]) if row is not None else (None, None)
