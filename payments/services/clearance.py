"""Pay follows evidence: a judgment's credit waits in worker_pending until the worker's quality evidence
clears it (issue 20, docs/payments.md "Pending earnings").

Ledger movements (see payments.models.LedgerAccount, EarningsClearance):
  judgment credit        platform_funding -> worker_pending   (worker not cleared)
                         platform_funding -> worker_payable   (worker cleared: at once)
  clearance              worker_pending   -> worker_payable   (evidence passed, or the clock ran out)
  hold (quality flag)    worker_pending   -> worker_held      (PAY_PENDING_ON_FLAG=hold, payments.services.earnings)
  pending reversal       worker_pending   -> platform_funding (PAY_PENDING_ON_FLAG=reverse)

A worker's verdict, from quality's standings and flags (quality.pay_evidence answers it through a hook):
- doubt: an open or confirmed flag, a standing flagged or suspended in any project, a random-answering test that
  quality watches (its log likelihood ratio, random : honest, above PAY_CLEARANCE_DOUBT_LOG_LR, by default the
  project's random.watch_log_lr, 1.0; where the schema has no such test, an adaptive gold share above the
  project's: quality.gold's agreement test has not settled), or a median time per judgment under
  PAY_CLEARANCE_FAST_SHARE of the project's workers' median (any other "watch" alone is not doubt, nor a random
  test short of its watch level: such a worker still needs the evidence below to clear);
- evidence: in some project, at least PAY_CLEARANCE_MIN_GOLD gold answers and PAY_CLEARANCE_MIN_JUDGMENTS gold
  plus agreement-scored judgments in all, whose pooled share right (gold correct, matches with the others'
  consensus) has its Wilson lower bound (z = PAY_CLEARANCE_Z) above the project's floor (PAY_CLEARANCE_FLOOR,
  by default the project's gold threshold, quality rules gold.upper_below; for the agreement-scored part, the
  agreement a rater right that often shows with the project's consensus: agreement_floor), and no doubt anywhere;
- otherwise unproven.
Evidence clears the worker: everything pending becomes payable and later credits are payable at once, until
doubt reopens (then new credits wait again). Unproven, a credit clears on its own once it is
PAY_CLEARANCE_WAIT_SECONDS old (the clock fallback); in doubt, nothing clears until the doubt is resolved.

Cost: a run reads the standings and flags of the workers it is given, and each worker's pending credits above
their watermark; never the whole ledger. It runs after every quality recompute (one job per project run,
enqueued through the outbox) and from beat (earnings_clearance_due: the clock, over accounts holding pending
money only).
"""

import logging
import math
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from marketplace import events
from payments.models import EarningsClearance, LedgerAccount, LedgerEntry, LedgerTransaction
from payments.services.ledger import ledger_account_get, ledger_post

logger = logging.getLogger(__name__)
Kind = LedgerAccount.Kind
TxnKind = LedgerTransaction.Kind
Status = EarningsClearance.Status
Reason = EarningsClearance.Reason

EVIDENCE, DOUBT, UNPROVEN = "evidence", "doubt", "unproven"


# --- the credit's side (runs on every submit) ------------------------------------------------------------------
def clearance_status_for_credit(*, worker_id: int) -> str:
    """The worker's clearance status, read FOR SHARE (PostgreSQL) so that a clearing run of this worker waits
    for the credit to commit. Creates the worker's row on their first credit (pending, reason new)."""
    table = EarningsClearance._meta.db_table
    share = " FOR SHARE" if connection.vendor == "postgresql" else ""
    select = f"SELECT status FROM {table} WHERE worker_id = %s{share}"  # noqa: S608 - table name only
    with connection.cursor() as cursor:
        cursor.execute(select, [worker_id])
        row = cursor.fetchone()
        if row is None:
            cursor.execute(f"INSERT INTO {table} (worker_id, status, reason, drained_through_entry_id) "  # noqa: S608
                           "VALUES (%s, %s, %s, 0) ON CONFLICT (worker_id) DO NOTHING",
                           [worker_id, Status.PENDING, Reason.NEW])
            cursor.execute(select, [worker_id])
            row = cursor.fetchone()
    return row[0]


def credit_goes_to_payable(*, worker_id: int) -> bool:
    """True when the worker's new credit is payable at once: cleared by evidence, or PAY_CLEARANCE_WAIT_SECONDS
    is 0 and nothing is in doubt (no holding period configured)."""
    status = clearance_status_for_credit(worker_id=worker_id)
    if status == Status.CLEARED:
        return True
    if settings.PAY_CLEARANCE_WAIT_SECONDS <= 0:
        return not EarningsClearance.objects.filter(worker_id=worker_id, reason=Reason.DOUBT).exists()
    return False


