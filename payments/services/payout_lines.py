"""Sending one payout line to Stripe, exactly once (docs/design.md invariant 8), and settling it.

A line's Stripe idempotency key is derived from its id (PayoutLine.idempotency_key) and never changes.
payout_line_send marks the line SENDING in a short transaction before calling Stripe. A line found
SENDING when a job starts had an attempt whose outcome is unknown (a crash, a timeout, a dropped
connection): it is reconciled by listing the batch's transfers to its destination (metadata carries the
line id), and only if none exists is the same request sent again, with the same key, so Stripe would
replay rather than repeat it. A line fails (and its reservation returns to the worker's balance) only on
an answer that proves nothing was transferred.
"""

import logging
import random
from dataclasses import dataclass

import stripe
from django.db import transaction

from payments.lock_objects import payout_line_lock
from payments.models import LedgerAccount, LedgerTransaction, PayoutBatch, PayoutLine
from payments.services.ledger import ledger_account_get, ledger_transfer
from payments.services.payouts import payout_batch_refresh_status
from payments.stripe_api import error_code, stripe_client, stripe_throttle

logger = logging.getLogger(__name__)
Kind = LedgerAccount.Kind
TxnKind = LedgerTransaction.Kind
FINAL = (PayoutLine.Status.PAID, PayoutLine.Status.FAILED, PayoutLine.Status.REVERSED)


def payout_line_accounts(*, line: PayoutLine) -> dict[str, LedgerAccount]:
    """The worker's payable, in-transit and paid-out accounts for the line's currency, locked (one query,
    ascending id), by kind. Created first if missing (batch creation normally made them)."""
    kinds = (Kind.WORKER_PAYABLE, Kind.PAYOUTS_IN_TRANSIT, Kind.PAID_OUT)
    rows = list(LedgerAccount.objects.select_for_update().filter(worker_id=line.worker_id, currency=line.currency,
                                                                 kind__in=kinds).order_by("pk"))
    if len(rows) < len(kinds):
        for kind in kinds:
            ledger_account_get(kind=kind, worker_id=line.worker_id, currency=line.currency)
        rows = list(LedgerAccount.objects.select_for_update().filter(
            worker_id=line.worker_id, currency=line.currency, kind__in=kinds).order_by("pk"))
    return {row.kind: row for row in rows}


@dataclass
class SendOutcome:
    status: str  # "paid", "failed", "retry", "skipped"
    countdown: float = 0.0
    detail: str = ""


def _backoff(attempt: int, *, base: float, cap: float) -> float:
    return min(cap, base * 2 ** max(0, attempt - 1)) * random.uniform(0.5, 1.0)


def transfer_params(line: PayoutLine) -> dict:
    """The transfer request of a line. Deterministic: the same line always sends the same parameters,
    so a replay with its idempotency key is never an idempotency_error."""
    return {"amount": line.amount_cents, "currency": line.currency, "destination": line.destination,
            "transfer_group": line.batch.transfer_group, "description": f"Payout batch {line.batch_id}",
            "metadata": {"payout_line_id": str(line.pk), "payout_batch_id": str(line.batch_id),
                         "worker_id": str(line.worker_id)}}


def payout_line_find_transfer(*, line: PayoutLine) -> dict | None:
    """The Stripe transfer made for this line, if any: lists the batch's transfer_group to the line's
    destination (all pages) and matches metadata.payout_line_id."""
    client = stripe_client()
    params = {"transfer_group": line.batch.transfer_group, "destination": line.destination, "limit": 100}
    while True:
        stripe_throttle()
        page = client.v1.transfers.list(params=params)
        for transfer in page.data:
            transfer = transfer.to_dict()
            if (transfer.get("metadata") or {}).get("payout_line_id") == str(line.pk):
                return transfer
        if not page.has_more or not page.data:
            return None
        params["starting_after"] = page.data[-1]["id"]


