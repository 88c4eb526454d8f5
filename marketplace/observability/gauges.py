"""The gauges /metrics reports, read from the database at scrape time with queries whose cost does not
grow with the big tables (tasks, judgments, ledger entries). docs/operations.md names each query.

Tasks per project are the one figure that only a count over the tasks table gives: a beat job
(marketplace.jobs.refresh_project_gauges, every METRICS_PROJECT_REFRESH_SECONDS) counts them with the
(project, status) index and keeps the result in the cache; a scrape reads that snapshot and never counts."""

import time

from django.core.cache import cache
from django.db.models import Count, Sum
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

PROJECT_SNAPSHOT_KEY = "observability:project-task-counts"


def project_task_counts_refresh() -> dict:
    """Counts open and complete tasks of every project that is not completed (a completed project's counts
    no longer move; its last snapshot row is kept). One GROUP BY over the (project, status) index."""
    from tasks.models import Project, Task

    previous = (cache.get(PROJECT_SNAPSHOT_KEY) or {}).get("projects", {})
    live_ids = list(Project.objects.exclude(status=Project.Status.COMPLETED).values_list("id", flat=True))
    counts = {pid: row for pid, row in previous.items() if pid not in live_ids}
    for pid in live_ids:
        counts[pid] = {"open": 0, "complete": 0}
    rows = (Task.objects.filter(project_id__in=live_ids).order_by().values("project_id", "status")
            .annotate(n=Count("id")).values_list("project_id", "status", "n"))
    for pid, status, n in rows:
        counts[pid][status] = n
    names = dict(Project.objects.filter(id__in=list(counts)).values_list("id", "name"))
    snapshot = {"at": time.time(), "projects": {pid: {**row, "name": names.get(pid, "")}
                                                for pid, row in counts.items() if pid in names}}
    cache.set(PROJECT_SNAPSHOT_KEY, snapshot, timeout=None)
    return snapshot


def project_task_counts() -> dict:
    return cache.get(PROJECT_SNAPSHOT_KEY) or {"at": None, "projects": {}}


def live_assignments_by_project() -> dict[int, int]:
    """Live leases per project: only live rows, found through the (status, expires_at) index; bounded by
    workers x QUEUE_MAX_LIVE_CLAIMS, not by history."""
    from tasks.models import Assignment

    return dict(Assignment.objects.filter(status=Assignment.Status.LIVE).order_by().values("project_id")
                .annotate(n=Count("id")).values_list("project_id", "n"))


def open_flags_by_rule() -> dict[str, int]:
    """Open flags: the (status, created_at) index; open flags are the review backlog, not history."""
    from quality.models import Flag

    return dict(Flag.objects.filter(status=Flag.Status.OPEN).order_by().values("rule")
                .annotate(n=Count("id")).values_list("rule", "n"))


# Ledger account kind -> the word finance uses (docs/payments.md).
# worker_pending (earned, waiting for the worker's work to be checked: payments.services.clearance) is
# "awaiting_clearance"; "pending" stays the held money it always named.
LEDGER_STATES = {"worker_held": "pending", "worker_payable": "payable", "payouts_in_transit": "in_transit",
                 "paid_out": "paid", "worker_pending": "awaiting_clearance"}


def ledger_totals() -> dict[tuple[str, str], int]:
    """{(state, currency): cents} from the cached balances of the worker accounts (one row per worker, kind
    and currency: grows with workers, never with entries)."""
    from payments.models import LedgerAccount

    rows = (LedgerAccount.objects.filter(kind__in=list(LEDGER_STATES)).order_by().values("kind", "currency")
            .annotate(total=Sum("balance_cents")).values_list("kind", "currency", "total"))
    return {(LEDGER_STATES[kind], currency): int(total or 0) for kind, currency, total in rows}


# Batches whose lines still move, plus the last ones that finished: a scrape reads lines of these only
# (the (batch, status) index), never the whole history of payouts.
RECENT_FINISHED_BATCHES = 20


def payout_batch_ids_in_view() -> list[int]:
    from payments.models import PayoutBatch

    open_ids = list(PayoutBatch.objects.filter(status__in=["draft", "approved", "executing"])
                    .values_list("id", flat=True))
    recent = list(PayoutBatch.objects.exclude(id__in=open_ids).order_by("-id")
                  .values_list("id", flat=True)[:RECENT_FINISHED_BATCHES])
    return open_ids + recent


def payout_lines_by_status() -> dict[str, int]:
    from payments.models import PayoutLine

    return dict(PayoutLine.objects.filter(batch_id__in=payout_batch_ids_in_view()).order_by().values("status")
                .annotate(n=Count("id")).values_list("status", "n"))