# --- verdicts ---------------------------------------------------------------------------------------------------
def pooled_lower_bound(*, gold_n: int, gold_correct: int, loo_n: int, loo_agreement: float | None,
                       z: float) -> tuple[int, float | None]:
    """(n, Wilson lower bound) of the share right over gold answers and agreement-scored judgments pooled."""
    matches = round((loo_agreement or 0.0) * loo_n) if loo_agreement is not None and not math.isnan(loo_agreement) else 0
    n = gold_n + (loo_n if loo_agreement is not None else 0)
    if n <= 0:
        return 0, None
    p = (gold_correct + matches) / n
    denominator = 1 + z * z / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return n, (centre - margin) / denominator


def consensus_accuracy(pool_agreement: float | None) -> float | None:
    """How often the pool's consensus is right, read from the pool's median agreement m: a typical rater right
    with probability c agrees with a consensus right with probability c about c^2 + (1 - c)^2 of the time, so
    c = (1 + sqrt(2m - 1)) / 2 (0.5 when the pool agrees no better than chance). None when there is no pool."""
    if pool_agreement is None or math.isnan(pool_agreement):
        return None
    return (1 + math.sqrt(max(2 * min(pool_agreement, 1.0) - 1, 0.0))) / 2


def agreement_floor(*, floor: float, pool_agreement: float | None) -> float:
    """The floor in agreement units: how often a rater right `floor` of the time agrees with this pool's consensus,
    itself right only c of the time (f*c + (1-f)*(1-c)). A gold answer is checked against the truth, an
    agreement-scored judgment against other raters who are wrong too: holding agreement to the gold floor
    asks an honest rater for more than the gold rule does (0.6 right against a consensus right 80% of the time
    agrees 0.56 of the time)."""
    c = consensus_accuracy(pool_agreement)
    if c is None:
        return floor
    return floor * c + (1 - floor) * (1 - c)


def evidence_floor(*, gold_n: int, loo_n: int, loo_agreement: float | None, floor: float,
                   pool_agreement: float | None) -> float:
    """The pooled share's floor: the gold floor for the gold answers, its agreement equivalent for the rest."""
    loo = loo_n if loo_agreement is not None else 0
    if gold_n + loo <= 0:
        return floor
    return (gold_n * floor + loo * agreement_floor(floor=floor, pool_agreement=pool_agreement)) / (gold_n + loo)


def evidence_passes(*, gold_n: int, gold_correct: int, loo_n: int, loo_agreement: float | None,
                    floor: float, pool_agreement: float | None = None) -> bool:
    if gold_n < settings.PAY_CLEARANCE_MIN_GOLD:
        return False
    n, lower = pooled_lower_bound(gold_n=gold_n, gold_correct=gold_correct, loo_n=loo_n,
                                  loo_agreement=loo_agreement, z=settings.PAY_CLEARANCE_Z)
    if n < settings.PAY_CLEARANCE_MIN_JUDGMENTS or lower is None:
        return False
    return lower > evidence_floor(gold_n=gold_n, loo_n=loo_n, loo_agreement=loo_agreement, floor=floor,
                                  pool_agreement=pool_agreement)


def worker_pay_verdicts(*, worker_ids) -> dict[int, str]:
    """{worker_id: EVIDENCE | DOUBT | UNPROVEN} for the given workers. Quality, above payments in the app
    order, answers it (quality.pay_evidence, through marketplace.events.worker_pay_verdicts): payments never
    reads quality's tables itself."""
    return events.worker_pay_verdicts.ask(worker_ids=worker_ids)


# --- draining the pending account --------------------------------------------------------------------------------
def _pending_accounts(worker_id: int) -> list[LedgerAccount]:
    return list(LedgerAccount.objects.filter(kind=Kind.WORKER_PENDING, worker_id=worker_id).order_by("pk"))


def pending_credits(*, clearance: EarningsClearance, accounts: list[LedgerAccount]):
    """The worker's credits still pending: positive entries on their pending accounts above the watermark."""
    return LedgerEntry.objects.filter(account_id__in=[a.pk for a in accounts], amount_cents__gt=0,
                                      id__gt=clearance.drained_through_entry_id)


