"""What finance do from their console, besides reading it: create a payout batch (a preview of who is paid
what, then confirm), request an adjustment or bonus, and approve what another finance user created. Each
step calls the payments service the API calls (payout_batch_preview / payout_batch_create,
ledger_adjustment_create, payout_batch_approve, ledger_adjustment_approve / _reject): the amounts, the
selection and the four eyes are the services' own, and a refusal comes back as the service's message.

Amounts are typed and shown in currency units ("12.50"); the services take cents."""

import re
import uuid
from datetime import datetime

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from marketplace.errors import ServiceError
from marketplace.money import money_text

AMOUNT = re.compile(r"^(?P<sign>[-+]?)(?P<units>\d{1,9})(?:\.(?P<cents>\d{1,2}))?$")
CURRENCY = re.compile(r"^[A-Za-z]{3}$")


class FormError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def _finance(request):
    from marketplace.observability.console_views import _role

    _role(request, "finance")


def _render(request, template: str, title: str, context: dict, status: int = 200):
    return TemplateResponse(request, template, {**admin.site.each_context(request), "title": title, **context},
                            status=status)


def parse_amount(raw: str, *, field: str, signed: bool = False) -> int:
    """ "12.50" -> 1250 cents; "1,000" is 100000. Anything else is a FormError naming the field."""
    text = (raw or "").strip().replace(",", "").replace(" ", "")
    match = AMOUNT.match(text)
    if not match or (match["sign"] == "-" and not signed):
        shape = "like 12.50 or -12.50" if signed else "like 12.50"
        raise FormError(field, f"{field}: enter an amount in currency units, {shape}.")
    cents = int(match["units"]) * 100 + int((match["cents"] or "0").ljust(2, "0"))
    return -cents if match["sign"] == "-" else cents


def parse_currency(raw: str) -> str:
    text = (raw or "").strip()
    if not CURRENCY.match(text):
        raise FormError("currency", "currency: enter a 3-letter code, like USD.")
    return text.lower()


def parse_cutoff(raw: str) -> datetime:
    text = (raw or "").strip()
    if not text:
        return timezone.now()
    try:
        value = parse_datetime(text)
    except ValueError:
        value = None
    if value is None:
        raise FormError("cutoff", "cutoff: enter a date and time, like 2026-12-08 09:30.")
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _batch_form(request) -> dict:
    return {"currency": request.GET.get("currency", settings.STRIPE_CURRENCY.upper())[:10],
            "minimum": request.GET.get("minimum", "10.00")[:20], "cutoff": request.GET.get("cutoff", "")[:40]}


@require_GET
def batch_new(request):
    """The batch form; with ?preview=1, the lines the batch would have and a Confirm button that creates it
    with the very same cutoff, minimum and currency."""
    _finance(request)
    from payments.services.payouts import payout_batch_preview

    form, context, status = _batch_form(request), {}, 200
    if request.GET.get("preview"):
        try:
            currency = parse_currency(form["currency"])
            minimum_cents = parse_amount(form["minimum"], field="minimum")
            cutoff = parse_cutoff(form["cutoff"])
            lines = payout_batch_preview(cutoff=cutoff, minimum_cents=minimum_cents, currency=currency)
        except FormError as exc:
            context, status = {"error": exc.message, "error_field": exc.field}, 400
        except ServiceError as exc:
            field = next(iter(exc.fields), "")
            context, status = {"error": f"{field.replace('_cents', '')}: {exc.message}" if field else exc.message,
                               "error_field": field.replace("_cents", "")}, 400
        else:
            total = sum(line["amount_cents"] for line in lines)
            context = {"preview": [{**line, "amount": money_text(line["amount_cents"], currency)} for line in lines],
                       "total": money_text(total, currency), "total_cents": total, "currency_code": currency,
                       "minimum_cents": minimum_cents, "minimum_text": money_text(minimum_cents, currency),
                       "cutoff_iso": cutoff.isoformat(), "cutoff_at": cutoff}
    return _render(request, "marketplace/console_finance_batch.html", "New payout batch", {"form": form, **context},
                   status=status)


@require_POST
def batch_create(request):
    _finance(request)
    from payments.services.payouts import payout_batch_create

    back = reverse("console-finance-batch-new")
    try:
        currency = parse_currency(request.POST.get("currency", ""))
        minimum_cents = parse_amount(request.POST.get("minimum", ""), field="minimum")
        cutoff = parse_cutoff(request.POST.get("cutoff", "") or "missing")
        batch = payout_batch_create(actor_id=request.user.pk, cutoff=cutoff, minimum_cents=minimum_cents,
                                    currency=currency)
    except (FormError, ServiceError) as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(back)
    lines = list(batch.lines.values_list("amount_cents", flat=True))
    text = (f"Payout batch #{batch.pk} created: {len(lines)} worker(s), {money_text(sum(lines), currency)}. "
            "It waits for another finance user's approval.")
    expected = request.POST.get("expected_total_cents", "")
    if expected.isdigit() and int(expected) != sum(lines):
        text += f" Balances moved since the preview ({money_text(int(expected), currency)} then)."
    messages.success(request, text)
    return HttpResponseRedirect(reverse("console-finance"))


