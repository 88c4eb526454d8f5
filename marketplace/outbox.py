"""The transactional outbox: Celery jobs that a committed write must cause.

A service calls outbox_enqueue() inside its transaction instead of transaction.on_commit(job.delay): the job
becomes an OutboxEvent row in the same transaction, so it exists if and only if the write committed, and a
broker that is down (or a process that dies right after the commit) loses nothing. The relay
(`manage.py outbox_relay`, one small process beside the workers) publishes unsent rows to Celery in id
order and marks them sent with a conditional UPDATE.

- Wake-up: on PostgreSQL the INSERT carries a pg_notify in the same statement; NOTIFY is transactional, so
  the relay (LISTENing) wakes at the commit and publishes within milliseconds, and the request never talks
  to the broker. Elsewhere (SQLite, the embedded default) the relay polls every OUTBOX_POLL_SECONDS.
- Broker down: publishing fails, the rows stay unsent, the relay retries with a backoff capped at
  OUTBOX_RETRY_MAX_SECONDS, so everything held goes out within seconds of the broker's return.
- Lost after publishing: the job runs under the Celery task id outbox-<id>, and the worker marks the row
  done when it finishes (job_done below). A row sent but not done after OUTBOX_REDELIVER_SECONDS is
  published again (at most OUTBOX_MAX_PUBLISHES times): a Redis that lost its data, or a worker killed at
  the moment it popped the message (kombu's Redis transport is not atomic there), loses nothing.
- Two relays never publish one row at once on PostgreSQL (FOR UPDATE SKIP LOCKED). A relay that dies
  between publishing and marking publishes the row again on restart: delivery is at least once, and every
  job is written to be safe to run twice.

See docs/design.md, "Outbox and faults".
"""

from __future__ import annotations

import json
import logging
import select
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from marketplace.models import OutboxEvent
from marketplace.observability.requestid import CELERY_HEADER as REQUEST_ID_HEADER
from marketplace.observability.requestid import current_request_id

logger = logging.getLogger(__name__)

CHANNEL = "marketplace_outbox"
TASK_ID_PREFIX = "outbox-"


class BrokerUnavailable(Exception):
    """Publishing to the Celery broker failed; the events stay in the outbox."""


def _job_name(job) -> str:
    return job if isinstance(job, str) else job.name


def outbox_enqueue(job, *args) -> None:
    """Record that `job` (a Celery task or its name) must run with `args` (JSON values, ids) once the
    caller's transaction commits. One INSERT; nothing if the transaction rolls back."""
    outbox_enqueue_many([(job, args)])


def outbox_enqueue_many(jobs: Iterable[tuple[object, Sequence]]) -> None:
    """Several jobs in one INSERT statement (same guarantees as outbox_enqueue)."""
    rows = [(_job_name(job), list(args)) for job, args in jobs]
    if not rows:
        return
    now = timezone.now()
    # The job runs later, in another process: the request's id goes with the row, so its log lines say
    # which request caused them.
    request_id = current_request_id()
    if connection.vendor == "postgresql":
        # One statement: the rows and the wake-up. NOTIFY is delivered at commit, never on rollback.
        table = OutboxEvent._meta.db_table
        values = ", ".join(["(%s, %s::jsonb, %s, 0, %s)"] * len(rows))
        params = [p for name, args in rows for p in (name, json.dumps(args), now, request_id)]
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH ev AS (INSERT INTO {table} (job, args, created_at, publishes, request_id) VALUES {values} "  # noqa: S608
                "RETURNING id) SELECT pg_notify(%s, '') FROM (SELECT 1 FROM ev LIMIT 1) AS one", [*params, CHANNEL])
        return
    OutboxEvent.objects.bulk_create([OutboxEvent(job=name, args=args, created_at=now, request_id=request_id)
                                     for name, args in rows])


