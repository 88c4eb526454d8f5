"""Payout batches (finance): create with reservations, approve (four eyes), execute (Celery, one job
per line). Sending one line and settling it lives in payout_lines.py.

Ledger movements: reserve worker_payable -> payouts_in_transit at creation; a paid line moves
payouts_in_transit -> paid_out; a failed line releases payouts_in_transit -> worker_payable.
"""

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from marketplace.errors import Conflict, Forbidden, NotFound, ValidationFailed
from payments.lock_objects import ledger_accounts_lock, payout_batch_lock
from payments.models import LedgerAccount, LedgerTransaction, PayoutBatch, PayoutLine
from payments.selectors import OPEN_LINE_STATUSES, payable_credited_up_to, payout_candidate_accounts
from payments.services.ledger import ledger_post_many

Kind = LedgerAccount.Kind


def _batch_get_locked(batch_id: int) -> PayoutBatch:
    try:
        return payout_batch_lock(batch_id=batch_id)
    except PayoutBatch.DoesNotExist:
        raise NotFound(f"No payout batch {batch_id}.") from None


def _nothing_to_pay(*, currency: str, minimum_cents: int, cutoff: datetime) -> Conflict:
    # minimum_cents is in cents: 1000 is 10.00 USD, never "1000 usd".
    amount = f"{minimum_cents // 100}.{minimum_cents % 100:02d} {currency.upper()}"
    return Conflict(f"No worker with payouts enabled is owed at least {amount} (minimum_cents={minimum_cents}) in "
                    f"earnings credited up to {cutoff.isoformat()}; nothing to pay.", code="nothing_to_pay",
                    extra={"currency": currency, "minimum_cents": minimum_cents, "cutoff": cutoff.isoformat()})


def _batch_params_check(*, cutoff: datetime, minimum_cents: int, currency: str | None) -> str:
    if minimum_cents < 1:
        raise ValidationFailed("minimum_cents must be at least 1.", fields={"minimum_cents": ["must be >= 1"]})
    if cutoff > timezone.now():
        raise ValidationFailed("The cutoff cannot be in the future.", fields={"cutoff": ["must not be in the future"]})
    return (currency or settings.STRIPE_CURRENCY).lower()


def payout_batch_preview(*, cutoff: datetime, minimum_cents: int, currency: str | None = None) -> list[dict]:
    """Who payout_batch_create would pay, and how much, with the same arguments: its checks and its
    selection (payments.selectors.payout_candidate_accounts, payable_credited_up_to), read without locks
    and writing nothing. [{worker_id, worker, destination, amount_cents, currency}] by worker id; empty
    when nobody qualifies. A balance that moves before the batch is created moves its line too."""
    currency = _batch_params_check(cutoff=cutoff, minimum_cents=minimum_cents, currency=currency)
    destinations, payable_ids = payout_candidate_accounts(currency=currency, minimum_cents=minimum_cents)
    at_cutoff = payable_credited_up_to(account_ids=list(payable_ids.values()), cutoff=cutoff)
    accounts = LedgerAccount.objects.filter(pk__in=list(payable_ids.values())).select_related("worker")
    rows = []
    for account in sorted(accounts, key=lambda a: a.worker_id):
        amount = min(at_cutoff.get(account.pk, 0), account.balance_cents)
        if amount >= minimum_cents:
            rows.append({"worker_id": account.worker_id, "worker": account.worker,
                         "destination": destinations[account.worker_id], "amount_cents": amount,
                         "currency": currency})
    return rows


@transaction.atomic
def payout_batch_create(*, actor_id: int, cutoff: datetime, minimum_cents: int,
                        currency: str | None = None) -> PayoutBatch:
    """A draft batch: one line per worker with payouts enabled whose payable balance (counting only
    earnings credited up to `cutoff`, and never more than the current balance) is >= minimum_cents.

    In the same transaction each line's amount is reserved (payable -> in transit), with every ledger
    account involved locked in ascending id order: two batches created at once never reserve the same
    money twice, and nothing is reserved if anything fails. One line per (batch, worker) is a unique
    constraint. Raises Conflict (nothing_to_pay) when no worker qualifies; nothing is written then.
    """
    currency = _batch_params_check(cutoff=cutoff, minimum_cents=minimum_cents, currency=currency)
    destinations, payable_ids = payout_candidate_accounts(currency=currency, minimum_cents=minimum_cents)
    if not payable_ids:
        raise _nothing_to_pay(currency=currency, minimum_cents=minimum_cents, cutoff=cutoff)
    # In-transit accounts are created up front (outside the locks' critical part), then all are locked.
    LedgerAccount.objects.bulk_create(
        [LedgerAccount(kind=kind, worker_id=w, currency=currency) for w in payable_ids
         for kind in (Kind.PAYOUTS_IN_TRANSIT, Kind.PAID_OUT)], ignore_conflicts=True)
    transit_ids = dict(LedgerAccount.objects.filter(kind=Kind.PAYOUTS_IN_TRANSIT, currency=currency,
                                                    worker_id__in=list(payable_ids)).values_list("worker_id", "pk"))
    locked = ledger_accounts_lock(account_ids=list(payable_ids.values()) + list(transit_ids.values()))
    at_cutoff = payable_credited_up_to(account_ids=list(payable_ids.values()), cutoff=cutoff)
    batch = PayoutBatch.objects.create(currency=currency, cutoff=cutoff, minimum_cents=minimum_cents,
                                       created_by_id=actor_id)
    lines = []
    for worker_id in sorted(payable_ids):
        account = locked[payable_ids[worker_id]]
        amount = min(at_cutoff.get(account.pk, 0), account.balance_cents)  # fresh balance, read under the lock
        if amount >= minimum_cents:
            lines.append(PayoutLine(batch=batch, worker_id=worker_id, destination=destinations[worker_id],
                                    amount_cents=amount, currency=currency))
    if not lines:
        raise _nothing_to_pay(currency=currency, minimum_cents=minimum_cents, cutoff=cutoff)
    lines = PayoutLine.objects.bulk_create(lines, batch_size=1000)
    ledger_post_many(locked=locked, postings=[
        {"kind": LedgerTransaction.Kind.PAYOUT_RESERVE, "source_ref": f"payout-line:{line.pk}",
         "debit": payable_ids[line.worker_id], "credit": transit_ids[line.worker_id], "amount_cents": line.amount_cents,
         "memo": f"Payout batch {batch.pk}"} for line in lines])
    return batch


