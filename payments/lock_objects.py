"""Row locks in one fixed order, so concurrent money movements never deadlock (Saleor's lock_objects).

Order: payout line | ledger adjustment -> ledger accounts (ascending id) -> payout batch. Every service that takes more
than one of these locks takes them in this order.
"""

from django.db.models import QuerySet

from payments.models import LedgerAccount, LedgerAdjustment, PayoutBatch, PayoutLine


def ledger_accounts_lock(*, account_ids) -> dict[int, LedgerAccount]:
    """Locks the accounts (SELECT ... FOR NO KEY UPDATE, ascending id: only balances change, so inserts of
    entries referencing an account, whose foreign-key check takes FOR KEY SHARE, are not blocked) and returns
    them fresh, by id."""
    rows = LedgerAccount.objects.select_for_update(no_key=True).filter(pk__in=set(account_ids)).order_by("pk")
    return {row.pk: row for row in rows}


def payout_line_lock(*, line_id: int) -> PayoutLine:
    return PayoutLine.objects.select_for_update(of=("self",)).select_related("batch").get(pk=line_id)


def payout_batch_lock(*, batch_id: int) -> PayoutBatch:
    return PayoutBatch.objects.select_for_update().get(pk=batch_id)


def payout_lines_lock(*, batch_id: int) -> QuerySet[PayoutLine]:
    return PayoutLine.objects.select_for_update().filter(batch_id=batch_id).order_by("pk")


def ledger_adjustment_lock(*, adjustment_id: int) -> LedgerAdjustment:
    return LedgerAdjustment.objects.select_for_update().get(pk=adjustment_id)
