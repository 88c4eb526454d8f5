"""The double-entry ledger's only write path (docs/design.md invariant 7).

ledger_post writes one balanced transaction: it refuses entries that do not sum to zero, mixes of
currencies and zero amounts. When it debits a worker account it first locks the worker accounts it touches
(ascending id) to check the balance; it moves their cached balances in the same database transaction. The
platform funding account, touched by every credit, is neither locked nor cached: its balance is derived from
its entries. (kind, source_ref) is unique, so posting the same cause twice writes nothing the second time.
Nothing here updates or deletes an entry: corrections are new transactions.
"""

from collections import defaultdict
from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone

from marketplace.errors import Conflict, ValidationFailed
from payments.lock_objects import ledger_accounts_lock
from payments.models import (
    LEDGER_BALANCE_MAX_CENTS,
    LEDGER_ENTRY_MAX_CENTS,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
)

Kind = LedgerAccount.Kind


class UnbalancedTransaction(ValueError):
    """A programming error: a posting whose entries do not sum to zero (never reaches the database)."""


def ledger_account_get(*, kind: str, currency: str, worker_id: int | None = None) -> LedgerAccount:
    """The account for (kind, worker, currency), created on first use. Safe under races: the partial
    unique constraints make a concurrent second insert fail and get_or_create then reads the winner's row."""
    currency = currency.lower()
    if kind == Kind.PLATFORM_FUNDING:
        worker_id = None
    elif worker_id is None:
        raise ValueError(f"{kind} accounts belong to a worker")
    account, _ = LedgerAccount.objects.get_or_create(kind=kind, worker_id=worker_id, currency=currency)
    return account


def worker_accounts_get(*, worker_id: int, currency: str) -> dict[str, LedgerAccount]:
    """All four accounts of a worker in one currency, by kind (created on first use)."""
    return {kind: ledger_account_get(kind=kind, worker_id=worker_id, currency=currency)
            for kind in LedgerAccount.WORKER_KINDS}