@transaction.atomic
def payout_batch_approve(*, batch_id: int, actor_id: int) -> PayoutBatch:
    """Approves a draft batch. Four eyes: the creator may not approve (Forbidden four_eyes; the database
    refuses it too). Only a draft can be approved (Conflict otherwise). Locks the batch row."""
    batch = _batch_get_locked(batch_id)
    if batch.created_by_id == actor_id:
        raise Forbidden("A batch must be approved by a different finance user than its creator.", code="four_eyes")
    if batch.status != PayoutBatch.Status.DRAFT:
        raise Conflict(f"Only a draft batch can be approved; batch {batch.pk} is {batch.status}.",
                       code="batch_not_draft", extra={"batch": batch.pk, "status": batch.status})
    batch.status = PayoutBatch.Status.APPROVED
    batch.approved_by_id = actor_id
    batch.approved_at = timezone.now()
    batch.save(update_fields=["status", "approved_by", "approved_at"])
    return batch


@transaction.atomic
def payout_batch_execute(*, batch_id: int, actor_id: int) -> PayoutBatch:
    """Starts (or resumes) an approved batch: status executing, and one Celery job per open line,
    enqueued after commit. Safe to call again while executing: it re-enqueues the lines still open, and
    each line job is idempotent (a line is paid at most once whatever runs twice)."""
    from marketplace.outbox import outbox_enqueue

    batch = _batch_get_locked(batch_id)
    if batch.status == PayoutBatch.Status.DRAFT:
        raise Conflict(f"Batch {batch.pk} must be approved (by a second finance user) before it is executed.",
                       code="batch_not_approved", extra={"batch": batch.pk, "status": batch.status})
    if batch.status not in (PayoutBatch.Status.APPROVED, PayoutBatch.Status.EXECUTING):
        raise Conflict(f"Batch {batch.pk} is {batch.status}; there is nothing left to execute.",
                       code="batch_finished", extra={"batch": batch.pk, "status": batch.status})
    if batch.status == PayoutBatch.Status.APPROVED:
        batch.status = PayoutBatch.Status.EXECUTING
        batch.executed_by_id = actor_id
        batch.executed_at = timezone.now()
        batch.save(update_fields=["status", "executed_by", "executed_at"])
    outbox_enqueue("payments.jobs.payout_batch_dispatch", batch.pk)  # published after the commit, even if the broker is down
    return batch


def payout_batch_refresh_status(*, batch_id: int) -> PayoutBatch | None:
    """Batch status follows its lines: once no line is open, completed (all paid), failed (none paid) or
    completed_with_failures. Idempotent; runs in its own short transaction.

    Line settlements call it after their commit (on_commit), never inside their own transaction: of two
    last lines settling at once, the one that commits last then runs this after both commits and sees no
    open line. While lines are open it takes no lock (the common case, so lines never queue on the batch
    row); the resume job calls it too, in case a process died between a commit and this call."""
    if PayoutLine.objects.filter(batch_id=batch_id, status__in=OPEN_LINE_STATUSES).exists():
        return None
    with transaction.atomic():
        batch = payout_batch_lock(batch_id=batch_id)
        if batch.status != PayoutBatch.Status.EXECUTING:
            return batch
        statuses = set(PayoutLine.objects.filter(batch_id=batch_id).values_list("status", flat=True).distinct())
        if statuses & set(OPEN_LINE_STATUSES):
            return batch
        paid = statuses & {PayoutLine.Status.PAID, PayoutLine.Status.REVERSED}
        failed = PayoutLine.Status.FAILED in statuses
        batch.status = (PayoutBatch.Status.COMPLETED if not failed else
                        PayoutBatch.Status.COMPLETED_WITH_FAILURES if paid else PayoutBatch.Status.FAILED)
        batch.finished_at = timezone.now()
        batch.save(update_fields=["status", "finished_at"])
        return batch
