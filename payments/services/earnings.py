"""Earnings: credits for approved judgments, holds from quality flags, finance bonuses and adjustments.

Ledger movements (see payments.models.LedgerAccount):
  judgment credit     platform_funding -> worker_pending    (until quality evidence clears the worker:
                                                              payments.services.clearance)
                      platform_funding -> worker_payable    (a cleared worker: at once)
  hold                worker_payable   -> worker_held       (only what is still payable, for the flag's judgments)
                      worker_pending   -> worker_held       (everything pending; PAY_PENDING_ON_FLAG=hold)
  pending reversal    worker_pending   -> platform_funding  (everything pending; PAY_PENDING_ON_FLAG=reverse)
  hold release        worker_held      -> worker_payable
  hold forfeit        worker_held      -> platform_funding
  bonus / adjustment  platform_funding <-> worker_payable   (finance: payments.services.adjustments)
"""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from marketplace.errors import NotFound
from payments.models import EarningsClearance, EarningsHold, LedgerAccount, LedgerEntry, LedgerTransaction
from payments.services.clearance import clearance_lock, credit_goes_to_payable, drain_pending
from payments.services.ledger import ledger_account_get, ledger_transfer

logger = logging.getLogger(__name__)
Kind = LedgerAccount.Kind
TxnKind = LedgerTransaction.Kind


def judgment_source_ref(judgment_id: int) -> str:
    return f"judgment:{judgment_id}"


def earnings_credit_judgment(*, judgment_id: int, judgment=None) -> bool:
    """Credits the worker for an approved judgment: the project's reward_cents in its currency.

    Idempotent: one credit per judgment, enforced by the unique (kind, source_ref) of the ledger
    transaction, so calling it twice (or from two processes at once) credits once. Returns True when
    this call wrote the credit; False when it was credited before, the judgment is not APPROVED, or the
    reward is zero (nothing to credit). Raises NotFound for an unknown judgment. The submit passes the
    judgment it has just written (with its project), which saves reading it back.
    """
    # payments stands above tasks (docs/design.md "The app order"): it reads tasks' judgments, and the
    # submit reaches this function only through the judgment_approved hook (payments/apps.py).
    from tasks.models import Judgment

    if judgment is None or judgment.pk != judgment_id:
        judgment = Judgment.objects.select_related("project").filter(pk=judgment_id).first()
    if judgment is None:
        raise NotFound(f"No judgment {judgment_id}.")
    if judgment.status != Judgment.Status.APPROVED:
        logger.info("judgment %s is %s: not credited", judgment_id, judgment.status)
        return False
    reward, currency = judgment.project.reward_cents, judgment.project.currency.lower()
    if reward <= 0:
        return False
    # Runs inside the submit's transaction on every judgment: no savepoint of its own (two round trips).
    # Nothing above writes, so a refusal there leaves the caller's transaction usable; a failure below
    # marks the caller's transaction for rollback, so a half-written credit never commits.
    with transaction.atomic(savepoint=False):
        # The clearance row is read FOR SHARE before any account moves: a clearing run of this worker (FOR
        # UPDATE) waits for this credit, so a credit never lands in pending after the run emptied it.
        target = Kind.WORKER_PAYABLE if credit_goes_to_payable(worker_id=judgment.worker_id) else Kind.WORKER_PENDING
        funding, account = _funding_and_worker_account(worker_id=judgment.worker_id, currency=currency, kind=target)
        txn = ledger_transfer(kind=TxnKind.JUDGMENT_CREDIT, source_ref=judgment_source_ref(judgment_id),
                              debit=funding, credit=account, amount_cents=reward,
                              memo=f"{judgment.project.name} (task {judgment.task_id})")
    return txn is not None


def _funding_and_worker_account(*, worker_id: int, currency: str, kind: str) -> tuple[LedgerAccount, LedgerAccount]:
    """The platform funding account and the worker's account of `kind`, in one query (created on first use)."""
    table = LedgerAccount._meta.db_table
    # Written out: this runs on every submitted judgment, and compiling the OR query was a visible share of it.
    # Columns named, never *: a prepared "SELECT *" fails once a migration adds a column.
    columns = ", ".join(f.column for f in LedgerAccount._meta.concrete_fields)
    rows = {(a.kind, a.worker_id): a for a in LedgerAccount.objects.raw(
        f"SELECT {columns} FROM {table} WHERE currency = %s AND ((kind = %s AND worker_id IS NULL) "  # noqa: S608
        "OR (kind = %s AND worker_id = %s))", [currency, Kind.PLATFORM_FUNDING, kind, worker_id])}
    funding = rows.get((Kind.PLATFORM_FUNDING, None)) or ledger_account_get(kind=Kind.PLATFORM_FUNDING,
                                                                            currency=currency)
    account = rows.get((kind, worker_id)) or ledger_account_get(kind=kind, worker_id=worker_id, currency=currency)
    return funding, account


