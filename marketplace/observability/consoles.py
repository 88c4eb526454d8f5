"""What the ops and finance consoles show, read with queries whose cost stays bounded however large the
tasks, judgments and ledger tables grow (bench/consoles.py measures them at 1M tasks, 10M judgments):

- progress: the per-project task counts beat keeps in the cache (gauges.project_task_counts);
- throughput over 24 h: hourly buckets per project that beat rolls up incrementally (only judgments newer
  than its last run; gauges.judgments_per_hour_refresh), summed;
- median seconds and effective hourly pay: tasks.selectors.pay, the figures the APIs and the project admin
  show (the project's last PAY_HOURLY_SAMPLE timed, approved judgments on the (project, id) index, newest
  first), against PAY_FLOOR_HOURLY_CENTS; the hourly figure counts cleared pay (the sample's credits that
  are no longer pending), with the pending part apart; two queries for the page;
- agreement: quality's ProjectAgreement row; flags: the open ones (the (status, created_at) index);
- money: the cached balances of the worker ledger accounts; batches: the open ones and the last few.
"""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.utils import timezone

from marketplace.observability import gauges

PROJECTS_SHOWN = 50
FLAGS_SHOWN = 50
BATCHES_SHOWN = 20
LINE_STATUSES = ["reserved", "sending", "paid", "failed", "reversed"]
RECONCILIATION_KEY = "observability:last-reconciliation"


def first_id_since(model, since, field: str = "created_at") -> int | None:
    """The smallest primary key whose ``field`` is at or after ``since``, assuming both grow together
    (rows are inserted with the current time). A binary search over the id range: about log2(max id)
    primary-key lookups, none of them a scan. None when no row is that recent."""
    def first_from(x):
        return model.objects.filter(id__gte=x).order_by("id").values_list("id", field).first()

    lo = model.objects.order_by("id").values_list("id", flat=True).first()
    hi = model.objects.order_by("-id").values_list("id", flat=True).first()
    if lo is None or first_from(hi)[1] < since:
        return None
    while lo < hi:  # the smallest x whose first row at or after it is recent enough
        mid = (lo + hi) // 2
        if first_from(mid)[1] >= since:
            hi = mid
        else:
            lo = mid + 1
    return first_from(lo)[0]


def project_rows(now=None) -> list[dict]:
    from quality.models import ProjectAgreement
    from tasks.models import Project
    from tasks.selectors.pay import projects_effective_hourly

    now = now or timezone.now()
    projects = list(Project.objects.filter(status__in=[Project.Status.ACTIVE, Project.Status.PAUSED])
                    .order_by("-priority", "-id")[:PROJECTS_SHOWN])
    counts = gauges.project_task_counts()
    if counts["at"] is None and projects:
        counts = gauges.project_task_counts_refresh()
    live = gauges.live_assignments_by_project()
    per_24h = gauges.judgments_last_24h(now)
    if per_24h is None:
        gauges.judgments_per_hour_refresh(now)
        per_24h = gauges.judgments_last_24h(now) or {}
    agreements = {a.project_id: a for a in ProjectAgreement.objects.filter(project__in=projects)}
    # Pay follows evidence: the hourly figure and the floor alert count cleared pay only; what still waits for
    # the workers' work to be checked is shown apart. The same figures as the APIs and the project admin.
    pay = projects_effective_hourly(projects=projects)
    rows = []
    for project in projects:
        c = counts["projects"].get(project.pk, {"open": 0, "complete": 0})
        total = c.get("open", 0) + c.get("complete", 0)
        done_24h = per_24h.get(project.pk, 0)
        figures = pay[project.pk]
        agreement = agreements.get(project.pk)
        rows.append({
            "project": project, "open": c.get("open", 0), "complete": c.get("complete", 0), "total": total,
            "live": live.get(project.pk, 0),
            "progress_percent": round(100 * c.get("complete", 0) / total, 1) if total else 0.0,
            "judgments_24h": done_24h, "median_seconds": figures["median_seconds"],
            "hourly_cents": figures["effective_hourly_cents"],
            "pending_hourly_cents": figures["pending_hourly_cents"], "rate_hourly_cents": figures["rate_hourly_cents"],
            "below_floor": figures["below_pay_floor"], "alpha": agreement.alpha if agreement else None,
        })
        rows[-1].update(project_eta(rows[-1], now))
    return rows


