"""Effective hourly pay of projects: what a worker earns per hour at the project's observed pace.

    effective_hourly_cents = round(reward_cents * 3600 / median(seconds_spent))

over the project's approved judgments with a positive seconds_spent (gold included: a gold check is paid
and timed like any other task, and a worker cannot tell them apart). seconds_spent is measured by the
server (claim to submit); what the worker reports (Judgment.reported_seconds) is never read here. The median, not the mean, so a few
judgments left open over lunch do not make a project look like it pays nothing. With fewer than
PAY_HOURLY_MIN_JUDGMENTS such judgments the figure is None: a median of two is noise, and a new project
should not be branded "under the floor" by its first rater.

The figure is in the project's own currency (minor units), compared with PAY_FLOOR_HOURLY_CENTS as is.
No cache: one aggregate query for a whole page of projects (PostgreSQL percentile_cont; elsewhere the
timed values are read in one ordered query and the median taken in Python).
"""

from __future__ import annotations

from collections.abc import Iterable
from statistics import median

from django.conf import settings
from django.db import connection
from django.db.models import Aggregate, Count, FloatField

from tasks.models import Judgment, Project


class Median(Aggregate):
    """PostgreSQL's continuous median: percentile_cont(0.5) WITHIN GROUP (ORDER BY expr)."""

    function = "percentile_cont"
    name = "Median"
    output_field = FloatField()
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"


def _timed_judgments(project_ids: list[int]):
    return Judgment.objects.filter(project_id__in=project_ids, status=Judgment.Status.APPROVED,
                                   seconds_spent__gt=0)


def projects_median_seconds(*, project_ids: Iterable[int]) -> dict[int, tuple[float, int]]:
    """{project_id: (median seconds, number of timed approved judgments)} for projects that have any.
    One query."""
    ids = sorted(set(project_ids))
    if not ids:
        return {}
    if connection.vendor == "postgresql":
        rows = (_timed_judgments(ids).order_by().values("project_id")
                .annotate(med=Median("seconds_spent"), n=Count("id")).values_list("project_id", "med", "n"))
        return {pid: (float(med), n) for pid, med, n in rows}
    values: dict[int, list[float]] = {}
    for pid, seconds in _timed_judgments(ids).order_by().values_list("project_id", "seconds_spent"):
        values.setdefault(pid, []).append(seconds)
    return {pid: (float(median(v)), len(v)) for pid, v in values.items()}


def hourly_cents(*, reward_cents: int, median_seconds: float | None, n: int) -> int | None:
    """The rule itself (see the module docstring); None below the evidence threshold."""
    if median_seconds is None or not median_seconds > 0 or n < settings.PAY_HOURLY_MIN_JUDGMENTS:  # NaN too
        return None
    return round(reward_cents * 3600 / median_seconds)


def below_pay_floor(hourly: int | None) -> bool:
    """True only when the figure is known and under PAY_FLOOR_HOURLY_CENTS (unknown is not an alert)."""
    return hourly is not None and hourly < settings.PAY_FLOOR_HOURLY_CENTS


def projects_effective_hourly(*, projects: Iterable[Project]) -> dict[int, dict]:
    """{project_id: {"effective_hourly_cents", "below_pay_floor", "median_seconds", "n_timed"}} for every
    given project (None figures when unknown). One query whatever the number of projects."""
    projects = list(projects)
    medians = projects_median_seconds(project_ids=[p.pk for p in projects])
    out = {}
    for project in projects:
        med, n = medians.get(project.pk, (None, 0))
        hourly = hourly_cents(reward_cents=project.reward_cents, median_seconds=med, n=n)
        out[project.pk] = {"effective_hourly_cents": hourly, "below_pay_floor": below_pay_floor(hourly),
                           "median_seconds": med, "n_timed": n}
    return out


def projects_attach_hourly(projects: Iterable[Project]) -> list[Project]:
    """Sets effective_hourly_cents, below_pay_floor, median_seconds and n_timed on each project (for
    serializers and admin columns); one query for the lot. Returns the projects as a list."""
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

    from django.db.models import F, Sum
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
