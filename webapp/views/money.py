"""Earnings (balance, ledger lines, payouts, own hourly pay, the Stripe Connect button).

Reads payments.selectors, as /api/v1/me/earnings/ does; the
Connect button calls the same service as POST /api/v1/payout-account/ and sends the browser to Stripe's
onboarding link (the fake Stripe server under `make run` completes it and comes back here)."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from marketplace.errors import ServiceError
from payments.models import LedgerTransaction, PayoutLine
from payments.selectors import (
    ledger_entries_by_ids,
    payout_account_get,
    worker_earnings_summary,
    worker_ledger_entry_ids,
)
from payments.services.connect import payout_account_onboarding_link
from tasks.selectors.pay import worker_hourly_pay
from webapp.figures import hourly_withheld
from webapp.views.base import worker_page

LEDGER_PAGE_SIZE = 50

ACCOUNT_NAMES = {"worker_pending": gettext_lazy("Pending (being checked)"), "worker_payable": gettext_lazy("Payable"), "worker_held": gettext_lazy("Held for review"),
                 "payouts_in_transit": gettext_lazy("Payout in transit"), "paid_out": gettext_lazy("Paid out")}


def ledger_line_words(entry) -> str:
    """What a ledger line is, as the worker reads it: the transaction's kind, except a judgment's credit, which
    says whether it is pending (its account is worker_pending: earned, being checked) or payable. The kind's
    own label ("Approved judgment") read as "checked and approved" on money that is still being checked."""
    kind = entry.transaction.kind
    if kind == LedgerTransaction.Kind.JUDGMENT_CREDIT:
        if entry.account.kind == "worker_pending":
            return _("Judgment credited to pending (being checked)")
        return _("Judgment credited, payable")
    return entry.transaction.get_kind_display()


def hourly_cleared(hourly: list[dict], summary: dict) -> list[dict]:
    """Pay follows evidence (issue 20): the worker's hourly figure counts cleared pay only, and shows what still
    waits for their work to be checked apart. Pending credits are the newest (the pending account is a queue,
    cleared oldest first, within days: PAY_CLEARANCE_WAIT_SECONDS), so they sit inside the 30-day window;
    the pending part of the figure is the reward-rate figure times the pending share of what the window
    earned. tasks (below payments in the app order) gives the rate, payments the pending balance. A figure from
    too few timed judgments, or from answers faster than the quality rules' floor, is withheld (webapp.figures:
    "withheld" says why, and hourly_cents is None)."""
    pending = {row["currency"]: row.get("pending_clearance_cents", 0) for row in summary.get("by_currency", [])}
    out = []
    for row in hourly:
        n = row.get("n_judgments") or 0
        per_judgment = row["hours"] * 3600 / n if n and row.get("hours") else None
        withheld = hourly_withheld(n_timed=n, seconds_per_judgment=per_judgment)
        row = {**row, "rate_hourly_cents": row["hourly_cents"], "pending_hourly_cents": None, "withheld": withheld}
        if withheld is not None:  # too few, or too fast to be a person's pace: no figure, and the page says why
            row["hourly_cents"] = row["rate_hourly_cents"] = None
        earned = row.get("earned_cents") or 0
        if row["hourly_cents"] is not None and earned > 0:
            waiting = min(pending.get(row["currency"], 0), earned)
            row["hourly_cents"] = round(row["rate_hourly_cents"] * (earned - waiting) / earned)
            row["pending_hourly_cents"] = row["rate_hourly_cents"] - row["hourly_cents"]
        out.append(row)
    return out


@worker_page
def earnings(request):
    summary = worker_earnings_summary(user=request.user)
    # The page is cut from ids on the (account, id) index, then its 50 entries loaded (payments.selectors).
    page = Paginator(worker_ledger_entry_ids(user=request.user), LEDGER_PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = ledger_entries_by_ids(ids=list(page.object_list))
    for entry in page.object_list:
        entry.account_name = ACCOUNT_NAMES.get(entry.account.kind, entry.account.kind)
        entry.what = ledger_line_words(entry)
    payouts = PayoutLine.objects.filter(worker=request.user).select_related("batch").order_by("-id")[:20]
    return render(request, "webapp/earnings.html", {
        "summary": summary, "page": page, "payouts": payouts, "hourly": hourly_cleared(worker_hourly_pay(user=request.user), summary),
        "account": payout_account_get(user=request.user),
    })


@require_POST
@worker_page
def connect(request):
    """The Stripe Connect onboarding link, made fresh for each press (links expire)."""
    try:
        result = payout_account_onboarding_link(
            user=request.user, return_url=request.build_absolute_uri(reverse("webapp:earnings")))
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("webapp:earnings")
    # Not a 302 from this POST: the CSP's form-action 'self' covers the redirects of a form submission, and
    # Stripe is another origin. htmx navigates there itself; without JavaScript a link does.
    if request.htmx:
        return HttpResponseClientRedirect(result["onboarding_url"])
    return render(request, "webapp/connect.html", {"url": result["onboarding_url"]})
