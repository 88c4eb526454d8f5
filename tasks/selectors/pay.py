"""Effective hourly pay of projects: what a worker earns per hour at the project's observed pace, counting
cleared pay only (issue 20: pay follows evidence), with the part still pending shown apart.

    rate_hourly_cents      = round(reward_cents * 3600 / median(seconds_spent))
    effective_hourly_cents = round(rate_hourly_cents * cleared / (cleared + pending))
    pending_hourly_cents   = rate_hourly_cents - effective_hourly_cents

over the sample: the project's newest PAY_HOURLY_SAMPLE approved judgments with a positive seconds_spent
(gold included: a gold check is paid and timed like any other task, and a worker cannot tell them apart).
cleared and pending are the cents of the sample's credits in the ledger: cleared once a credit has left the
worker_pending account (payable at once, cleared since, or held or reversed by a flag), pending while it
waits there (payments, asked through marketplace.events.judgment_credits_cleared: tasks sits below payments).
A sample with no credits at all counts as cleared (nothing waits). The pay-floor alert (low_pay,
below_pay_floor) is on effective_hourly_cents: a project whose pay mostly waits looks like what it pays now.

seconds_spent is measured by the server (claim to submit); what the worker reports (Judgment.reported_seconds)
is never read here. The median, not the mean, so a few judgments left open over lunch do not make a project
look like it pays nothing. With fewer than PAY_HOURLY_MIN_JUDGMENTS such judgments every figure is None: a
median of two is noise, and a new project should not be branded "under the floor" by its first rater.

The figures are in the project's own currency (minor units), compared with PAY_FLOOR_HOURLY_CENTS as is.
No cache, and a cost bounded per project whatever its size: two queries for a whole page of projects, the
sample (on PostgreSQL one statement: a LATERAL walk of each project's (project, id) index newest first,
LIMIT PAY_HOURLY_SAMPLE, median and ids aggregated in the database; elsewhere one window query, the
median taken in Python) and the ledger read behind the hook.
"""

from __future__ import annotations

from collections.abc import Iterable
from statistics import median

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber

from marketplace import events
from tasks.models import Judgment, Project


def projects_hourly_sample(*, project_ids: Iterable[int], size: int | None = None
                           ) -> dict[int, tuple[float, int, list[int]]]:
    """{project_id: (median seconds, n, judgment ids)} over each project's newest ``size`` (PAY_HOURLY_SAMPLE)
    approved judgments with a positive seconds_spent, for the projects that have any. One query."""
    ids = sorted(set(project_ids))
    size = settings.PAY_HOURLY_SAMPLE if size is None else size
    if not ids:
        return {}
    if connection.vendor == "postgresql":
        sql = (f"SELECT p.id, percentile_cont(0.5) WITHIN GROUP (ORDER BY s.seconds_spent), count(*), "  # noqa: S608 - constant fragments only
               "array_agg(s.id) FROM unnest(%s::bigint[]) AS p(id) CROSS JOIN LATERAL ("
               f"SELECT j.id, j.seconds_spent FROM {Judgment._meta.db_table} j "
               "WHERE j.project_id = p.id AND j.status = %s AND j.seconds_spent > 0 "
               "ORDER BY j.id DESC LIMIT %s) AS s GROUP BY p.id")
        with connection.cursor() as cursor:
            cursor.execute(sql, [ids, Judgment.Status.APPROVED.value, size])
            return {pid: (float(med), n, list(sample)) for pid, med, n, sample in cursor.fetchall()}
    # Development databases (SQLite): one query still, numbering each project's judgments newest first.
    rows = (Judgment.objects.filter(project_id__in=ids, status=Judgment.Status.APPROVED, seconds_spent__gt=0)
            .annotate(rank=Window(RowNumber(), partition_by=[F("project_id")], order_by=F("id").desc()))
            .filter(rank__lte=size).order_by().values_list("project_id", "id", "seconds_spent"))
    samples: dict[int, list[tuple[int, float]]] = {}
    for pid, pk, seconds in rows:
        samples.setdefault(pid, []).append((pk, seconds))
    return {pid: (float(median(s for _, s in v)), len(v), [pk for pk, _ in v]) for pid, v in samples.items()}


def projects_median_seconds(*, project_ids: Iterable[int]) -> dict[int, tuple[float, int]]:
    """{project_id: (median seconds, number of judgments in the sample)} for projects that have any. One query."""
    return {pid: (med, n) for pid, (med, n, _) in projects_hourly_sample(project_ids=project_ids).items()}