def ledger_post(*, kind: str, source_ref: str, currency: str, lines: Iterable[tuple[LedgerAccount, int]],
                memo: str = "", created_by_id: int | None = None,
                locked: dict[int, LedgerAccount] | None = None) -> LedgerTransaction | None:
    """Writes one balanced transaction and moves the balances of its accounts, atomically.

    Returns the new transaction, or None when (kind, source_ref) was posted before (idempotent).
    Guarantees: entries sum to zero, one currency, no zero amounts, each within LEDGER_ENTRY_MAX_CENTS
    (UnbalancedTransaction / ValueError otherwise, nothing written); worker accounts never go below zero
    (Conflict "insufficient_balance", nothing written) nor above LEDGER_BALANCE_MAX_CENTS (Conflict
    "balance_limit", judged on the balance the caller read; the CHECK constraint is the backstop). Pass `locked` when the caller already holds the accounts' locks (batch postings).
    """
    currency = currency.lower()
    deltas: dict[int, int] = defaultdict(int)
    accounts: dict[int, LedgerAccount] = {}
    for account, amount in lines:
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise ValueError("ledger amounts are integer cents")
        if not -LEDGER_ENTRY_MAX_CENTS <= amount <= LEDGER_ENTRY_MAX_CENTS:
            # Callers validate their input first (a 400 naming the field); this is the last line before
            # the CHECK constraint, and keeps SQLite's integer arithmetic from overflowing into floats.
            raise ValueError(f"ledger amount {amount} is beyond +-{LEDGER_ENTRY_MAX_CENTS} cents")
        if account.currency != currency:
            raise ValueError(f"account {account.pk} is in {account.currency}, transaction in {currency}")
        deltas[account.pk] += amount
        accounts[account.pk] = account
    deltas = {pk: amount for pk, amount in deltas.items() if amount != 0}
    if sum(deltas.values()) != 0:
        raise UnbalancedTransaction(f"{kind} {source_ref}: entries sum to {sum(deltas.values())}, not 0")
    if not deltas:
        raise ValueError(f"{kind} {source_ref}: nothing to post")

    # Platform funding is touched by every credit: its row is neither locked nor cached (a hot row would
    # serialise every judgment submission); its balance is derived from its entries when read.
    cached = [pk for pk in deltas if accounts[pk].kind != Kind.PLATFORM_FUNDING]
    # No savepoint of its own (two round trips per posting, on every submit and payout line). So that a
    # refusal still leaves the caller's transaction usable, the balance check runs before anything is
    # written and its Conflict is raised after the block; any other error marks the caller's whole
    # transaction for rollback, so nothing half-written ever commits.
    refusal = None
    with transaction.atomic(savepoint=False):
        # Only a debit can take a worker account below zero: a posting that only credits worker accounts
        # (every judgment credit) needs no lock to check; its balance UPDATE takes the row lock anyway.
        if locked is None and any(deltas[pk] < 0 for pk in cached):
            locked = ledger_accounts_lock(account_ids=cached)
        fresh = {**accounts, **(locked or {})}
        short = next((pk for pk in cached if deltas[pk] < 0 and fresh[pk].balance_cents + deltas[pk] < 0), None)
        full = next((pk for pk in cached if deltas[pk] > 0
                     and fresh[pk].balance_cents + deltas[pk] > LEDGER_BALANCE_MAX_CENTS), None)
        if short is not None or full is not None:
            # Re-posting a settled cause is a no-op, not an error, even when the balance has moved since.
            if LedgerTransaction.objects.filter(kind=kind, source_ref=source_ref).exists():
                return None
            if short is not None:
                account, amount = fresh[short], deltas[short]
                refusal = Conflict(
                    f"The {account.get_kind_display().lower()} balance is {account.balance_cents} "
                    f"{currency}, which cannot cover {-amount}.", code="insufficient_balance",
                    extra={"account": account.pk, "balance_cents": account.balance_cents, "needed_cents": -amount})
            else:
                refusal = Conflict(f"The {fresh[full].get_kind_display().lower()} balance would exceed "
                                   f"{LEDGER_BALANCE_MAX_CENTS} {currency}.", code="balance_limit",
                                   extra={"account": fresh[full].pk, "limit_cents": LEDGER_BALANCE_MAX_CENTS})
        else:
            txn = _transaction_insert(kind=kind, source_ref=source_ref, currency=currency, memo=memo,
                                      created_by_id=created_by_id)
            if txn is None:
                return None  # posted before (kind, source_ref): nothing written
            _entries_insert(txn=txn, deltas=deltas)
            for pk in sorted(cached):
                _balance_move(account_id=pk, amount=deltas[pk])
                if locked is not None and pk in locked:
                    locked[pk].balance_cents += deltas[pk]
            return txn
    raise refusal


# ledger_post runs on every submitted judgment and every payout line: its statements are written out rather
# than compiled by the ORM each time (the ORM's compile was most of a credit's CPU).
def _entries_insert(*, txn: LedgerTransaction, deltas: dict[int, int]) -> None:
    table = LedgerEntry._meta.db_table
    created_at = connection.ops.adapt_datetimefield_value(txn.created_at)
    rows = ", ".join(["(%s, %s, %s, %s)"] * len(deltas))
    params = [value for pk, amount in deltas.items() for value in (txn.pk, pk, amount, created_at)]
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} (transaction_id, account_id, amount_cents, created_at) "  # noqa: S608
                       f"VALUES {rows}", params)


def _balance_move(*, account_id: int, amount: int) -> None:
    table = LedgerAccount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET balance_cents = balance_cents + %s WHERE id = %s",  # noqa: S608
                       [amount, account_id])