def payout_line_send(*, line_id: int) -> SendOutcome:
    """Pays one line at most once; safe to run any number of times, concurrently, and after a crash at
    any point. Returns what happened; "retry" carries a countdown for the caller (the Celery job)."""
    with transaction.atomic():
        line = payout_line_lock(line_id=line_id)
        if line.status in FINAL or line.batch.status != PayoutBatch.Status.EXECUTING:
            return SendOutcome("skipped", detail=line.status)
        outcome_unknown = line.status == PayoutLine.Status.SENDING
        line.status = PayoutLine.Status.SENDING
        line.attempts += 1
        line.save(update_fields=["status", "attempts", "updated_at"])
    attempt = line.attempts
    if outcome_unknown:
        try:
            found = payout_line_find_transfer(line=line)
        except stripe.StripeError as exc:  # cannot tell yet: never send blind, try again later
            _note(line.pk, f"listing transfers: {error_code(exc)}: {exc}")
            return SendOutcome("retry", countdown=_backoff(attempt, base=1, cap=300), detail=error_code(exc))
        if found is not None:
            payout_line_record_paid(line_id=line.pk, transfer=found)
            return SendOutcome("paid", detail=found["id"])
    try:
        stripe_throttle()
        transfer = stripe_client().v1.transfers.create(params=transfer_params(line),
                                                       options={"idempotency_key": line.idempotency_key})
    except stripe.RateLimitError:
        # Stripe executes nothing it answers 429. If this run was the line's only attempt (it found the
        # line RESERVED and no run has started since: same attempts count), no transfer can exist: back to
        # RESERVED, and the retry sends without listing first (a list costs a rate-limited request too).
        # Otherwise another attempt's outcome is unknown and the line stays SENDING.
        if not outcome_unknown:
            PayoutLine.objects.filter(pk=line.pk, status=PayoutLine.Status.SENDING, attempts=attempt).update(
                status=PayoutLine.Status.RESERVED)
        return SendOutcome("retry", countdown=_backoff(attempt, base=0.5, cap=10), detail="rate_limited")
    except (stripe.APIConnectionError, stripe.IdempotencyError, stripe.AuthenticationError,
            stripe.PermissionError) as exc:
        # Outcome unknown (timeout, dropped connection), a concurrent request with this key, or our own
        # configuration: retry later with the same key; never fail a line we cannot prove unpaid.
        _note(line.pk, f"{error_code(exc)}: {exc}")
        return SendOutcome("retry", countdown=_backoff(attempt, base=1, cap=300), detail=error_code(exc))
    except stripe.InvalidRequestError as exc:
        # Stripe answered and refused (balance_insufficient, destination cannot receive transfers...):
        # nothing was transferred, and this key will replay the same refusal. Release the reservation.
        payout_line_record_failed(line_id=line.pk, error=f"{error_code(exc)}: {exc.user_message or exc}")
        return SendOutcome("failed", detail=error_code(exc))
    except stripe.StripeError as exc:
        # 5xx (or 409: this key is in flight elsewhere). Stripe keeps a 500 under the key, so a *replayed*
        # 5xx proves the key can never create a transfer; if the list confirms none exists, the line fails
        # and the money returns. Anything else is retried, listing first, with the same key.
        _note(line.pk, f"{error_code(exc)}: {exc}")
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        if (exc.http_status or 0) >= 500 and headers.get("idempotent-replayed") == "true":
            try:
                found = payout_line_find_transfer(line=line)
            except stripe.StripeError:
                return SendOutcome("retry", countdown=_backoff(attempt, base=2, cap=300), detail=error_code(exc))
            if found is not None:
                payout_line_record_paid(line_id=line.pk, transfer=found)
                return SendOutcome("paid", detail=found["id"])
            payout_line_record_failed(line_id=line.pk, error=f"Stripe kept a failure for this line's key: {exc}")
            return SendOutcome("failed", detail=error_code(exc))
        return SendOutcome("retry", countdown=_backoff(attempt, base=2, cap=300), detail=error_code(exc))
    payout_line_record_paid(line_id=line.pk, transfer=transfer.to_dict())
    return SendOutcome("paid", detail=transfer["id"])


def _note(line_id: int, error: str) -> None:
    PayoutLine.objects.filter(pk=line_id).update(last_error=error[:2000])


