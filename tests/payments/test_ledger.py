"""The ledger (docs/design.md invariant 7): balanced, append-only, idempotent credits, holds; earnings endpoint."""

import pytest
from django.db import IntegrityError, connection, transaction

from marketplace.errors import Conflict
from payments.models import AppendOnlyError, LedgerAccount, LedgerEntry, LedgerTransaction
from payments.services import (
    earnings_credit_judgment,
    earnings_hold,
    earnings_hold_forfeit,
    earnings_hold_release,
    ledger_account_get,
    ledger_post,
)
from payments.services.ledger import UnbalancedTransaction
from tests.conftest import make_user
from tests.payments.factories import assert_ledger_consistent, credit, make_judgment, make_project

pytestmark = pytest.mark.django_db
Kind = LedgerAccount.Kind


def balances(worker, currency="usd"):
    return {a.kind: a.balance_cents for a in LedgerAccount.objects.filter(worker=worker, currency=currency)}


def test_credit_is_once_per_judgment_and_from_the_project():
    worker = make_user("w@example.com")
    project = make_project(reward_cents=250, currency="eur")
    judgment = make_judgment(worker=worker, project=project)

    assert earnings_credit_judgment(judgment_id=judgment.pk) is True
    assert earnings_credit_judgment(judgment_id=judgment.pk) is False

    # A new worker's credit waits for their work to be checked (payments.services.clearance).
    assert balances(worker, "eur")[Kind.WORKER_PENDING] == 250
    assert balances(worker, "eur").get(Kind.WORKER_PAYABLE, 0) == 0
    assert LedgerTransaction.objects.filter(kind="judgment_credit").count() == 1
    assert_ledger_consistent()


def test_rejected_judgment_is_not_credited():
    worker = make_user("w@example.com")
    judgment = make_judgment(worker=worker, project=make_project(), status="rejected")
    assert earnings_credit_judgment(judgment_id=judgment.pk) is False
    assert not LedgerEntry.objects.exists()


def test_unbalanced_posting_is_refused_and_writes_nothing():
    worker = make_user("w@example.com")
    funding = ledger_account_get(kind=Kind.PLATFORM_FUNDING, currency="usd")
    payable = ledger_account_get(kind=Kind.WORKER_PAYABLE, worker_id=worker.pk, currency="usd")
    with pytest.raises(UnbalancedTransaction):
        ledger_post(kind="adjustment", source_ref="x", currency="usd", lines=[(funding, -100), (payable, 99)])
    assert not LedgerTransaction.objects.exists()


def test_worker_account_cannot_go_negative():
    worker = make_user("w@example.com")
    credit(worker, n=1, reward_cents=100)
    funding = ledger_account_get(kind=Kind.PLATFORM_FUNDING, currency="usd")
    payable = ledger_account_get(kind=Kind.WORKER_PAYABLE, worker_id=worker.pk, currency="usd")
    with pytest.raises(Conflict):
        ledger_post(kind="adjustment", source_ref="too-much", currency="usd", lines=[(payable, -101), (funding, 101)])
    assert balances(worker)[Kind.WORKER_PAYABLE] == 100
    # And in the database, whatever the code does:
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.filter(pk=payable.pk).update(balance_cents=-1)


def test_entries_are_append_only_in_code_and_in_the_database():
    worker = make_user("w@example.com")
    credit(worker, n=1)
    entry = LedgerEntry.objects.first()
    with pytest.raises(AppendOnlyError):
        entry.amount_cents = 1
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        LedgerTransaction.objects.first().delete()
    for statement in ("UPDATE payments_ledgerentry SET amount_cents = 1",
                      "DELETE FROM payments_ledgerentry",
                      "UPDATE payments_ledgertransaction SET memo = 'x'"):
        with pytest.raises(Exception), transaction.atomic(), connection.cursor() as cursor:  # noqa: B017,PT011
            cursor.execute(statement)
    assert LedgerEntry.objects.count() == 2
    assert_ledger_consistent()


@pytest.mark.postgres
def test_database_refuses_an_unbalanced_transaction_at_commit():
    worker = make_user("w@example.com")
    payable = ledger_account_get(kind=Kind.WORKER_PAYABLE, worker_id=worker.pk, currency="usd")
    with pytest.raises(IntegrityError), transaction.atomic():
        txn = LedgerTransaction.objects.create(kind="adjustment", source_ref="raw", currency="usd")
        LedgerEntry.objects.create(transaction=txn, account=payable, amount_cents=500)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # what COMMIT would do, inside the test's transaction
    assert not LedgerTransaction.objects.filter(source_ref="raw").exists()


def test_hold_takes_only_unpaid_earnings_and_release_and_forfeit_are_idempotent():
    worker = make_user("w@example.com")
    ids = credit(worker, n=4, reward_cents=100)
    assert earnings_hold(worker_id=worker.pk, judgment_ids=ids[:3], flag_id=7) == 300
    assert earnings_hold(worker_id=worker.pk, judgment_ids=ids[:3], flag_id=7) == 300  # idempotent
    assert balances(worker)[Kind.WORKER_PAYABLE] == 100
    assert balances(worker)[Kind.WORKER_HELD] == 300

    assert earnings_hold_release(flag_id=7) == 300
    assert earnings_hold_release(flag_id=7) == 0
    assert earnings_hold_forfeit(flag_id=7) == 0  # already settled the other way
    assert balances(worker)[Kind.WORKER_PAYABLE] == 400

    # A second flag holding more than is payable holds only what is payable.
    ledger_post(kind="adjustment", source_ref="spend", currency="usd",
                lines=[(ledger_account_get(kind=Kind.WORKER_PAYABLE, worker_id=worker.pk, currency="usd"), -350),
                       (ledger_account_get(kind=Kind.PLATFORM_FUNDING, currency="usd"), 350)])
    assert earnings_hold(worker_id=worker.pk, judgment_ids=ids, flag_id=8) == 50
    assert earnings_hold_forfeit(flag_id=8) == 50
    assert balances(worker) [Kind.WORKER_HELD] == 0
    assert_ledger_consistent()


def test_earnings_endpoint_shows_only_my_money(person):
    ada = person("ada@example.com")
    bob = person("bob@example.com")
    credit(ada.user, n=3, reward_cents=100)
    credit(bob.user, n=1, reward_cents=999)

    response = ada.get("/api/v1/me/earnings/?page_size=2")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["balance_cents"] == 300
    assert body["held_cents"] == body["pending_cents"] == body["paid_cents"] == 0
    assert body["currency"] == "usd"
    assert body["count"] == 3 and len(body["entries"]) == 2 and body["next"]
    assert all(e["amount_cents"] == 100 for e in body["entries"])
    # Nothing of Bob's leaks, whatever the query string says.
    response = ada.get(f"/api/v1/me/earnings/?worker={bob.user.pk}&user={bob.user.pk}")
    assert response.json()["balance_cents"] == 300


def test_earnings_needs_a_session(api):
    assert api.get("/api/v1/me/earnings/").status_code == 401
