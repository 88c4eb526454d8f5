"""Ledger vs Stripe: every difference, listed (GET /api/v1/reconciliation/). Read-only.

Checks, per batch that reached Stripe (executing or finished): each line against the transfers listed
for the batch's transfer_group (missing, unrecorded, duplicated, wrong amount/destination/currency,
reversal not restored); and over the whole ledger: every transaction sums to zero, every cached balance
equals the sum of its entries, and each worker's in-transit balance equals their open lines.
"""

from collections import defaultdict

from payments.models import LedgerAccount, PayoutBatch, PayoutLine
from payments.selectors import cents_int, cents_sum, ledger_balance_mismatches, ledger_unbalanced_transactions
from payments.stripe_api import stripe_client, stripe_throttle


def _diff(code: str, message: str, *, batch=None, line=None, transfer=None, ledger=None, stripe=None) -> dict:
    return {"code": code, "message": message, "batch": batch, "line": line, "transfer": transfer,
            "ledger_cents": ledger, "stripe_cents": stripe}


def _transfers(transfer_group: str) -> list[dict]:
    client, params, found = stripe_client(), {"transfer_group": transfer_group, "limit": 100}, []
    while True:
        stripe_throttle()
        page = client.v1.transfers.list(params=params)
        found.extend(t.to_dict() for t in page.data)
        if not page.has_more or not page.data:
            return found
        params["starting_after"] = page.data[-1]["id"]


def reconciliation_report(*, batch_id: int | None = None) -> dict:
    batches = PayoutBatch.objects.exclude(status__in=[PayoutBatch.Status.DRAFT, PayoutBatch.Status.APPROVED])
    if batch_id is not None:
        batches = batches.filter(pk=batch_id)
    differences: list[dict] = []
    n_lines = n_transfers = 0
    for batch in batches.order_by("pk"):
        transfers = _transfers(batch.transfer_group)
        n_transfers += len(transfers)
        by_line: dict[str, list[dict]] = defaultdict(list)
        for t in transfers:
            by_line[(t.get("metadata") or {}).get("payout_line_id", "")].append(t)
        lines = list(PayoutLine.objects.filter(batch=batch).order_by("pk"))
        n_lines += len(lines)
        known = {str(line.pk) for line in lines}
        for key, ts in by_line.items():
            if key not in known:
                for t in ts:
                    differences.append(_diff("unknown_transfer", f"Transfer {t['id']} in {batch.transfer_group} "
                                             "matches no line of the batch.", batch=batch.pk, transfer=t["id"],
                                             stripe=t["amount"]))
        for line in lines:
            ts = by_line.get(str(line.pk), [])
            if len(ts) > 1:
                differences.append(_diff("duplicate_transfer", f"Line {line.pk} has {len(ts)} transfers on Stripe.",
                                         batch=batch.pk, line=line.pk, ledger=line.amount_cents,
                                         stripe=sum(t["amount"] for t in ts)))
            paid = line.status in (PayoutLine.Status.PAID, PayoutLine.Status.REVERSED)
            if paid and not ts:
                differences.append(_diff("missing_in_stripe", f"Line {line.pk} is {line.status} with transfer "
                                         f"{line.stripe_transfer_id}, which Stripe does not list.", batch=batch.pk,
                                         line=line.pk, transfer=line.stripe_transfer_id, ledger=line.amount_cents))
            if not paid and ts:
                differences.append(_diff("unrecorded_transfer", f"Stripe has transfer {ts[0]['id']} for line "
                                         f"{line.pk}, which the ledger has as {line.status}.", batch=batch.pk,
                                         line=line.pk, transfer=ts[0]["id"], stripe=ts[0]["amount"]))
            for t in ts[:1]:
                if paid and t["id"] != line.stripe_transfer_id:
                    differences.append(_diff("transfer_id_mismatch", f"Line {line.pk} records "
                                             f"{line.stripe_transfer_id}, Stripe lists {t['id']}.", batch=batch.pk,
                                             line=line.pk, transfer=t["id"]))
                if (t["amount"], t["currency"], t["destination"]) != (line.amount_cents, line.currency,
                                                                       line.destination):
                    differences.append(_diff("amount_mismatch", f"Transfer {t['id']} is {t['amount']} {t['currency']}"
                                             f" to {t['destination']}; line {line.pk} is {line.amount_cents} "
                                             f"{line.currency} to {line.destination}.", batch=batch.pk, line=line.pk,
                                             transfer=t["id"], ledger=line.amount_cents, stripe=t["amount"]))
                if int(t.get("amount_reversed") or 0) != line.reversed_cents:
                    differences.append(_diff("reversal_mismatch", f"Stripe reversed {t.get('amount_reversed')} of "
                                             f"{t['id']}; the ledger restored {line.reversed_cents}.", batch=batch.pk,
                                             line=line.pk, transfer=t["id"], ledger=line.reversed_cents,
                                             stripe=int(t.get("amount_reversed") or 0)))
    differences.extend(_ledger_differences())
    return {"ok": not differences, "checked_batches": batches.count(), "checked_lines": n_lines,
            "stripe_transfers": n_transfers, "differences": differences}


def _ledger_differences() -> list[dict]:
    found = [_diff("unbalanced_transaction", f"Ledger transaction {t['id']} ({t['kind']} {t['source_ref']}) sums "
                   f"to {t['total']}.", ledger=t["total"]) for t in ledger_unbalanced_transactions()]
    for m in ledger_balance_mismatches():
        found.append(_diff("balance_mismatch", f"Account {m['account']} ({m['kind']}, worker {m['worker']}) caches "
                           f"{m['balance_cents']}, its entries sum to {m['entries_cents']}.", ledger=m["balance_cents"]))
    open_lines = {(r["worker_id"], r["currency"]): cents_int(r["total"]) for r in PayoutLine.objects.filter(
        status__in=[PayoutLine.Status.RESERVED, PayoutLine.Status.SENDING]).values("worker_id", "currency")
        .annotate(total=cents_sum("amount_cents"))}
    transit = {(a.worker_id, a.currency): cents_int(a.balance_cents) for a in LedgerAccount.objects.filter(
        kind=LedgerAccount.Kind.PAYOUTS_IN_TRANSIT)}
    for key in set(open_lines) | set(transit):
        if open_lines.get(key, 0) != transit.get(key, 0):
            found.append(_diff("in_transit_mismatch", f"Worker {key[0]} has {transit.get(key, 0)} {key[1]} in "
                               f"transit but open lines for {open_lines.get(key, 0)}.", ledger=transit.get(key, 0)))
    return found