@transaction.atomic
def earnings_hold(*, worker_id: int, judgment_ids: list[int] | None, flag_id: int) -> int:
    """A quality flag on the worker: their unpaid earnings for these judgments (all unpaid earnings when
    judgment_ids is empty or None) move from payable to held, and everything still pending is held too
    (PAY_PENDING_ON_FLAG=hold, the default) or reversed to the platform (=reverse), until the flag is
    resolved; the worker's new credits wait in pending again (doubt reopened). Returns the cents held.

    Only what is still payable or pending can be held: earnings already reserved in a payout batch (in
    transit) or paid out are not clawed back, so the payable part is min(credits of these judgments,
    payable balance), per currency. Idempotent per (flag, currency): a second call returns the amount
    held the first time. Every movement is a ledger transaction naming the flag; no row is edited.
    """
    existing = list(EarningsHold.objects.select_for_update().filter(flag_id=flag_id))
    if existing:
        return sum(h.amount_cents for h in existing)
    clearance = clearance_lock(worker_id=worker_id)  # before any account (the credit's order too)
    clearance.status, clearance.reason = EarningsClearance.Status.PENDING, EarningsClearance.Reason.DOUBT
    clearance.save(update_fields=["status", "reason"])
    judgment_ids = sorted(set(judgment_ids or []))
    credits = (LedgerEntry.objects.filter(account__kind=Kind.WORKER_PAYABLE, account__worker_id=worker_id,
                                          transaction__kind=TxnKind.JUDGMENT_CREDIT)
               .values("account__currency").annotate(total=Sum("amount_cents")))
    if judgment_ids:
        credits = credits.filter(transaction__source_ref__in=[judgment_source_ref(j) for j in judgment_ids])
    wanted = {row["account__currency"]: row["total"] for row in credits}
    if not judgment_ids:
        wanted = {a.currency: a.balance_cents for a in LedgerAccount.objects.filter(
            kind=Kind.WORKER_PAYABLE, worker_id=worker_id)}
    if settings.PAY_PENDING_ON_FLAG == "reverse":
        drain_pending(clearance=clearance, kind=TxnKind.PENDING_REVERSAL, to_kind=Kind.PLATFORM_FUNDING,
                      memo=f"Pending earnings reversed: quality flag {flag_id}", source_prefix=f"flag:{flag_id}")
        pending = {}
    else:
        pending = drain_pending(clearance=clearance, kind=TxnKind.HOLD, to_kind=Kind.WORKER_HELD,
                                memo=f"Pending earnings held for quality review (flag {flag_id})",
                                source_prefix=f"flag:{flag_id}:pending")
    total = 0
    for currency in sorted(set(wanted) | set(pending)):
        payable = ledger_account_get(kind=Kind.WORKER_PAYABLE, worker_id=worker_id, currency=currency)
        held = ledger_account_get(kind=Kind.WORKER_HELD, worker_id=worker_id, currency=currency)
        payable = LedgerAccount.objects.select_for_update().get(pk=payable.pk)  # fresh balance under lock
        amount = max(0, min(wanted.get(currency, 0), payable.balance_cents))
        EarningsHold.objects.create(flag_id=flag_id, worker_id=worker_id, currency=currency,
                                    amount_cents=amount + pending.get(currency, 0), judgment_ids=judgment_ids)
        if amount:
            ledger_transfer(kind=TxnKind.HOLD, source_ref=f"flag:{flag_id}:{currency}", debit=payable, credit=held,
                            amount_cents=amount, memo=f"Held for quality review (flag {flag_id})")
        total += amount + pending.get(currency, 0)
    if not wanted and not pending:
        # Nothing to hold, but remember the flag so a repeated call stays a no-op.
        EarningsHold.objects.create(flag_id=flag_id, worker_id=worker_id, currency=settings.STRIPE_CURRENCY, amount_cents=0,
                                    judgment_ids=judgment_ids)
    return total


def _hold_settle(*, flag_id: int, release: bool) -> int:
    status = EarningsHold.Status.RELEASED if release else EarningsHold.Status.FORFEITED
    settled = 0
    for hold in EarningsHold.objects.select_for_update().filter(flag_id=flag_id).order_by("pk"):
        if hold.status != EarningsHold.Status.HELD:
            continue  # settled before: idempotent
        if hold.amount_cents:
            held = ledger_account_get(kind=Kind.WORKER_HELD, worker_id=hold.worker_id, currency=hold.currency)
            if release:
                target = ledger_account_get(kind=Kind.WORKER_PAYABLE, worker_id=hold.worker_id, currency=hold.currency)
            else:
                target = ledger_account_get(kind=Kind.PLATFORM_FUNDING, currency=hold.currency)
            ledger_transfer(kind=TxnKind.HOLD_RELEASE if release else TxnKind.HOLD_FORFEIT,
                            source_ref=f"flag:{flag_id}:{hold.currency}", debit=held, credit=target,
                            amount_cents=hold.amount_cents,
                            memo=f"Hold {'released' if release else 'forfeited'} (flag {flag_id})")
        hold.status = status
        hold.settled_at = timezone.now()
        hold.save(update_fields=["status", "settled_at"])
        settled += hold.amount_cents
    return settled


@transaction.atomic
def earnings_hold_release(*, flag_id: int) -> int:
    """Gives held earnings back to the worker's payable balance (flag dismissed). Idempotent; returns the
    cents released by this call (0 when already settled or nothing was held)."""
    return _hold_settle(flag_id=flag_id, release=True)


@transaction.atomic
def earnings_hold_forfeit(*, flag_id: int) -> int:
    """Returns held earnings to the platform (flag confirmed). Idempotent; returns the cents forfeited."""
    return _hold_settle(flag_id=flag_id, release=False)


# Finance bonuses and adjustments live in payments.services.adjustments (four eyes, bounds); the name is
# kept here for the callers that import it from earnings.
from payments.services.adjustments import ledger_adjustment_create  # noqa: E402,F401
