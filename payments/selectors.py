"""Reads of the payments app: earnings, ledger entries, payout batches."""

from django.conf import settings
from django.db.models import BigIntegerField, Count, QuerySet, Sum

from payments.models import (
    LedgerAccount,
    LedgerAdjustment,
    LedgerEntry,
    LedgerTransaction,
    PayoutBatch,
    PayoutLine,
    StripeAccount,
)

Kind = LedgerAccount.Kind
# A line still to be sent (reserved) or whose attempt's outcome is not known yet (sending).
OPEN_LINE_STATUSES = (PayoutLine.Status.RESERVED, PayoutLine.Status.SENDING)


def worker_earnings_summary(*, user) -> dict:
    """The worker's money at a glance, in integer cents: balance (payable now), held (quality review),
    pending (reserved in a payout batch, in transit to Stripe), paid (transferred). The top-level figures
    are in the platform currency (STRIPE_CURRENCY); by_currency lists every currency the worker has."""
    by_currency: dict[str, dict] = {}
    field = {Kind.WORKER_PAYABLE: "balance_cents", Kind.WORKER_HELD: "held_cents",
             Kind.PAYOUTS_IN_TRANSIT: "pending_cents", Kind.PAID_OUT: "paid_cents"}
    for account in LedgerAccount.objects.filter(worker_id=user.pk, kind__in=list(field)):
        row = by_currency.setdefault(account.currency, {"currency": account.currency, "balance_cents": 0,
                                                        "held_cents": 0, "pending_cents": 0, "paid_cents": 0})
        row[field[account.kind]] = cents_int(account.balance_cents)
    currency = settings.STRIPE_CURRENCY.lower()
    main = by_currency.get(currency) or {"currency": currency, "balance_cents": 0, "held_cents": 0,
                                         "pending_cents": 0, "paid_cents": 0}
    return {**main, "by_currency": sorted(by_currency.values(), key=lambda r: r["currency"])}


def worker_ledger_entries(*, user) -> QuerySet[LedgerEntry]:
    """Every ledger entry on the worker's own accounts, newest first."""
    return (LedgerEntry.objects.filter(account__worker_id=user.pk)
            .select_related("account", "transaction").order_by("-id"))


def cents_sum(field: str) -> Sum:
    """SUM of integer cents as an integer. Every amount is bounded (LEDGER_ENTRY_MAX_CENTS) so the sum fits
    a 64-bit integer; the integer output field keeps the database's answer an int on every backend."""
    return Sum(field, output_field=BigIntegerField())


def cents_int(value) -> int:
    # SQLite answers SUM() of an INTEGER column that ever held an overflowed (REAL) value with a float:
    # report it exactly when it is whole, never hand a float on as money.
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"non-integer cents {value!r} in the ledger")
        return int(value)
    return int(value or 0)


def ledger_account_entry_sums() -> dict[int, int]:
    return {row["account_id"]: cents_int(row["total"]) for row in
            LedgerEntry.objects.values("account_id").annotate(total=cents_sum("amount_cents"))}


def ledger_balance_mismatches() -> list[dict]:
    """Cached balances that differ from the sum of their entries (should always be empty). Platform
    funding accounts are not cached (see payments.models) and are not compared."""
    sums = ledger_account_entry_sums()
    return [{"account": a.pk, "kind": a.kind, "worker": a.worker_id, "currency": a.currency,
             "balance_cents": cents_int(a.balance_cents), "entries_cents": sums.get(a.pk, 0)}
            for a in LedgerAccount.objects.exclude(kind=Kind.PLATFORM_FUNDING)
            if a.balance_cents != sums.get(a.pk, 0)]


def platform_funding_balance(*, currency: str) -> int:
    """The platform funding account's balance (derived: its row is not cached). Negative: money that
    entered the ledger as earnings and has not been forfeited back."""
    return cents_int(LedgerEntry.objects.filter(account__kind=Kind.PLATFORM_FUNDING, account__currency=currency.lower())
                  .aggregate(t=cents_sum("amount_cents"))["t"])


def ledger_unbalanced_transactions() -> list[dict]:
    """Transactions whose entries do not sum to zero (should always be empty)."""
    rows = (LedgerTransaction.objects.annotate(total=cents_sum("entries__amount_cents")).exclude(total=0)
            .values("id", "kind", "source_ref", "total"))
    return [{**row, "total": cents_int(row["total"])} for row in rows]


def payout_account_get(*, user) -> StripeAccount | None:
    return StripeAccount.objects.filter(user_id=user.pk).first()


def payout_batch_get(*, batch_id: int) -> PayoutBatch | None:
    return PayoutBatch.objects.filter(pk=batch_id).first()


def payout_batch_list() -> QuerySet[PayoutBatch]:
    return PayoutBatch.objects.all().order_by("-id")


def payout_lines(*, batch_id: int) -> QuerySet[PayoutLine]:
    return PayoutLine.objects.filter(batch_id=batch_id).select_related("worker").order_by("id")


def payout_batch_open_line_ids(*, batch_id: int) -> list[int]:
    return list(PayoutLine.objects.filter(batch_id=batch_id, status__in=OPEN_LINE_STATUSES)
                .order_by("pk").values_list("pk", flat=True))


def payout_batches_executing_ids() -> list[int]:
    return list(PayoutBatch.objects.filter(status=PayoutBatch.Status.EXECUTING).values_list("pk", flat=True))


def payout_lines_stale_ids(*, updated_before, limit: int = 10000) -> list[int]:
    """Open lines of executing batches untouched since updated_before (a job lost beyond the broker's
    redelivery), oldest batches' lines first by id, at most limit."""
    return list(PayoutLine.objects.filter(
        batch__status=PayoutBatch.Status.EXECUTING, status__in=OPEN_LINE_STATUSES,
        updated_at__lt=updated_before).values_list("pk", flat=True)[:limit])


def payout_batch_line_counts(*, batch_id: int) -> dict[str, int]:
    counts = {s: 0 for s in PayoutLine.Status.values}
    for row in PayoutLine.objects.filter(batch_id=batch_id).values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


def ledger_adjustment_list(*, status: str | None = None) -> QuerySet[LedgerAdjustment]:
    rows = LedgerAdjustment.objects.select_related("transaction").order_by("-id")
    return rows.filter(status=status) if status else rows


def ledger_adjustment_get(*, adjustment_id: int) -> LedgerAdjustment | None:
    return LedgerAdjustment.objects.select_related("transaction").filter(pk=adjustment_id).first()
