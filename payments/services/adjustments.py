"""Finance bonuses and adjustments on a worker's payable balance, with four eyes above a threshold.

Ledger movement: platform_funding <-> worker_payable, one balanced transaction per adjustment
(source_ref "finance:<reference>", unique with its kind, so an adjustment reaches the ledger once).

Rules (each also a CHECK constraint on LedgerAdjustment):
- bounded: 0 < |amount| <= PAYMENTS_ADJUSTMENT_MAX_CENTS (never above LEDGER_ENTRY_MAX_CENTS); a bonus is positive;
- four eyes above PAYMENTS_ADJUSTMENT_APPROVAL_ABOVE_CENTS: the request waits (pending) and only a second
  finance user's approval posts it; the approver is never the requester;
- nobody adjusts their own balance: the worker is neither the requester nor the approver.
Lock order: the adjustment row, then the ledger accounts (payments.lock_objects).
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplace.errors import Conflict, Forbidden, NotFound, ValidationFailed
from payments.lock_objects import ledger_adjustment_lock
from payments.models import LEDGER_ENTRY_MAX_CENTS, LedgerAccount, LedgerAdjustment, LedgerTransaction
from payments.services.ledger import ledger_account_get, ledger_transfer

Kind = LedgerAccount.Kind
Status = LedgerAdjustment.Status


def adjustment_max_cents() -> int:
    """The hard maximum of one adjustment (either sign): the setting, never above the ledger's bound."""
    return max(1, min(int(settings.PAYMENTS_ADJUSTMENT_MAX_CENTS), LEDGER_ENTRY_MAX_CENTS))


def adjustment_needs_approval(amount_cents: int) -> bool:
    return abs(amount_cents) > int(settings.PAYMENTS_ADJUSTMENT_APPROVAL_ABOVE_CENTS)


def _validate(*, kind: str, amount_cents, currency: str) -> None:
    if kind not in LedgerAdjustment.Kind.values:
        raise ValidationFailed("kind must be bonus or adjustment.", fields={"kind": ["must be bonus or adjustment"]})
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool):
        raise ValidationFailed("amount_cents must be an integer.", fields={"amount_cents": ["must be an integer"]})
    limit = adjustment_max_cents()
    if amount_cents == 0 or (kind == LedgerAdjustment.Kind.BONUS and amount_cents < 0):
        raise ValidationFailed("A bonus is positive; an adjustment is non-zero.",
                               fields={"amount_cents": ["must be > 0 for a bonus, non-zero for an adjustment"]})
    if abs(amount_cents) > limit:
        raise ValidationFailed(f"amount_cents is out of range: at most {limit} either way (PAYMENTS_ADJUSTMENT_MAX_CENTS).",
                               fields={"amount_cents": [f"must be between -{limit} and {limit}"]})
    if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        raise ValidationFailed("currency must be a 3-letter ISO code.", fields={"currency": ["must be 3 letters"]})


def _post(adjustment: LedgerAdjustment) -> LedgerTransaction:
    """Writes the adjustment's balanced transaction (Conflict insufficient_balance when a debit exceeds the
    payable balance: nothing is written). Idempotent by (kind, source_ref)."""
    source_ref = f"finance:{adjustment.reference}"
    funding = ledger_account_get(kind=Kind.PLATFORM_FUNDING, currency=adjustment.currency)
    payable = ledger_account_get(kind=Kind.WORKER_PAYABLE, worker_id=adjustment.worker_id, currency=adjustment.currency)
    debit, credit = (funding, payable) if adjustment.amount_cents > 0 else (payable, funding)
    txn = ledger_transfer(kind=adjustment.kind, source_ref=source_ref, debit=debit, credit=credit,
                          amount_cents=abs(adjustment.amount_cents), memo=adjustment.memo,
                          created_by_id=adjustment.decided_by_id or adjustment.requested_by_id)
    return txn or LedgerTransaction.objects.get(kind=adjustment.kind, source_ref=source_ref)