# A project is late when, at its last 24 hours' pace, its open work ends after its deadline (tasks.Project
# .deadline, optional); behind when it has no deadline and that work takes longer than ETA_BEHIND_HOURS;
# stalled when it has open tasks and no judgment in 24 hours (a stalled project with a deadline is late too,
# but stalled says why).
ETA_BEHIND_HOURS = 7 * 24
RISK_ORDER = {"stalled": 0, "late": 1, "behind": 2, "on track": 3, "paused": 4, "done": 5}


def project_eta(row: dict, now=None) -> dict:
    """Up to open x overlap judgments are left (an upper bound: the task counts do not say how many each open
    task already has); at the last 24 hours' rate that takes eta_hours, ending at eta_at. Risk: stalled,
    late (eta_at after the deadline), behind, on track, paused, done."""
    now = now or timezone.now()
    project = row["project"]
    deadline = project.deadline
    remaining = row["open"] * project.overlap
    per_hour = row["judgments_24h"] / 24
    out = {"remaining": remaining, "eta_hours": None, "eta_at": None, "deadline": deadline}
    if remaining == 0:
        return {**out, "eta_hours": 0.0, "risk": "done"}
    eta = remaining / per_hour if per_hour else None
    if eta is not None:
        out.update(eta_hours=eta, eta_at=now + timedelta(hours=eta))
    if project.status == "paused":
        return {**out, "risk": "paused"}
    if eta is None:
        return {**out, "risk": "stalled"}
    if deadline is not None:
        return {**out, "risk": "late" if out["eta_at"] > deadline else "on track"}
    return {**out, "risk": "behind" if eta > ETA_BEHIND_HOURS else "on track"}


def by_risk(rows: list[dict]) -> list[dict]:
    """Most at risk first: stalled, late, behind (longest ETA first), on track, paused, done; priority breaks
    ties."""
    return sorted(rows, key=lambda r: (RISK_ORDER[r["risk"]], -(r["eta_hours"] or 0), -r["project"].priority))


def open_flags():
    from quality.models import Flag

    flags = Flag.objects.filter(status=Flag.Status.OPEN)
    return flags.count(), list(flags.select_related("worker", "project").order_by("-created_at")[:FLAGS_SHOWN])


def pools():
    from workers.models import Pool

    return list(Pool.objects.annotate(active=Count("memberships", filter=Q(memberships__status="active")),
                                      suspended=Count("memberships", filter=Q(memberships__status="suspended")))
                .order_by("name")[:100])


def ops_console(now=None) -> dict:
    now = now or timezone.now()
    n_flags, flags = open_flags()
    rows = by_risk(project_rows(now))
    at = gauges.project_task_counts()["at"]
    return {"projects": rows, "n_flags": n_flags, "flags": flags, "pools": pools(), "now": now,
            "snapshot_at": datetime.fromtimestamp(at, tz=UTC) if at else None,
            "pay_floor_cents": settings.PAY_FLOOR_HOURLY_CENTS}


def money_by_currency() -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (state, currency), cents in gauges.ledger_totals().items():
        out.setdefault(currency, {s: 0 for s in gauges.LEDGER_STATES.values()})[state] = cents
    return dict(sorted(out.items()))