def outbox_insert_cte(jobs: Iterable[tuple[object, Sequence]], *, when_sql: str) -> tuple[str, str, list]:
    """For a caller that records jobs inside one of its own statements (PostgreSQL only), so that the
    statement runs whether or not the jobs are due: (CTEs to put after the caller's own, a scalar
    expression the final SELECT must include (else PostgreSQL skips the wake-up), their parameters, in
    that order). The rows are inserted, and the relay woken, only where `when_sql` (a condition on the
    caller's CTEs) holds. The same guarantees as outbox_enqueue."""
    rows = [(_job_name(job), json.dumps(list(args))) for job, args in jobs]
    assert rows and connection.vendor == "postgresql", "outbox_insert_cte: PostgreSQL, one job at least"  # noqa: S101
    table = OutboxEvent._meta.db_table
    values = ", ".join(["(%s, %s)"] * len(rows))
    ctes = (f"outbox_ev AS (INSERT INTO {table} (job, args, created_at, publishes, request_id) "  # noqa: S608
            f"SELECT v.job, v.args::jsonb, %s, 0, %s FROM (VALUES {values}) AS v(job, args) WHERE {when_sql} "
            "RETURNING id), outbox_wake AS (SELECT pg_notify(%s, '') FROM (SELECT 1 FROM outbox_ev LIMIT 1) AS one)")
    params = [timezone.now(), current_request_id(), *[p for row in rows for p in row], CHANNEL]
    return ctes, "(SELECT count(*) FROM outbox_wake)", params


def _due():
    """Events to publish: never sent, or sent long enough ago without finishing (lost on the way)."""
    cutoff = timezone.now() - timedelta(seconds=settings.OUTBOX_REDELIVER_SECONDS)
    return (OutboxEvent.objects.filter(done_at__isnull=True, publishes__lt=settings.OUTBOX_MAX_PUBLISHES)
            .filter(Q(sent_at__isnull=True) | Q(sent_at__lt=cutoff)))


def outbox_relay_once(*, limit: int | None = None) -> int:
    """Publishes up to `limit` due events, oldest first, and marks them sent; returns how many.
    Raises BrokerUnavailable when the broker refuses (the events published before that are marked sent,
    the rest stay for the next pass)."""
    from marketplace.celery import app

    limit = limit or settings.OUTBOX_BATCH_SIZE
    published: list[int] = []
    failure: Exception | None = None
    with transaction.atomic():
        rows = list(_due().select_for_update(skip_locked=True).order_by("id")
                    .values_list("id", "job", "args", "publishes", "request_id")[:limit])
        for pk, job, args, publishes, request_id in rows:
            if publishes:
                logger.warning("outbox relay: job %s%s (event %s) sent %d time(s) but not done; publishing again",
                               job, tuple(args), pk, publishes)
            try:
                # retry=False: the relay owns the retries (backoff in outbox_relay_forever).
                headers = {REQUEST_ID_HEADER: request_id} if request_id else None
                app.send_task(job, args=args, task_id=f"{TASK_ID_PREFIX}{pk}", retry=False, headers=headers)
            except Exception as exc:  # kombu and redis-py raise many types; all mean "not published"
                failure = exc
                break
            published.append(pk)
        if published:
            OutboxEvent.objects.filter(pk__in=published, done_at__isnull=True).update(
                sent_at=timezone.now(), publishes=F("publishes") + 1)
    if failure is not None:
        raise BrokerUnavailable(f"{type(failure).__name__}: {failure}") from failure
    if len(published) < limit:
        _give_up_on_stuck()
    return len(published)


def _give_up_on_stuck() -> None:
    """Jobs published OUTBOX_MAX_PUBLISHES times that never finished (a job no worker knows, one that always
    dies with its worker) are closed with an error in the log, so the relay's scan stays as small as the
    backlog. They remain in the table (publishes = the maximum) until pruned."""
    cutoff = timezone.now() - timedelta(seconds=settings.OUTBOX_REDELIVER_SECONDS)
    stuck = list(OutboxEvent.objects.filter(done_at__isnull=True, publishes__gte=settings.OUTBOX_MAX_PUBLISHES,
                                            sent_at__lt=cutoff).values_list("id", "job")[:100])
    if stuck:
        OutboxEvent.objects.filter(pk__in=[pk for pk, _ in stuck], done_at__isnull=True).update(done_at=timezone.now())
        logger.error("outbox relay: gave up on %d job(s) published %d times without finishing: %s",
                     len(stuck), settings.OUTBOX_MAX_PUBLISHES, stuck)


def outbox_drain(*, limit: int | None = None) -> int:
    """outbox_relay_once until the backlog is empty; returns how many were published."""
    limit = limit or settings.OUTBOX_BATCH_SIZE
    total = 0
    while True:
        n = outbox_relay_once(limit=limit)
        total += n
        if n < limit:
            return total


def outbox_job_done(*, task_id: str) -> None:
    """Called by the worker when a job finished (Celery's task_postrun with state SUCCESS or FAILURE, not
    RETRY): the event of task id outbox-<id> is done and never redelivered. Any other task id: nothing."""
    if not task_id or not task_id.startswith(TASK_ID_PREFIX):
        return
    try:
        pk = int(task_id[len(TASK_ID_PREFIX):])
    except ValueError:
        return
    OutboxEvent.objects.filter(pk=pk, done_at__isnull=True).update(done_at=timezone.now())