def drain_pending(*, clearance: EarningsClearance, kind: str, to_kind: str, memo: str,
                  through_entry_id: int | None = None, source_prefix: str = "") -> dict[str, int]:
    """Moves the worker's pending credits up to `through_entry_id` (all when None) out of worker_pending,
    into the worker's `to_kind` account (or platform_funding), one balanced transaction per currency, and
    moves the watermark. The caller holds the clearance row FOR UPDATE. Returns {currency: cents moved}."""
    accounts = _pending_accounts(clearance.worker_id)
    if not accounts:
        return {}
    credits = pending_credits(clearance=clearance, accounts=accounts)
    if through_entry_id is None:
        through_entry_id = credits.aggregate(m=Max("id"))["m"]
    if through_entry_id is None or through_entry_id <= clearance.drained_through_entry_id:
        return {}
    by_account = defaultdict(int)
    for account_id, amount in credits.filter(id__lte=through_entry_id).values_list("account_id", "amount_cents"):
        by_account[account_id] += amount
    moved = {}
    for account in accounts:
        amount = by_account.get(account.pk, 0)
        if amount <= 0:
            continue
        if to_kind == Kind.PLATFORM_FUNDING:
            target = ledger_account_get(kind=Kind.PLATFORM_FUNDING, currency=account.currency)
        else:
            target = ledger_account_get(kind=to_kind, worker_id=clearance.worker_id, currency=account.currency)
        prefix = source_prefix or f"pending:{clearance.worker_id}:{through_entry_id}"
        ledger_post(kind=kind, source_ref=f"{prefix}:{account.currency}",
                    currency=account.currency, lines=[(account, -amount), (target, amount)], memo=memo)
        moved[account.currency] = amount
    clearance.drained_through_entry_id = through_entry_id
    EarningsClearance.objects.filter(pk=clearance.pk).update(drained_through_entry_id=through_entry_id)
    return moved


def clearance_lock(*, worker_id: int) -> EarningsClearance:
    """The worker's clearance row, created if missing, locked FOR UPDATE (before any ledger account: the
    credit takes it FOR SHARE first too, so the order is the same everywhere)."""
    EarningsClearance.objects.get_or_create(worker_id=worker_id)
    return EarningsClearance.objects.select_for_update().get(worker_id=worker_id)


# --- the clearing run ---------------------------------------------------------------------------------------------
def _review_one(*, worker_id: int, verdict: str, now: datetime) -> dict[str, int]:
    with transaction.atomic():
        clearance = clearance_lock(worker_id=worker_id)
        moved: dict[str, int] = {}
        if verdict == DOUBT:
            clearance.status, clearance.reason = Status.PENDING, Reason.DOUBT
        elif verdict == EVIDENCE:
            moved = drain_pending(clearance=clearance, kind=TxnKind.CLEARANCE, to_kind=Kind.WORKER_PAYABLE,
                                  memo="Cleared: quality evidence passed")
            if clearance.status != Status.CLEARED:
                clearance.cleared_at = now
            clearance.status, clearance.reason = Status.CLEARED, Reason.EVIDENCE
        else:
            if clearance.status != Status.CLEARED:
                clearance.reason = Reason.NEW  # a doubt resolved without evidence: the clock applies again
            moved = _clear_by_clock(clearance=clearance, now=now)
        clearance.reviewed_at = now
        clearance.save(update_fields=["status", "reason", "cleared_at", "reviewed_at"])
    return moved


def _clear_by_clock(*, clearance: EarningsClearance, now: datetime) -> dict[str, int]:
    cutoff = now - timedelta(seconds=settings.PAY_CLEARANCE_WAIT_SECONDS)
    accounts = _pending_accounts(clearance.worker_id)
    if not accounts:
        return {}
    due = pending_credits(clearance=clearance, accounts=accounts).filter(created_at__lte=cutoff).aggregate(m=Max("id"))["m"]
    if due is None:
        return {}
    return drain_pending(clearance=clearance, kind=TxnKind.CLEARANCE, to_kind=Kind.WORKER_PAYABLE,
                         memo="Cleared: waiting time over", through_entry_id=due)


def earnings_clearance_review(*, worker_ids, now: datetime | None = None) -> dict[int, dict[str, int]]:
    """Decides each worker's clearance from their quality evidence and moves what it clears (one short
    transaction per worker, ascending id). Idempotent: a second run finds nothing more to move.
    Returns {worker_id: {currency: cents cleared}} for the workers where money moved."""
    now = now or timezone.now()
    verdicts = worker_pay_verdicts(worker_ids=worker_ids)
    out = {}
    for worker_id in sorted(verdicts):
        moved = _review_one(worker_id=worker_id, verdict=verdicts[worker_id], now=now)
        if moved:
            out[worker_id] = moved
    return out


def workers_with_pending(*, after: int = 0, limit: int = 500) -> list[int]:
    """Workers holding pending money (a positive pending balance), by id above `after`: the clock sweep's
    candidates, a page at a time."""
    return list(LedgerAccount.objects.filter(kind=Kind.WORKER_PENDING, balance_cents__gt=0, worker_id__gt=after)
                .order_by("worker_id").values_list("worker_id", flat=True).distinct()[:limit])
