"""Reads of the payments app: earnings, ledger entries, payout batches."""

from datetime import timedelta

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


# What the worker reads about their pending earnings: fixed words, the same for everyone in a state, that
# say nothing of how the work is checked (no gold, no scores, no rule names).
CLEARANCE_WORDS = {
    "new": "New earnings are pending while your first work is checked. They become payable once enough of "
           "it has been checked, or by the expected date at the latest.",
    "doubt": "Some of your work is being reviewed. Pending earnings stay pending until the review ends.",
    "cleared": "Your work has been checked: new earnings become payable as soon as you submit.",
}


def _figures(currency: str) -> dict:
    return {"currency": currency, "balance_cents": 0, "held_cents": 0, "pending_cents": 0, "paid_cents": 0,
            "pending_clearance_cents": 0}


def worker_clearance(*, user) -> dict:
    """Why the worker's earnings are pending and when they are expected to clear (payments.services.clearance):
    {status: "pending"|"cleared", reason: "new"|"doubt"|"cleared", message, expected_clear_at (ISO or null)}.
    expected_clear_at is the clock fallback for the oldest pending credit; null when nothing is pending, or
    while a review is open (it ends when ops decide)."""
    from payments.models import EarningsClearance

    clearance = EarningsClearance.objects.filter(worker_id=user.pk).first()
    if clearance is None:
        clearance = EarningsClearance(worker_id=user.pk)
    reason = "cleared" if clearance.status == EarningsClearance.Status.CLEARED else clearance.reason
    expected = None
    if reason == "new":
        oldest = (LedgerEntry.objects.filter(account__worker_id=user.pk, account__kind=Kind.WORKER_PENDING,
                                             amount_cents__gt=0, id__gt=clearance.drained_through_entry_id)
                  .order_by("id").values_list("created_at", flat=True).first())
        if oldest is not None:
            expected = (oldest + timedelta(seconds=max(settings.PAY_CLEARANCE_WAIT_SECONDS, 0))).isoformat()
    return {"status": clearance.status, "reason": reason, "message": CLEARANCE_WORDS[reason],
            "expected_clear_at": expected}


def worker_earnings_summary(*, user) -> dict:
    """The worker's money at a glance, in integer cents: pending_clearance (earned, waiting for their work
    to be checked), balance (payable now), held (quality review), pending (reserved in a payout batch, in
    transit to Stripe), paid (transferred); and `clearance`, why earnings are pending and until when. The
    top-level figures are in the platform currency (STRIPE_CURRENCY); by_currency lists every currency the
    worker has."""
    by_currency: dict[str, dict] = {}
    field = {Kind.WORKER_PAYABLE: "balance_cents", Kind.WORKER_HELD: "held_cents",
             Kind.PAYOUTS_IN_TRANSIT: "pending_cents", Kind.PAID_OUT: "paid_cents",
             Kind.WORKER_PENDING: "pending_clearance_cents"}
    for account in LedgerAccount.objects.filter(worker_id=user.pk, kind__in=list(field)):
        row = by_currency.setdefault(account.currency, _figures(account.currency))
        row[field[account.kind]] = cents_int(account.balance_cents)
    currency = settings.STRIPE_CURRENCY.lower()
    main = by_currency.get(currency) or _figures(currency)
    return {**main, "by_currency": sorted(by_currency.values(), key=lambda r: r["currency"]),
            "clearance": worker_clearance(user=user)}


def worker_ledger_entry_ids(*, user) -> QuerySet:
    """Ids of every ledger entry on the worker's own accounts, newest first: what a page of entries is cut
    from. Ids only, on the worker's few account ids, so counting and ordering them read the (account, id)
    index alone; joining each entry's transaction before the sort cost 150 ms for a worker with 20k
    entries (bench/scale_paths.py), the index alone ~10 ms."""
    accounts = list(LedgerAccount.objects.filter(worker_id=user.pk).values_list("pk", flat=True))
    return LedgerEntry.objects.filter(account_id__in=accounts).order_by("-id").values_list("pk", flat=True)


def ledger_entries_by_ids(*, ids: list[int]) -> list[LedgerEntry]:
    """The entries of one page (ids from worker_ledger_entry_ids), with account and transaction, newest first."""
    return list(LedgerEntry.objects.filter(pk__in=ids).select_related("account", "transaction").order_by("-id"))


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


def judgment_credits_cleared(*, judgment_ids) -> dict:
    """{cleared_cents, pending_cents} of these judgments' credits (judgment_credits_cleared_by_project for
    one group)."""
    return judgment_credits_cleared_by_project(judgment_ids_by_project={0: list(judgment_ids)})[0]


# Refs per statement off PostgreSQL (SQLite's bound-parameter limit; there one array parameter carries them all).
_REFS_PER_QUERY = 10_000