@transaction.atomic
def ledger_adjustment_create(*, actor_id: int, worker_id: int, amount_cents: int, currency: str, kind: str,
                             memo: str, reference: str) -> LedgerAdjustment:
    """Requests a bonus (positive) or an adjustment (either sign) on a worker's payable balance.

    Up to PAYMENTS_ADJUSTMENT_APPROVAL_ABOVE_CENTS either way it is posted at once (status posted);
    above, it is recorded as pending and reaches the ledger only when another finance user approves it
    (ledger_adjustment_approve). Idempotent by `reference`: the same request again returns the same row
    (`.replayed` is set); the reference with other details is a Conflict (reference_reused). Refusals
    write nothing: out-of-range amount (ValidationFailed naming amount_cents), unknown worker, one's own
    balance (Forbidden self_adjustment), a debit beyond the payable balance (Conflict insufficient_balance).
    """
    currency = (currency or "").lower()
    _validate(kind=kind, amount_cents=amount_cents, currency=currency)
    if worker_id == actor_id:
        raise Forbidden("Nobody adjusts their own balance: another finance user must do it.", code="self_adjustment")
    if not get_user_model().objects.filter(pk=worker_id).exists():
        raise ValidationFailed("No such worker.", fields={"worker": ["no such worker"]})
    previous = LedgerAdjustment.objects.filter(reference=reference).first()
    if previous is not None:
        return _replay(previous, worker_id=worker_id, amount_cents=amount_cents, currency=currency, kind=kind)
    try:
        with transaction.atomic():
            adjustment = LedgerAdjustment.objects.create(
                kind=kind, worker_id=worker_id, currency=currency, amount_cents=amount_cents, memo=memo[:500],
                reference=reference, requested_by_id=actor_id)
    except IntegrityError:  # the same reference, requested at the same moment by another request
        previous = LedgerAdjustment.objects.get(reference=reference)
        return _replay(previous, worker_id=worker_id, amount_cents=amount_cents, currency=currency, kind=kind)
    adjustment.replayed = False
    if adjustment_needs_approval(amount_cents):
        return adjustment
    adjustment.transaction = _post(adjustment)
    adjustment.status = Status.POSTED
    adjustment.save(update_fields=["transaction", "status"])
    return adjustment


def _replay(previous: LedgerAdjustment, **asked) -> LedgerAdjustment:
    same = (previous.worker_id, previous.amount_cents, previous.currency, previous.kind) == (
        asked["worker_id"], asked["amount_cents"], asked["currency"], asked["kind"])
    if not same:
        raise Conflict(f"Reference {previous.reference!r} names adjustment {previous.pk}, with other details.",
                       code="reference_reused", fields={"reference": ["already used for another adjustment"]})
    previous.replayed = True
    return previous


def _decide_locked(*, adjustment_id: int, actor_id: int) -> LedgerAdjustment:
    try:
        adjustment = ledger_adjustment_lock(adjustment_id=adjustment_id)
    except LedgerAdjustment.DoesNotExist:
        raise NotFound(f"No ledger adjustment {adjustment_id}.") from None
    if adjustment.worker_id == actor_id:
        raise Forbidden("Nobody decides an adjustment of their own balance.", code="self_adjustment")
    if adjustment.status != Status.PENDING:
        raise Conflict(f"Only a pending adjustment can be decided; this one is {adjustment.status}.",
                       code="adjustment_not_pending")
    return adjustment


@transaction.atomic
def ledger_adjustment_approve(*, adjustment_id: int, actor_id: int) -> LedgerAdjustment:
    """Approves a pending adjustment and posts it to the ledger, in one transaction under the adjustment's
    row lock: of two finance users approving at once, one posts and the other gets Conflict
    adjustment_not_pending. Four eyes: the requester may not approve (Forbidden four_eyes), nor may the
    worker (Forbidden self_adjustment); the database refuses both too. A debit the payable balance cannot
    cover is refused (Conflict insufficient_balance) and the adjustment stays pending."""
    adjustment = _decide_locked(adjustment_id=adjustment_id, actor_id=actor_id)
    if adjustment.requested_by_id == actor_id:
        raise Forbidden("An adjustment must be approved by a different finance user than its requester.",
                        code="four_eyes")
    adjustment.decided_by_id = actor_id
    adjustment.decided_at = timezone.now()
    adjustment.transaction = _post(adjustment)
    adjustment.status = Status.POSTED
    adjustment.save(update_fields=["decided_by", "decided_at", "transaction", "status"])
    return adjustment


@transaction.atomic
def ledger_adjustment_reject(*, adjustment_id: int, actor_id: int) -> LedgerAdjustment:
    """Rejects a pending adjustment: nothing reaches the ledger. Any finance user but the worker may reject,
    the requester included (withdrawing their own request)."""
    adjustment = _decide_locked(adjustment_id=adjustment_id, actor_id=actor_id)
    adjustment.status = Status.REJECTED
    if adjustment.requested_by_id != actor_id:
        adjustment.decided_by_id = actor_id
    adjustment.decided_at = timezone.now()
    adjustment.save(update_fields=["status", "decided_by", "decided_at"])
    return adjustment