def _worker_find(raw: str):
    text = (raw or "").strip()
    users = get_user_model().objects
    user = users.filter(pk=int(text)).first() if text.isdigit() else users.filter(email__iexact=text).first()
    if user is None:
        raise FormError("worker", "worker: no user with that email or id.")
    return user


@require_http_methods(["GET", "POST"])
def adjustment_new(request):
    """The adjustment (or bonus) form. Its hidden reference, fresh on each form, makes a double submit
    one adjustment (the service is idempotent by reference)."""
    _finance(request)
    from payments.models import LedgerAdjustment
    from payments.services.adjustments import ledger_adjustment_create

    source = request.POST if request.method == "POST" else request.GET
    form = {"worker": source.get("worker", "")[:254], "kind": source.get("kind", "bonus")[:16],
            "amount": source.get("amount", "")[:20], "memo": source.get("memo", "")[:500],
            "currency": source.get("currency", settings.STRIPE_CURRENCY.upper())[:10],
            "reference": (request.POST.get("reference") or f"console-{uuid.uuid4()}")[:150]}
    context, status = {}, 200
    if request.method == "POST":
        try:
            worker = _worker_find(form["worker"])
            if form["kind"] not in LedgerAdjustment.Kind.values:
                raise FormError("kind", "kind: choose bonus or adjustment.")
            amount_cents = parse_amount(form["amount"], field="amount", signed=form["kind"] == "adjustment")
            currency = parse_currency(form["currency"])
            if not form["memo"].strip():
                raise FormError("memo", "memo: say why (the worker's statement shows it).")
            adjustment = ledger_adjustment_create(
                actor_id=request.user.pk, worker_id=worker.pk, amount_cents=amount_cents, currency=currency,
                kind=form["kind"], memo=form["memo"].strip(), reference=form["reference"])
        except FormError as exc:
            context, status = {"error": exc.message, "error_field": exc.field}, 400
        except ServiceError as exc:
            field = next(iter(exc.fields), "")
            field = {"amount_cents": "amount"}.get(field, field)
            context = {"error": f"{field}: {exc.message}" if field else exc.message, "error_field": field}
            status = exc.status_code if exc.status_code < 500 else 400
        else:
            amount = money_text(adjustment.amount_cents, adjustment.currency)
            if adjustment.status == LedgerAdjustment.Status.POSTED:
                text = f"{adjustment.get_kind_display()} of {amount} for {worker} posted to their payable balance."
            else:
                text = (f"{adjustment.get_kind_display()} of {amount} for {worker} waits for another finance "
                        "user's approval (four eyes above "
                        f"{money_text(settings.PAYMENTS_ADJUSTMENT_APPROVAL_ABOVE_CENTS, adjustment.currency)}).")
            if getattr(adjustment, "replayed", False):
                text = f"Already recorded: {text}"
            messages.success(request, text)
            return HttpResponseRedirect(reverse("console-finance"))
    # The threshold in the typed currency once it is a currency code; until then (blank, a typo) in the
    # default one, never in whatever was typed.
    typed = form["currency"].strip()
    threshold = money_text(settings.PAYMENTS_ADJUSTMENT_APPROVAL_ABOVE_CENTS,
                           typed if CURRENCY.match(typed) else settings.STRIPE_CURRENCY)
    return _render(request, "marketplace/console_finance_adjustment.html", "New adjustment or bonus",
                   {"form": form, "approval_above": threshold,
                    **context}, status=status)


def _decide(request, service, kwargs: dict, done: str):
    try:
        service(actor_id=request.user.pk, **kwargs)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return HttpResponseRedirect(reverse("console-finance"))


@require_POST
def batch_approve(request, batch_id: int):
    _finance(request)
    from payments.services.payouts import payout_batch_approve

    return _decide(request, payout_batch_approve, {"batch_id": batch_id},
                   f"Payout batch #{batch_id} approved: it can be executed.")


@require_POST
def adjustment_decide(request, adjustment_id: int, decision: str):
    _finance(request)
    from payments.services.adjustments import ledger_adjustment_approve, ledger_adjustment_reject

    if decision == "approve":
        return _decide(request, ledger_adjustment_approve, {"adjustment_id": adjustment_id},
                       f"Adjustment #{adjustment_id} approved and posted.")
    return _decide(request, ledger_adjustment_reject, {"adjustment_id": adjustment_id},
                   f"Adjustment #{adjustment_id} rejected: nothing reached the ledger.")


def urlpatterns():
    from django.urls import path

    wrap = admin.site.admin_view
    return [
        path("admin/finance/batches/new", wrap(batch_new), name="console-finance-batch-new"),
        path("admin/finance/batches/create", wrap(batch_create), name="console-finance-batch-create"),
        path("admin/finance/batches/<int:batch_id>/approve", wrap(batch_approve),
             name="console-finance-batch-approve"),
        path("admin/finance/adjustments/new", wrap(adjustment_new), name="console-finance-adjustment-new"),
        path("admin/finance/adjustments/<int:adjustment_id>/approve", wrap(adjustment_decide),
             {"decision": "approve"}, name="console-finance-adjustment-approve"),
        path("admin/finance/adjustments/<int:adjustment_id>/reject", wrap(adjustment_decide),
             {"decision": "reject"}, name="console-finance-adjustment-reject"),
    ]