def judgment_credits_cleared_by_project(*, judgment_ids_by_project: dict[int, list[int]]) -> dict[int, dict]:
    """{project_id: {cleared_cents, pending_cents}} of the given judgments' credits, for every project given
    (zeros where none is credited). A credit is cleared when it went to payable at once, or has left the
    pending account since (drained: cleared, or held or reversed by a flag); pending while it waits above its
    worker's watermark (payments.services.clearance). Reads these credits only (the unique (kind, source_ref)
    index) and their workers' clearance rows: on PostgreSQL one statement for the lot (the refs go as one
    array parameter, summed in the database), elsewhere one query per 10,000 refs plus the clearance rows.
    What marketplace.events.judgment_credits_cleared answers (tasks.selectors.pay's hourly figures)."""
    from django.db import connection

    from payments.models import EarningsClearance

    out = {pid: {"cleared_cents": 0, "pending_cents": 0} for pid in judgment_ids_by_project}
    project_of = {f"judgment:{j}": pid for pid, ids in judgment_ids_by_project.items() for j in ids}
    if not project_of:
        return out
    if connection.vendor == "postgresql":
        entry, txn, account = LedgerEntry._meta.db_table, LedgerTransaction._meta.db_table, LedgerAccount._meta.db_table
        clearance = EarningsClearance._meta.db_table
        # Each ref is looked up on the unique (kind, source_ref) index and its entries on their transaction's:
        # as LATERAL subqueries with LIMIT, which the planner cannot flatten into a hash join over the whole
        # ledger (it did at 200k transactions: a sequential scan of every transaction and entry per page).
        sql = (f"SELECT s.project_id, a.kind = %s AND e.id > COALESCE(c.drained_through_entry_id, 0), "  # noqa: S608 - constant fragments only
               f"SUM(e.amount_cents) FROM unnest(%s::text[], %s::bigint[]) AS s(ref, project_id) "
               f"CROSS JOIN LATERAL (SELECT t.id FROM {txn} t WHERE t.kind = %s AND t.source_ref = s.ref LIMIT 1) t "
               f"CROSS JOIN LATERAL (SELECT e.id, e.account_id, e.amount_cents FROM {entry} e "
               f"WHERE e.transaction_id = t.id AND e.amount_cents > 0 LIMIT 8) e "
               f"JOIN {account} a ON a.id = e.account_id "
               f"LEFT JOIN {clearance} c ON c.worker_id = a.worker_id GROUP BY 1, 2")
        with connection.cursor() as cursor:
            cursor.execute(sql, [Kind.WORKER_PENDING.value, list(project_of), list(project_of.values()),
                                 LedgerTransaction.Kind.JUDGMENT_CREDIT.value])
            for pid, pending, cents in cursor.fetchall():
                out[pid]["pending_cents" if pending else "cleared_cents"] += int(cents)
        return out
    refs = list(project_of)
    rows = []
    for start in range(0, len(refs), _REFS_PER_QUERY):
        rows += (LedgerEntry.objects.filter(transaction__kind=LedgerTransaction.Kind.JUDGMENT_CREDIT,
                                            transaction__source_ref__in=refs[start:start + _REFS_PER_QUERY],
                                            amount_cents__gt=0)
                 .values_list("id", "amount_cents", "account__kind", "account__worker_id", "transaction__source_ref"))
    marks = dict(EarningsClearance.objects.filter(worker_id__in={r[3] for r in rows})
                 .values_list("worker_id", "drained_through_entry_id"))
    for pk, amount, kind, worker, ref in rows:
        pending = kind == Kind.WORKER_PENDING and pk > marks.get(worker, 0)
        out[project_of[ref]]["pending_cents" if pending else "cleared_cents"] += amount
    return out


def payout_candidate_accounts(*, currency: str, minimum_cents: int) -> tuple[dict[int, str], dict[int, int]]:
    """Who a payout batch may pay: ({worker_id: Stripe destination} of workers with payouts enabled,
    {worker_id: payable account id} of those whose payable balance is at least minimum_cents). The first
    half of payout_batch_create's selection, shared with its preview so both pick the same workers."""
    destinations = dict(StripeAccount.objects.filter(payouts_enabled=True).values_list("user_id", "stripe_id"))
    payable_ids = dict(LedgerAccount.objects.filter(
        kind=Kind.WORKER_PAYABLE, currency=currency, worker_id__in=list(destinations),
        balance_cents__gte=minimum_cents).values_list("worker_id", "pk"))
    return destinations, payable_ids


def payable_credited_up_to(*, account_ids: list[int], cutoff) -> dict[int, int]:
    """{account_id: cents} credited to these payable accounts by transactions up to the cutoff: the second
    half of the selection (a line pays min(this, the current balance) when that reaches the minimum)."""
    return {account_id: cents_int(total) for account_id, total in
            LedgerEntry.objects.filter(account_id__in=account_ids, transaction__created_at__lte=cutoff)
            .values("account_id").annotate(total=cents_sum("amount_cents")).values_list("account_id", "total")}