def _transaction_insert(*, kind: str, source_ref: str, currency: str, memo: str,
                        created_by_id: int | None) -> LedgerTransaction | None:
    """INSERT ... ON CONFLICT (kind, source_ref) DO NOTHING RETURNING id: the new transaction, or None when
    (kind, source_ref) exists. One round trip, and no savepoint: a duplicate cause never raises, so the
    caller's transaction stays usable; any other unique violation still raises (PostgreSQL and SQLite >= 3.35
    both speak this)."""
    txn = LedgerTransaction(kind=kind, source_ref=source_ref, currency=currency, memo=memo[:500],
                            created_by_id=created_by_id, created_at=timezone.now())
    table = LedgerTransaction._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (kind, source_ref, currency, memo, created_by_id, created_at) "  # noqa: S608
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (kind, source_ref) DO NOTHING RETURNING id",
            # As the ORM would store it (SQLite keeps datetimes as text, without the offset).
            [txn.kind, txn.source_ref, txn.currency, txn.memo, txn.created_by_id,
             connection.ops.adapt_datetimefield_value(txn.created_at)])
        row = cursor.fetchone()
    if row is None:
        return None
    txn.pk = row[0]
    txn._state.adding = False
    txn._state.db = connection.alias
    return txn


def ledger_transfer(*, kind: str, source_ref: str, debit: LedgerAccount, credit: LedgerAccount, amount_cents: int,
                    memo: str = "", created_by_id: int | None = None,
                    locked: dict[int, LedgerAccount] | None = None) -> LedgerTransaction | None:
    """Moves amount_cents from `debit` to `credit` (two entries): the common case of ledger_post."""
    if amount_cents <= 0:
        raise ValidationFailed("The amount must be positive.", fields={"amount_cents": ["must be > 0"]})
    return ledger_post(kind=kind, source_ref=source_ref, currency=debit.currency,
                       lines=[(debit, -amount_cents), (credit, amount_cents)], memo=memo,
                       created_by_id=created_by_id, locked=locked)


def ledger_post_many(*, postings: list[dict], locked: dict[int, LedgerAccount]) -> None:
    """Writes many two-entry transactions at once (payout batch reservations): bulk inserts, and one
    bulk balance update. The caller holds the locks of every account involved (`locked`, fresh rows) and
    guarantees the sources are new (e.g. freshly created payout lines). Each posting is
    {kind, source_ref, debit: account id, credit: account id, amount_cents, memo}.
    Same guarantees as ledger_post: balanced, one currency, worker accounts never below zero."""
    if not postings:
        return
    for p in postings:
        debit, credit = locked[p["debit"]], locked[p["credit"]]
        if p["amount_cents"] <= 0 or debit.currency != credit.currency:
            raise ValueError(f"bad posting {p}")
        debit.balance_cents -= p["amount_cents"]
        credit.balance_cents += p["amount_cents"]
        if debit.kind != Kind.PLATFORM_FUNDING and debit.balance_cents < 0:  # funding is not cached (ledger_post)
            raise Conflict(f"Account {debit.pk} cannot cover {p['amount_cents']}.", code="insufficient_balance",
                           extra={"account": debit.pk, "needed_cents": p["amount_cents"]})
    with transaction.atomic():
        txns = LedgerTransaction.objects.bulk_create([
            LedgerTransaction(kind=p["kind"], source_ref=p["source_ref"], currency=locked[p["debit"]].currency,
                              memo=p.get("memo", "")[:500]) for p in postings], batch_size=1000)
        entries = []
        for txn, p in zip(txns, postings, strict=True):
            entries.append(LedgerEntry(transaction_id=txn.pk, account_id=p["debit"], amount_cents=-p["amount_cents"]))
            entries.append(LedgerEntry(transaction_id=txn.pk, account_id=p["credit"], amount_cents=p["amount_cents"]))
        LedgerEntry.objects.bulk_create(entries, batch_size=2000)
        touched = ({p["debit"] for p in postings} | {p["credit"] for p in postings})
        LedgerAccount.objects.bulk_update([locked[pk] for pk in sorted(touched)
                                           if locked[pk].kind != Kind.PLATFORM_FUNDING],
                                          ["balance_cents"], batch_size=1000)