def hourly_cents(*, reward_cents: int, median_seconds: float | None, n: int) -> int | None:
    """The rate (see the module docstring); None below the evidence threshold."""
    if median_seconds is None or not median_seconds > 0 or n < settings.PAY_HOURLY_MIN_JUDGMENTS:  # NaN too
        return None
    return round(reward_cents * 3600 / median_seconds)


def cleared_hourly_cents(*, rate: int | None, cleared_cents: int, pending_cents: int) -> tuple[int | None, int | None]:
    """(effective, pending) hourly cents: the rate split by the cleared share of the sample's credits
    (no credits: all cleared). (None, None) when the rate is unknown."""
    if rate is None:
        return None, None
    credited = cleared_cents + pending_cents
    effective = round(rate * cleared_cents / credited) if credited > 0 else rate
    return effective, rate - effective


def below_pay_floor(hourly: int | None) -> bool:
    """True only when the figure is known and under PAY_FLOOR_HOURLY_CENTS (unknown is not an alert)."""
    return hourly is not None and hourly < settings.PAY_FLOOR_HOURLY_CENTS


def projects_effective_hourly(*, projects: Iterable[Project]) -> dict[int, dict]:
    """{project_id: {"effective_hourly_cents", "pending_hourly_cents", "rate_hourly_cents", "below_pay_floor",
    "median_seconds", "n_timed", "cleared_cents", "pending_cents"}} for every given project (None figures when
    unknown; cleared_cents and pending_cents are the sample's credits). Two queries whatever the number of
    projects: the sample, and the ledger's answer (skipped when no project has a rate)."""
    projects = list(projects)
    samples = projects_hourly_sample(project_ids=[p.pk for p in projects])
    rates = {}
    for project in projects:
        med, n, _ = samples.get(project.pk, (None, 0, []))
        rates[project.pk] = hourly_cents(reward_cents=project.reward_cents, median_seconds=med, n=n)
    asked = {pid: samples[pid][2] for pid, rate in rates.items() if rate is not None}
    money = events.judgment_credits_cleared.ask(judgment_ids_by_project=asked) if asked else {}
    out = {}
    for project in projects:
        med, n, _ = samples.get(project.pk, (None, 0, []))
        credits = money.get(project.pk, {"cleared_cents": 0, "pending_cents": 0})
        effective, pending = cleared_hourly_cents(rate=rates[project.pk], **credits)
        out[project.pk] = {"effective_hourly_cents": effective, "pending_hourly_cents": pending,
                           "rate_hourly_cents": rates[project.pk], "below_pay_floor": below_pay_floor(effective),
                           "median_seconds": med, "n_timed": n, **credits}
    return out


def projects_attach_hourly(projects: Iterable[Project]) -> list[Project]:
    """Sets the keys of projects_effective_hourly (effective_hourly_cents, pending_hourly_cents,
    rate_hourly_cents, below_pay_floor, median_seconds, n_timed, ...) on each project (for serializers and
    admin columns); two queries for the lot. Returns the projects as a list."""
    projects = list(projects)
    figures = projects_effective_hourly(projects=projects)
    for project in projects:
        for key, value in figures[project.pk].items():
            setattr(project, key, value)
    return projects


def worker_hourly_pay(*, user, days: int = 30) -> list[dict]:
    """The worker's own effective hourly pay over the last ``days``: what their approved, timed judgments paid
    (each project's reward_cents) over the time they took (server-measured seconds_spent), per currency:
    ``[{"currency", "hourly_cents", "n_judgments", "hours", "earned_cents"}]`` (at the reward rate: the webapp
    shows the part still pending apart, webapp.views.money). hourly_cents is None below
    PAY_HOURLY_MIN_JUDGMENTS judgments, like a project's figure. One aggregate query over the worker's own
    recent judgments (the (worker, project) index), whatever the size of the table."""
    from datetime import timedelta

    from django.db.models import Sum
    from django.utils import timezone

    rows = (Judgment.objects.filter(worker=user, status=Judgment.Status.APPROVED, seconds_spent__gt=0,
                                    created_at__gte=timezone.now() - timedelta(days=days))
            .order_by().values(currency=F("project__currency"))
            .annotate(cents=Sum("project__reward_cents"), seconds=Sum("seconds_spent"), n=Count("id")))
    out = []
    for row in sorted(rows, key=lambda r: r["currency"]):
        enough = row["n"] >= settings.PAY_HOURLY_MIN_JUDGMENTS and row["seconds"] > 0
        out.append({"currency": row["currency"], "n_judgments": row["n"], "hours": row["seconds"] / 3600,
                    "earned_cents": int(row["cents"] or 0),
                    "hourly_cents": round(row["cents"] * 3600 / row["seconds"]) if enough else None})
    return out