class MarketplaceCollector(Collector):
    """Reads the gauges at each scrape (registered once in the web process; see metrics_view)."""

    def collect(self):
        snapshot = project_task_counts()
        live = live_assignments_by_project()
        tasks = GaugeMetricFamily("marketplace_project_tasks", "Tasks per project and state (open, complete from "
                                  "the refreshed snapshot; live = tasks' live leases now).",
                                  labels=["project", "project_name", "state"])
        for pid, row in sorted(snapshot["projects"].items()):
            for state in ("open", "complete"):
                tasks.add_metric([str(pid), row["name"], state], row.get(state, 0))
            tasks.add_metric([str(pid), row["name"], "live"], live.get(pid, 0))
        yield tasks
        age = GaugeMetricFamily("marketplace_project_tasks_snapshot_age_seconds",
                                "Age of the per-project task counts (-1: never refreshed).")
        age.add_metric([], time.time() - snapshot["at"] if snapshot["at"] else -1)
        yield age

        flags = GaugeMetricFamily("marketplace_open_flags", "Quality flags waiting for ops, by rule.", labels=["rule"])
        for rule, n in sorted(open_flags_by_rule().items()):
            flags.add_metric([rule], n)
        yield flags

        ledger = GaugeMetricFamily("marketplace_ledger_cents", "Money owed to workers by state and currency "
                                   "(pending = held for review, payable, in_transit to Stripe, paid).",
                                   labels=["state", "currency"])
        for (state, currency), cents in sorted(ledger_totals().items()):
            ledger.add_metric([state, currency], cents)
        yield ledger

        lines = GaugeMetricFamily("marketplace_payout_lines", "Payout lines of open and the last "
                                  f"{RECENT_FINISHED_BATCHES} finished batches, by status.", labels=["status"])
        for status, n in sorted(payout_lines_by_status().items()):
            lines.add_metric([status], n)
        yield lines


THROUGHPUT_KEY = "observability:judgments-per-hour"
THROUGHPUT_HOURS = 25


def judgments_per_hour_refresh(now=None) -> dict:
    """Judgments per project and hour, rolled up incrementally: each run counts only the judgments made
    since the last run (ids above the last one it saw, through the primary key), adds them to hourly
    buckets kept in the cache and drops buckets older than THROUGHPUT_HOURS. The first run starts at the
    first judgment of the last 24 hours (a binary search on the id). The ops console sums the buckets, so a
    page never counts judgments. Run by beat with the task counts (marketplace.jobs.refresh_project_gauges)."""
    from datetime import timedelta

    from django.db.models.functions import TruncHour
    from django.utils import timezone

    from marketplace.observability.consoles import first_id_since
    from tasks.models import Judgment

    now = now or timezone.now()
    state = cache.get(THROUGHPUT_KEY) or {}
    last_id = state.get("last_id")
    buckets: dict[str, dict[int, int]] = state.get("buckets", {})
    if last_id is None:
        start = first_id_since(Judgment, now - timedelta(hours=24))
        last_id = (start - 1) if start is not None else (
            Judgment.objects.order_by("-id").values_list("id", flat=True).first() or 0)
    top = Judgment.objects.order_by("-id").values_list("id", flat=True).first() or last_id
    rows = (Judgment.objects.filter(id__gt=last_id, id__lte=top).order_by()
            .annotate(hour=TruncHour("created_at")).values("hour", "project_id").annotate(n=Count("id"))
            .values_list("hour", "project_id", "n"))
    for hour, pid, n in rows:
        bucket = buckets.setdefault(hour.isoformat(), {})
        bucket[pid] = bucket.get(pid, 0) + n
    oldest = (now - timedelta(hours=THROUGHPUT_HOURS)).replace(minute=0, second=0, microsecond=0).isoformat()
    buckets = {hour: b for hour, b in buckets.items() if hour >= oldest}
    state = {"last_id": top, "buckets": buckets, "at": time.time()}
    cache.set(THROUGHPUT_KEY, state, timeout=None)
    return state


def judgments_last_24h(now=None) -> dict[int, int] | None:
    """{project_id: judgments in the last 24 hours (whole hours)} from the rollup; None before its first run."""
    from datetime import timedelta

    from django.utils import timezone

    state = cache.get(THROUGHPUT_KEY)
    if state is None:
        return None
    now = now or timezone.now()
    since = (now - timedelta(hours=24)).replace(minute=0, second=0, microsecond=0).isoformat()
    out: dict[int, int] = {}
    for hour, bucket in state["buckets"].items():
        if hour >= since:
            for pid, n in bucket.items():
                out[pid] = out.get(pid, 0) + n
    return out