def outbox_prune(*, keep_seconds: int | None = None, limit: int = 10_000) -> int:
    """Deletes at most `limit` events done more than `keep_seconds` ago (oldest ids first, which is where
    they are); returns how many. Events not done are never deleted."""
    keep = settings.OUTBOX_KEEP_SECONDS if keep_seconds is None else keep_seconds
    cutoff = timezone.now() - timedelta(seconds=keep)
    ids = list(OutboxEvent.objects.filter(done_at__lt=cutoff).order_by("id").values_list("id", flat=True)[:limit])
    if not ids:
        return 0
    return OutboxEvent.objects.filter(pk__in=ids, done_at__isnull=False).delete()[0]


def outbox_backlog(*, cap: int = 10_000) -> dict:
    """How many events wait to be published (counted up to `cap`, so the check stays cheap in a long
    outage), the age in seconds of the oldest, and how many were published but are not done yet."""
    not_done = OutboxEvent.objects.filter(done_at__isnull=True)
    unsent = not_done.filter(sent_at__isnull=True)
    pending = unsent.order_by("id")[:cap].count()
    oldest = unsent.order_by("id").values_list("created_at", flat=True).first()
    age = round((timezone.now() - oldest).total_seconds(), 1) if oldest else None
    in_flight = not_done.filter(sent_at__isnull=False).order_by("id")[:cap].count()
    return {"pending": pending, "oldest_seconds": age, "in_flight": in_flight}


class _Listener:
    """A dedicated autocommit connection LISTENing on CHANNEL (PostgreSQL only): wait() returns early when
    a transaction that wrote events commits."""

    def __init__(self):
        self.conn = None

    def _connect(self):
        import psycopg

        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("server_side_binding", None)
        params.pop("prepare_threshold", None)
        params.pop("context", None)
        self.conn = psycopg.connect(**params, autocommit=True)
        self.conn.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout: float) -> None:
        try:
            if self.conn is None or self.conn.closed:
                self._connect()
            # Consume what arrived while the relay was busy, then wait on the socket for the next one.
            for _ in self.conn.notifies(timeout=0, stop_after=1000):
                pass
            ready, _, _ = select.select([self.conn.fileno()], [], [], timeout)
            if ready:
                for _ in self.conn.notifies(timeout=0, stop_after=1000):
                    pass
        except Exception:  # database gone: poll instead, reconnect on the next wait
            logger.warning("outbox relay: LISTEN connection lost; polling until the database returns")
            self.close()
            time.sleep(timeout)

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001 - already broken
                pass
        self.conn = None


def outbox_relay_forever(*, stop: threading.Event | None = None, poll_seconds: float | None = None) -> None:
    """The relay loop (`manage.py outbox_relay`): drain, then wait for a commit (PostgreSQL) or the poll
    interval; broker or database failures back off (doubling up to OUTBOX_RETRY_MAX_SECONDS) and never
    end the loop. Prunes sent events once a minute."""
    stop = stop or threading.Event()
    poll = settings.OUTBOX_POLL_SECONDS if poll_seconds is None else poll_seconds
    retry_max = settings.OUTBOX_RETRY_MAX_SECONDS
    listener = _Listener() if connection.vendor == "postgresql" else None
    backoff = 0.0
    next_prune = 0.0
    down_since: float | None = None
    while not stop.is_set():
        try:
            n = outbox_drain()
            if down_since is not None:
                logger.info("outbox relay: publishing again after %.1fs", time.monotonic() - down_since)
                down_since = None
            if n:
                logger.debug("outbox relay: published %d events", n)
            if time.monotonic() >= next_prune:
                outbox_prune()
                next_prune = time.monotonic() + 60
            backoff = 0.0
        except BrokerUnavailable as exc:
            if down_since is None:
                down_since = time.monotonic()
                logger.warning("outbox relay: broker unavailable (%s); events are held in the outbox", exc)
            backoff = min(max(backoff * 2, 0.1), retry_max)
        except DatabaseError as exc:
            logger.warning("outbox relay: database unavailable (%s); retrying", type(exc).__name__)
            connection.close()  # a fresh connection once the database is back
            backoff = min(max(backoff * 2, 0.1), retry_max)
        if backoff:
            stop.wait(backoff)
        elif listener is not None:
            listener.wait(poll)
        else:
            stop.wait(poll)
    if listener is not None:
        listener.close()
