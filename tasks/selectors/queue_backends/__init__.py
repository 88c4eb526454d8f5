"""The queue's one seam: the SQL a claim runs, in a PostgreSQL implementation (postgres.py) and a portable
one (portable.py, the Django ORM: SQLite, and PostgreSQL when QUEUE_CLAIM_RAW_SQL=0), chosen here and
nowhere else. Both keep the same rules (docs/queue.md); tests/tasks/test_queue_serial.py runs against each
backend the database can run (both on PostgreSQL, the portable one on SQLite).

A backend is a module with:

- ``name``: "postgres" or "portable";
- ``worker_lock(*, user)``: the claim's first statement, the worker's lock (docs/queue.md, lock order);
- ``worker_may_claim(*, user) -> bool`` and ``claim_state(*, user, now) -> (may, live, stale)``;
- ``claim_context(*, user, project_id, now) -> ClaimContext``: everything the claim decides on;
- ``pick(*, user, projects, gold, reason, passed_over, lenient, attempt) -> row | None``: lease the best
  candidate (row: assignment id, task id, project id, served reason, expires_at, task data); the portable
  backend raises IntegrityError when the task filled up between its pick and its update; with ``task_id``,
  that candidate (found by the claim's peek) or nothing;
- ``peek(*, user, projects, gold, lenient) -> (id, n_active, overlap, priority, age_boost, project
  priority) | None``: the best candidate, read without locks.
- ``peek_for_gold(*, user, projects) -> (peek row | None, gold task id | None)``: what a claim in projects
  with gold reads before its pick, gold drawn or not: the real task a gold check would stand in for (and a
  real claim takes), and the gold task a gold check would serve.

Cost: both read each project's candidates in the order of its partial index (task_claimable_order,
task_gold_claimable), at most a few per project, and merge them, so a claim costs what the worker's
projects and their own history there cost, never what the number of open tasks does (docs/queue.md).
"""

from __future__ import annotations

from types import ModuleType

from django.conf import settings
from django.db import connection


def queue_backend() -> ModuleType:
    """The backend for the default connection: PostgreSQL's own SQL there (unless QUEUE_CLAIM_RAW_SQL=0
    forces the portable one), the portable one on any other database."""
    if connection.vendor == "postgresql" and settings.QUEUE_CLAIM_RAW_SQL:
        from tasks.selectors.queue_backends import postgres

        return postgres
    from tasks.selectors.queue_backends import portable

    return portable


def available_backends() -> list[str]:
    """The backends this database can run (what the queue suite is parametrized over)."""
    return ["postgres", "portable"] if connection.vendor == "postgresql" else ["portable"]


# How many candidates each project offers per attempt (attempt 0, 1, ...; None: all of them). A claim
# locks the first candidate no other claim holds (SKIP LOCKED), so a few per project are enough unless
# that many of one project's best rows are held at once; a retry then reads more. The last attempt reads
# them all, as a single global order would.
PER_PROJECT = (4, 32, 256, 2048, None)


def per_project(attempt: int) -> int | None:
    return PER_PROJECT[min(attempt, len(PER_PROJECT) - 1)]


def served_reason(*, n_before: int, overlap: int, age_boost: int, priority: int, project_priority: int) -> str:
    """Why a task was served, in words (mirrored by postgres.REASON_SQL; a test holds the two together)."""
    if n_before > 0:
        return f"closest to completion: {n_before}/{overlap} judgments"
    if age_boost > 0:
        return "waiting longest: priority raised with age"
    if priority > 0 or project_priority > 0:
        return "priority task"
    return "oldest open task"