def batches() -> list[dict]:
    from payments.models import PayoutBatch, PayoutLine

    ids = gauges.payout_batch_ids_in_view()[:BATCHES_SHOWN + 20]
    shown = list(PayoutBatch.objects.filter(id__in=ids).select_related("created_by", "approved_by", "executed_by")
                 .order_by("-id"))
    lines: dict[int, dict[str, dict]] = {}
    for batch_id, status, n, cents in (PayoutLine.objects.filter(batch_id__in=ids).order_by()
                                       .values("batch_id", "status").annotate(n=Count("id"), cents=Sum("amount_cents"))
                                       .values_list("batch_id", "status", "n", "cents")):
        lines.setdefault(batch_id, {})[status] = {"n": n, "cents": int(cents or 0)}
    rows = []
    for batch in shown:
        if batch.approved_by_id is None:
            four_eyes = "waiting for a second finance user to approve"
        else:
            four_eyes = f"created by {batch.created_by}, approved by {batch.approved_by}"
        per_status = lines.get(batch.pk, {})
        rows.append({"batch": batch, "lines": per_status, "four_eyes": four_eyes,
                     "cells": [(s, per_status.get(s)) for s in LINE_STATUSES],
                     "total_cents": sum(v["cents"] for v in lines.get(batch.pk, {}).values())})
    return rows


def last_reconciliation() -> dict | None:
    return cache.get(RECONCILIATION_KEY)


def reconciliation_run(*, actor) -> dict:
    """Runs payments.reconciliation (Stripe's transfers against the ledger) and keeps its answer for the
    console: it asks Stripe and sums entries, so it runs when finance asks, never on a page view."""
    from payments.reconciliation import reconciliation_report

    report = reconciliation_report()
    stored = {"at": timezone.now(), "by": str(actor), **report}
    cache.set(RECONCILIATION_KEY, stored, timeout=None)
    return stored


ADJUSTMENTS_SHOWN = 50


def adjustments_pending() -> tuple[dict[str, dict], list]:
    """Adjustments waiting for a second finance user: ({currency: {n, cents}} over all of them, the oldest
    ADJUSTMENTS_SHOWN rows). Pending rows are few (only those above the approval threshold wait); the
    (status) filter reads them alone."""
    from payments.models import LedgerAdjustment

    pending = LedgerAdjustment.objects.filter(status=LedgerAdjustment.Status.PENDING)
    totals = {currency: {"n": n, "cents": int(cents or 0)} for currency, n, cents in
              pending.order_by().values("currency").annotate(n=Count("id"), cents=Sum("amount_cents"))
              .values_list("currency", "n", "cents")}
    rows = list(pending.select_related("worker", "requested_by").order_by("id")[:ADJUSTMENTS_SHOWN])
    return dict(sorted(totals.items())), rows


def approval_queues(*, user_id: int, batch_rows: list[dict], adjustments: list) -> dict:
    """What waits for this finance user's approval (created by someone else, and not their own balance) and
    what they created that waits for another finance user: four eyes as the services enforce them
    (payout_batch_approve, ledger_adjustment_approve), so the console never offers a refused click."""
    drafts = [row for row in batch_rows if row["batch"].status == "draft"]
    queues = {
        "batches_for_me": [row for row in drafts if row["batch"].created_by_id != user_id],
        "batches_mine": [row for row in drafts if row["batch"].created_by_id == user_id],
        "adjustments_for_me": [a for a in adjustments if user_id not in (a.requested_by_id, a.worker_id)],
        "adjustments_mine": [a for a in adjustments if a.requested_by_id == user_id],
    }
    return {**queues, "n_for_me": len(queues["batches_for_me"]) + len(queues["adjustments_for_me"])}


def finance_console(*, user_id: int | None = None) -> dict:
    batch_rows = batches()
    pending_totals, pending_rows = adjustments_pending()
    money = money_by_currency()
    for currency in pending_totals:
        money.setdefault(currency, {s: 0 for s in gauges.LEDGER_STATES.values()})
    return {"money": dict(sorted(money.items())), "batches": batch_rows, "reconciliation": last_reconciliation(),
            "line_statuses": LINE_STATUSES, "adjustments_pending": pending_totals,
            "default_currency": settings.STRIPE_CURRENCY.lower(),
            "adjustments": pending_rows,
            **approval_queues(user_id=user_id, batch_rows=batch_rows, adjustments=pending_rows)}
