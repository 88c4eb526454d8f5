"""Payout batches and the ledger in the admin: pages render for the roles that may see them; approve,
execute and the CSV export are for finance only, and approval still needs a second finance user (the
payments services decide); ledger rows can never be changed or deleted, not even by a superuser."""

import pytest
from django.utils import timezone

from payments.models import LedgerAccount, LedgerEntry, LedgerTransaction, PayoutBatch
from payments.services import payout_batch_create
from tests.admin_support import admin_client, admin_clients
from tests.conftest import make_user
from tests.payments.factories import connect, credit

pytestmark = pytest.mark.django_db
URL = "/admin/payments/payoutbatch/"


@pytest.fixture
def clients():
    return admin_clients()


@pytest.fixture
def batch(clients):
    for i in range(3):
        worker = make_user(f"payee{i}@example.com")
        connect(worker)
        credit(worker, n=2, reward_cents=500)
    return payout_batch_create(actor_id=clients["finance"].user.pk, cutoff=timezone.now(), minimum_cents=100)


def test_batch_pages_render_with_lines_and_status(clients, batch):
    for role in ("ops", "finance"):
        page = clients[role].get(URL).content.decode()
        assert '<td class="field-n_lines">3</td>' in page and "30.00 USD" in page and "reserved 3" in page
        detail = clients[role].get(f"{URL}{batch.pk}/change/")
        assert detail.status_code == 200 and "payee2@example.com" in detail.content.decode()
    assert clients["staff"].get(URL).status_code == 403
    assert clients["staff"].get(f"{URL}{batch.pk}/change/").status_code == 403


def test_creator_cannot_approve_ops_cannot_act_a_second_finance_user_can(clients, batch):
    action = {"action": "approve", "_selected_action": [batch.pk]}
    response = clients["finance"].post(URL, action, follow=True)  # the creator: four eyes
    assert "different finance user" in response.content.decode()
    clients["ops"].post(URL, action)
    assert clients["ops"].post(f"{URL}{batch.pk}/approve/").status_code == 403
    assert clients["staff"].post(f"{URL}{batch.pk}/approve/").status_code == 403
    batch.refresh_from_db()
    assert batch.status == "draft" and batch.approved_by is None

    second = admin_client("fin2@example.com", groups=("finance",))
    assert second.get(f"{URL}{batch.pk}/approve/").status_code == 405  # only POST acts
    response = second.post(f"{URL}{batch.pk}/approve/")
    assert response.status_code == 302 and response["Location"].endswith(f"{URL}{batch.pk}/change/")
    batch.refresh_from_db()
    assert batch.status == "approved" and batch.approved_by_id == second.user.pk


def test_execute_is_for_finance_only_and_only_after_approval(clients, batch):
    finance = clients["finance"]
    finance.post(f"{URL}{batch.pk}/execute/")
    batch.refresh_from_db()
    assert batch.status == "draft"  # not approved yet: the service refuses
    second = admin_client("fin2@example.com", groups=("finance",))
    second.post(f"{URL}{batch.pk}/approve/")
    page = finance.get(f"{URL}{batch.pk}/change/").content.decode()
    assert f'formaction="/admin/payments/payoutbatch/{batch.pk}/execute/"' in page
    assert "execute/" not in clients["ops"].get(f"{URL}{batch.pk}/change/").content.decode()  # no button for ops
    assert clients["ops"].post(f"{URL}{batch.pk}/execute/").status_code == 403
    clients["ops"].post(URL, {"action": "execute", "_selected_action": [batch.pk]})
    batch.refresh_from_db()
    assert batch.status == "approved"
    from marketplace.models import OutboxEvent

    finance.post(URL, {"action": "execute", "_selected_action": [batch.pk]})
    batch.refresh_from_db()
    assert batch.status == "executing" and batch.executed_by_id == finance.user.pk
    # The dispatch job, recorded in the execute's transaction (the outbox).
    assert list(OutboxEvent.objects.values_list("job", "args")) == [("payments.jobs.payout_batch_dispatch", [batch.pk])]


def test_csv_export_for_finance_only(clients, batch):
    response = clients["finance"].get(f"{URL}{batch.pk}/export.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = response.content.decode().strip().splitlines()
    assert rows[0].startswith("batch,line,worker_id,worker_email") and len(rows) == 4
    assert clients["ops"].get(f"{URL}{batch.pk}/export.csv").status_code == 403
    assert clients["staff"].get(f"{URL}{batch.pk}/export.csv").status_code == 403
    assert clients["finance"].get(f"{URL}999999/export.csv").status_code == 404
    assert f'href="/admin/payments/payoutbatch/{batch.pk}/export.csv"' in clients["finance"].get(URL).content.decode()
    assert "export.csv" not in clients["ops"].get(URL).content.decode()


@pytest.mark.parametrize("model", ["ledgerentry", "ledgertransaction", "ledgeraccount"])
def test_ledger_is_read_only_and_never_deletable_even_for_a_superuser(clients, batch, model):
    root = admin_client("root@example.com", superuser=True)
    row = {"ledgerentry": LedgerEntry, "ledgertransaction": LedgerTransaction,
           "ledgeraccount": LedgerAccount}[model].objects.order_by("pk").first()
    before = (LedgerEntry.objects.count(), LedgerTransaction.objects.count())
    for client in (clients["ops"], clients["finance"], root):
        assert client.get(f"/admin/payments/{model}/").status_code == 200
        page = client.get(f"/admin/payments/{model}/{row.pk}/change/")
        assert page.status_code == 200 and b'name="_save"' not in page.content
        assert client.get(f"/admin/payments/{model}/{row.pk}/delete/").status_code == 403
        assert client.post(f"/admin/payments/{model}/{row.pk}/delete/", {"post": "yes"}).status_code == 403
        client.post(f"/admin/payments/{model}/", {"action": "delete_selected", "_selected_action": [row.pk],
                                                  "post": "yes"})
        assert b"delete_selected" not in client.get(f"/admin/payments/{model}/").content
        assert client.get(f"/admin/payments/{model}/add/").status_code == 403
    assert (LedgerEntry.objects.count(), LedgerTransaction.objects.count()) == before
    assert PayoutBatch.objects.filter(pk=batch.pk).exists()
