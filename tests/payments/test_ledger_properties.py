"""Random sequences of every money movement keep the ledger sound (docs/design.md invariant 7): each transaction sums to
zero, each cached balance equals the sum of its entries, no worker account is ever negative, and the
whole ledger sums to zero. Plus real concurrency on PostgreSQL: the same credit or the same money can
never be posted or reserved twice."""

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.errors import Conflict
from payments.models import LedgerAccount, LedgerTransaction, PayoutLine
from payments.services import earnings_credit_judgment, earnings_hold, earnings_hold_forfeit, earnings_hold_release
from payments.services.earnings import ledger_adjustment_create
from payments.services.payout_lines import payout_line_record_failed, payout_line_record_paid, payout_transfer_reversed
from payments.services.payouts import payout_batch_create
from tests.conftest import make_user
from tests.payments.factories import assert_ledger_consistent, connect, make_judgment, make_project

N_WORKERS = 3
worker_ix = st.integers(0, N_WORKERS - 1)
operations = st.lists(st.one_of(
    st.tuples(st.just("bonus"), worker_ix, st.integers(1, 5000)),
    st.tuples(st.just("adjust"), worker_ix, st.integers(-5000, 5000).filter(bool)),
    st.tuples(st.just("hold"), worker_ix, st.integers(1, 4)),
    st.tuples(st.just("release"), st.integers(1, 4)),
    st.tuples(st.just("forfeit"), st.integers(1, 4)),
    st.tuples(st.just("batch"), st.integers(1, 3000)),
    st.tuples(st.just("settle"), st.integers(0, 20), st.booleans()),
    st.tuples(st.just("reverse"), st.integers(0, 20), st.integers(1, 5000)),
), min_size=1, max_size=25)


class Rollback(Exception):
    pass


def _apply(op, users, finance_id, counter):
    kind = op[0]
    counter[0] += 1
    ref = f"op-{counter[0]}"
    if kind in ("bonus", "adjust"):
        ledger_adjustment_create(actor_id=finance_id, worker_id=users[op[1]].pk, amount_cents=op[2], currency="usd",
                                 kind="bonus" if kind == "bonus" else "adjustment", memo=ref, reference=ref)
    elif kind == "hold":
        earnings_hold(worker_id=users[op[1]].pk, judgment_ids=None, flag_id=op[2])
    elif kind == "release":
        earnings_hold_release(flag_id=op[1])
    elif kind == "forfeit":
        earnings_hold_forfeit(flag_id=op[1])
    elif kind == "batch":
        payout_batch_create(actor_id=finance_id, cutoff=timezone.now(), minimum_cents=op[1])
    elif kind in ("settle", "reverse"):
        lines = list(PayoutLine.objects.order_by("pk"))
        if not lines:
            return
        line = lines[op[1] % len(lines)]
        transfer = {"id": f"tr_{line.pk}", "amount": line.amount_cents, "currency": line.currency,
                    "destination": line.destination, "metadata": {"payout_line_id": str(line.pk)},
                    "transfer_group": line.batch.transfer_group, "amount_reversed": 0}
        if kind == "settle":
            if op[2]:
                payout_line_record_paid(line_id=line.pk, transfer=transfer)
            else:
                payout_line_record_failed(line_id=line.pk, error="test")
        elif line.status in ("paid", "reversed"):
            transfer["amount_reversed"] = min(line.amount_cents, line.reversed_cents + op[2])
            payout_transfer_reversed(transfer=transfer)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(ops=operations)
def test_random_operations_keep_the_ledger_balanced(ops):
    try:
        with transaction.atomic():
            users = [make_user(f"p{i}@example.com") for i in range(N_WORKERS)]
            for user in users:
                connect(user)
            finance = make_user("pf@example.com", groups=("finance",))
            counter = [0]
            for op in ops:
                try:
                    with transaction.atomic():
                        _apply(op, users, finance.pk, counter)
                except Conflict:
                    pass  # refused (insufficient balance, nothing to pay): and nothing written, checked below
                assert_ledger_consistent()
                assert not LedgerAccount.objects.exclude(kind="platform_funding").filter(balance_cents__lt=0).exists()
                # Worker balances plus the (derived) funding balance: nothing created or lost.
                from payments.selectors import platform_funding_balance

                assert sum(LedgerAccount.objects.values_list("balance_cents", flat=True)) == -platform_funding_balance(
                    currency="usd")
            raise Rollback
    except Rollback:
        pass


def _in_threads(n, target):
    barrier = threading.Barrier(n)
    errors, results = [], []

    def run():
        try:
            barrier.wait()
            results.append(target())
        except Exception as exc:  # noqa: BLE001 - collected and inspected by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_credits_of_one_judgment_credit_once():
    worker = make_user("c@example.com")
    judgment = make_judgment(worker=worker, project=make_project(reward_cents=300))
    results, errors = _in_threads(4, lambda: earnings_credit_judgment(judgment_id=judgment.pk))
    assert errors == [] and sorted(results) == [False, False, False, True]
    assert LedgerTransaction.objects.filter(kind="judgment_credit").count() == 1
    assert_ledger_consistent()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_never_reserve_the_same_money_twice():
    users = [make_user(f"cb{i}@example.com") for i in range(5)]
    finance = make_user("cbf@example.com", groups=("finance",))
    for user in users:
        connect(user)
        ledger_adjustment_create(actor_id=finance.pk, worker_id=user.pk, amount_cents=1000, currency="usd",
                                 kind="bonus", memo="x", reference=f"seed-{user.pk}")
    results, errors = _in_threads(3, lambda: payout_batch_create(actor_id=finance.pk, cutoff=timezone.now(),
                                                                 minimum_cents=1).pk)
    assert len(results) == 1 and all(isinstance(e, Conflict) for e in errors) and len(errors) == 2
    assert PayoutLine.objects.count() == 5
    assert all(a.balance_cents == 1000 for a in LedgerAccount.objects.filter(kind="payouts_in_transit"))
    assert_ledger_consistent()