@transaction.atomic
def payout_line_record_paid(*, line_id: int, transfer: dict) -> bool:
    """Records the Stripe transfer of a line: PAID and in transit -> paid out, in one transaction.
    Idempotent (a paid line stays as it is). Returns False when the line was already settled."""
    line = payout_line_lock(line_id=line_id)
    if line.status in FINAL:
        if line.stripe_transfer_id and line.stripe_transfer_id != transfer["id"]:
            logger.error("line %s has transfer %s, Stripe reports another: %s (see reconciliation)",
                         line.pk, line.stripe_transfer_id, transfer["id"])
        return False
    if (transfer["amount"], transfer["currency"], transfer["destination"]) != (
            line.amount_cents, line.currency, line.destination):
        logger.error("transfer %s does not match line %s (see reconciliation)", transfer["id"], line.pk)
    accounts = payout_line_accounts(line=line)
    line.status = PayoutLine.Status.PAID
    line.stripe_transfer_id = transfer["id"]
    line.last_error = ""
    line.save(update_fields=["status", "stripe_transfer_id", "last_error", "updated_at"])
    ledger_transfer(kind=TxnKind.PAYOUT_PAID, source_ref=f"payout-line:{line.pk}",
                    debit=accounts[Kind.PAYOUTS_IN_TRANSIT], credit=accounts[Kind.PAID_OUT],
                    amount_cents=line.amount_cents, memo=f"Stripe transfer {transfer['id']}", locked=_by_id(accounts))
    _refresh_after_commit(line.batch_id)
    return True


@transaction.atomic
def payout_line_record_failed(*, line_id: int, error: str) -> bool:
    """Marks an open line FAILED and releases its reservation (in transit -> payable), in one transaction.
    Idempotent. Returns False when the line was already settled."""
    line = payout_line_lock(line_id=line_id)
    if line.status in FINAL:
        return False
    accounts = payout_line_accounts(line=line)
    line.status = PayoutLine.Status.FAILED
    line.last_error = error[:2000]
    line.save(update_fields=["status", "last_error", "updated_at"])
    ledger_transfer(kind=TxnKind.PAYOUT_RELEASE, source_ref=f"payout-line:{line.pk}",
                    debit=accounts[Kind.PAYOUTS_IN_TRANSIT], credit=accounts[Kind.WORKER_PAYABLE],
                    amount_cents=line.amount_cents, memo=f"Payout failed: {error[:200]}", locked=_by_id(accounts))
    _refresh_after_commit(line.batch_id)
    return True


def _by_id(accounts: dict[str, LedgerAccount]) -> dict[int, LedgerAccount]:
    return {a.pk: a for a in accounts.values()}


def _refresh_after_commit(batch_id: int) -> None:
    transaction.on_commit(lambda: payout_batch_refresh_status(batch_id=batch_id))


def _line_for_transfer(transfer: dict) -> PayoutLine | None:
    line = PayoutLine.objects.select_related("batch").filter(stripe_transfer_id=transfer["id"]).first()
    if line is None:
        line_id = (transfer.get("metadata") or {}).get("payout_line_id", "")
        line = PayoutLine.objects.select_related("batch").filter(pk=int(line_id)).first() if line_id.isdigit() else None
        if line is not None and transfer.get("transfer_group") != line.batch.transfer_group:
            return None
    return line


@transaction.atomic
def payout_transfer_seen(*, transfer: dict) -> bool:
    """transfer.created / transfer.updated: settles a line whose outcome we did not know yet.
    Returns False for a transfer that is not one of our lines."""
    line = _line_for_transfer(transfer)
    if line is None:
        return False
    payout_line_record_paid(line_id=line.pk, transfer=transfer)
    return True


@transaction.atomic
def payout_transfer_reversed(*, transfer: dict) -> bool:
    """transfer.reversed: the reversed amount returns to the worker's payable balance (paid out ->
    payable), once per reversed total (idempotent; partial reversals add up). A line still open is first
    recorded as paid. Returns False for a transfer that is not one of our lines."""
    line = _line_for_transfer(transfer)
    if line is None:
        return False
    payout_line_record_paid(line_id=line.pk, transfer=transfer)
    line = payout_line_lock(line_id=line.pk)
    reversed_total = min(int(transfer.get("amount_reversed") or 0), line.amount_cents)
    delta = reversed_total - line.reversed_cents
    if delta <= 0:
        return True
    accounts = payout_line_accounts(line=line)
    ledger_transfer(kind=TxnKind.PAYOUT_REVERSED, source_ref=f"payout-line:{line.pk}:reversed-to:{reversed_total}",
                    debit=accounts[Kind.PAID_OUT], credit=accounts[Kind.WORKER_PAYABLE], amount_cents=delta,
                    memo=f"Stripe transfer {transfer['id']} reversed", locked=_by_id(accounts))
    line.reversed_cents = reversed_total
    if reversed_total >= line.amount_cents:
        line.status = PayoutLine.Status.REVERSED
    line.save(update_fields=["reversed_cents", "status", "updated_at"])
    return True
