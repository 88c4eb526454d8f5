"""Finance adjustments (issue 13): bounded amounts, four eyes above a threshold, nobody credits themselves,
and integer cents on SQLite as on PostgreSQL (no float balance, no overflow, reconciliation always answers)."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from marketplace.errors import Conflict
from payments.models import LEDGER_ENTRY_MAX_CENTS, LedgerAccount, LedgerAdjustment, LedgerEntry, LedgerTransaction
from payments.services.adjustments import ledger_adjustment_approve, ledger_adjustment_create
from payments.services.ledger import ledger_account_get, ledger_transfer
from tests.conftest import make_user
from tests.payments.factories import assert_ledger_consistent

pytestmark = pytest.mark.django_db
Kind = LedgerAccount.Kind
URL = "/api/v1/ledger-adjustments/"


def payable(user) -> int:
    account = LedgerAccount.objects.filter(worker=user, kind=Kind.WORKER_PAYABLE, currency="usd").first()
    return account.balance_cents if account else 0


@pytest.fixture
def finance2(person):
    return person("finance2@example.com", groups=("finance",))


@pytest.fixture
def worker(db):
    return make_user("paid@example.com")


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.PAYMENTS_ADJUSTMENT_MAX_CENTS = 1_000_000
    settings.PAYMENTS_ADJUSTMENT_APPROVAL_ABOVE_CENTS = 10_000


def adjust(who, worker, amount, reference, kind="adjustment"):
    return who.post(URL, {"worker": worker.pk, "kind": kind, "amount_cents": amount, "memo": "test",
                          "reference": reference})


# --- bounds ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("amount", [10**20, -(10**20), 9 * 10**18, 2**63, 1_000_001, -1_000_001])
def test_out_of_range_amounts_are_a_400_naming_the_field_and_write_nothing(finance, worker, amount):
    response = adjust(finance, worker, amount, f"huge-{amount}")
    assert response.status_code == 400, response.content
    assert "amount_cents" in response.json()["error"]["fields"]
    assert not LedgerTransaction.objects.exists() and not LedgerAdjustment.objects.exists()


def test_balances_stay_integers_and_reconciliation_answers_after_the_largest_adjustments(finance, finance2, worker,
                                                                                          fakestripe):
    """The finding: two 9e18 credits made a SQLite balance the float 1.8e19 and /reconciliation/ a 500 for
    good. Now every adjustment is bounded, and many of the largest ones leave exact integer cents."""
    assert adjust(finance, worker, 9 * 10**18, "nine-e18").status_code == 400
    for i in range(5):
        response = adjust(finance, worker, 1_000_000, f"max-{i}")
        assert response.status_code == 202, response.content
        assert finance2.post(f"{URL}{response.json()['id']}/approve/").status_code == 200
    account = LedgerAccount.objects.get(worker=worker, kind=Kind.WORKER_PAYABLE)
    assert account.balance_cents == 5_000_000 and type(account.balance_cents) is int
    with connection.cursor() as cursor:  # what the database itself stores, not what the ORM converts
        cursor.execute(f"SELECT typeof(balance_cents) FROM {LedgerAccount._meta.db_table} WHERE id = %s"
                       if connection.vendor == "sqlite" else
                       f"SELECT pg_typeof(balance_cents)::text FROM {LedgerAccount._meta.db_table} WHERE id = %s",
                       [account.pk])
        assert cursor.fetchone()[0] in ("integer", "bigint")
    report = finance.get("/api/v1/reconciliation/")
    assert report.status_code == 200 and report.json()["ok"] is True, report.content
    assert_ledger_consistent()


def test_the_ledger_refuses_an_entry_beyond_its_bound_and_the_database_too(worker):
    funding = ledger_account_get(kind=Kind.PLATFORM_FUNDING, currency="usd")
    account = ledger_account_get(kind=Kind.WORKER_PAYABLE, worker_id=worker.pk, currency="usd")
    with pytest.raises(ValueError, match="beyond"):
        ledger_transfer(kind="adjustment", source_ref="big", debit=funding, credit=account,
                        amount_cents=LEDGER_ENTRY_MAX_CENTS + 1)
    txn = LedgerTransaction.objects.create(kind="adjustment", source_ref="raw", currency="usd")
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(transaction=txn, account=account, amount_cents=LEDGER_ENTRY_MAX_CENTS + 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.filter(pk=account.pk).update(balance_cents=LEDGER_ENTRY_MAX_CENTS + 1)


def test_a_credit_beyond_the_balance_bound_is_a_409_and_writes_nothing(finance, worker, settings):
    settings.PAYMENTS_ADJUSTMENT_MAX_CENTS = 10**13  # clamped to the ledger's bound (10^12)
    settings.PAYMENTS_ADJUSTMENT_APPROVAL_ABOVE_CENTS = 10**13
    assert adjust(finance, worker, 10**12, "full").status_code == 201
    assert adjust(finance, worker, 10**12 + 1, "over").status_code == 400
    response = adjust(finance, worker, 1, "one-more")
    assert response.status_code == 409 and response.json()["error"]["code"] == "balance_limit"
    assert payable(worker) == 10**12 and LedgerAdjustment.objects.count() == 1
    assert_ledger_consistent()


# --- four eyes ---------------------------------------------------------------------------------------

def test_small_adjustments_post_at_once(finance, worker):
    response = adjust(finance, worker, 10_000, "small", kind="bonus")
    assert response.status_code == 201 and response.json()["status"] == "posted"
    assert payable(worker) == 10_000


def test_large_adjustments_wait_for_a_second_finance_user(finance, finance2, worker):
    response = adjust(finance, worker, 10_001, "large", kind="bonus")
    assert response.status_code == 202 and response.json()["status"] == "pending", response.content
    assert response.json()["transaction"] is None and payable(worker) == 0
    adjustment_id = response.json()["id"]
    assert [a["id"] for a in finance.get(f"{URL}?status=pending").json()["results"]] == [adjustment_id]
    own = finance.post(f"{URL}{adjustment_id}/approve/")
    assert own.status_code == 403 and own.json()["error"]["code"] == "four_eyes"
    assert payable(worker) == 0
    approved = finance2.post(f"{URL}{adjustment_id}/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "posted", approved.content
    assert approved.json()["decided_by"] == finance2.user.pk
    assert payable(worker) == 10_001
    again = finance2.post(f"{URL}{adjustment_id}/approve/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "adjustment_not_pending"
    assert payable(worker) == 10_001 and LedgerTransaction.objects.filter(kind="bonus").count() == 1
    assert_ledger_consistent()


def test_large_debits_need_approval_too_and_a_rejected_one_posts_nothing(finance, finance2, worker):
    assert adjust(finance, worker, 5_000, "seed", kind="bonus").status_code == 201
    response = adjust(finance, worker, -20_000, "claw-back")
    assert response.status_code == 202
    refused = finance2.post(f"{URL}{response.json()['id']}/approve/")  # the balance cannot cover it
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "insufficient_balance"
    assert LedgerAdjustment.objects.get(pk=response.json()["id"]).status == "pending"
    rejected = finance2.post(f"{URL}{response.json()['id']}/reject/")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert finance.post(f"{URL}{response.json()['id']}/approve/").status_code in (403, 409)
    assert payable(worker) == 5_000
    assert_ledger_consistent()


def test_a_reused_reference_with_other_details_is_a_conflict(finance, worker):
    assert adjust(finance, worker, 100, "ref-1", kind="bonus").status_code == 201
    assert adjust(finance, worker, 100, "ref-1", kind="bonus").status_code == 200  # the same request again
    response = adjust(finance, worker, 999, "ref-1", kind="bonus")
    assert response.status_code == 409 and "reference" in response.json()["error"]["fields"]
    assert payable(worker) == 100


def test_the_database_enforces_four_eyes_and_no_self_adjustment(worker):
    f1, f2 = make_user("f1@example.com", groups=("finance",)), make_user("f2@example.com", groups=("finance",))
    row = LedgerAdjustment.objects.create(kind="bonus", worker=worker, currency="usd", amount_cents=50_000,
                                          memo="x", reference="db-1", requested_by=f1)
    for bad in ({"decided_by": f1}, {"decided_by": worker}):
        with pytest.raises(IntegrityError), transaction.atomic():
            LedgerAdjustment.objects.filter(pk=row.pk).update(**bad)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAdjustment.objects.create(kind="bonus", worker=f2, currency="usd", amount_cents=5, memo="x",
                                        reference="db-2", requested_by=f2)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAdjustment.objects.filter(pk=row.pk).update(status="posted")  # posted without a transaction


# --- nobody credits themselves ------------------------------------------------------------------------

def test_a_finance_user_who_is_also_a_worker_cannot_adjust_their_own_balance(finance, finance2):
    for amount, kind in ((500, "bonus"), (50_000, "bonus"), (-1, "adjustment")):
        response = adjust(finance, finance.user, amount, f"self-{amount}", kind=kind)
        assert response.status_code == 403 and response.json()["error"]["code"] == "self_adjustment"
    assert not LedgerAdjustment.objects.exists() and payable(finance.user) == 0


def test_nobody_approves_an_adjustment_of_their_own_balance(finance, finance2):
    response = adjust(finance, finance2.user, 50_000, "for-f2", kind="bonus")
    assert response.status_code == 202
    refused = finance2.post(f"{URL}{response.json()['id']}/approve/")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "self_adjustment"
    assert payable(finance2.user) == 0


def test_only_finance_requests_or_approves(person, finance, worker):
    ops = person("ops@example.com", groups=("ops",))
    assert adjust(ops, worker, 100, "ops-try").status_code == 403
    pending = adjust(finance, worker, 50_000, "pending-1", kind="bonus").json()["id"]
    assert ops.post(f"{URL}{pending}/approve/").status_code == 403
    assert person("w@example.com").post(f"{URL}{pending}/approve/").status_code == 403
    assert payable(worker) == 0


def test_admin_action_approves_with_four_eyes(finance, finance2, worker, client):
    from django.contrib.admin.sites import site
    from django.test import RequestFactory

    from payments.admin import LedgerAdjustmentAdmin

    adjustment = ledger_adjustment_create(actor_id=finance.user.pk, worker_id=worker.pk, amount_cents=50_000,
                                          currency="usd", kind="bonus", memo="x", reference="admin-1")
    model_admin = LedgerAdjustmentAdmin(LedgerAdjustment, site)
    messages = []
    model_admin.message_user = lambda request, text, level=None: messages.append(text)
    for user in (finance.user, finance2.user):
        request = RequestFactory().post("/admin/")
        request.user = user
        model_admin.approve(request, LedgerAdjustment.objects.filter(pk=adjustment.pk))
    assert "different finance user" in messages[0] and messages[1].endswith("approved and posted.")
    assert payable(worker) == 50_000


# --- concurrency --------------------------------------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_finance_users_approving_at_once_post_exactly_once():
    worker = make_user("race@example.com")
    requester = make_user("req@example.com", groups=("finance",))
    approvers = [make_user(f"appr{i}@example.com", groups=("finance",)) for i in range(2)]
    for round_ in range(5):
        adjustment = ledger_adjustment_create(actor_id=requester.pk, worker_id=worker.pk, amount_cents=50_000,
                                              currency="usd", kind="bonus", memo="race", reference=f"race-{round_}")
        barrier, results, errors = threading.Barrier(2), [], []

        def approve(user, adjustment_id=adjustment.pk, barrier=barrier, results=results, errors=errors):
            try:
                barrier.wait()
                results.append(ledger_adjustment_approve(adjustment_id=adjustment_id, actor_id=user.pk).status)
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=approve, args=(user,)) for user in approvers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == ["posted"], (results, errors)
        assert len(errors) == 1 and isinstance(errors[0], Conflict) and errors[0].code == "adjustment_not_pending"
    assert LedgerTransaction.objects.filter(kind="bonus").count() == 5
    assert LedgerAccount.objects.get(worker=worker, kind=Kind.WORKER_PAYABLE).balance_cents == 250_000
    assert_ledger_consistent()
