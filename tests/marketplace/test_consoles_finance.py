"""The finance console's actions (Django's test client): a payout batch from a preview that shows exactly
what payout_batch_create then reserves, adjustments through the service with its four eyes, approvals
refused to their creator, a browser's 403 as a page; hostile amounts and other roles refused."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import strip_tags

from payments.models import LedgerAccount, LedgerAdjustment, PayoutBatch
from payments.services.payouts import payout_batch_create, payout_batch_preview
from tests.conftest import make_user
from tests.payments.factories import assert_ledger_consistent, connect, credit

pytestmark = pytest.mark.django_db
HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml"}


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff():
    return {"ops": make_user("ops@example.com", groups=("ops",)),
            "finance": make_user("finance@example.com", groups=("finance",)),
            "finance2": make_user("finance2@example.com", groups=("finance",))}


@pytest.fixture
def workers():
    rich, poor, offline = (make_user(f"{n}@example.com") for n in ("rich", "poor", "offline"))
    credit(rich, n=4, reward_cents=2510)   # 100.40 USD
    credit(poor, n=1, reward_cents=500)    # 5.00 USD: below a 10.00 minimum
    credit(offline, n=4, reward_cents=2510)  # no payouts enabled
    connect(rich)
    connect(poor)
    return {"rich": rich, "poor": poor, "offline": offline}


def payable(worker) -> int:
    return LedgerAccount.objects.get(kind="worker_payable", worker=worker, currency="usd").balance_cents


def test_preview_then_confirm_creates_the_batch_the_preview_showed(staff, workers):
    finance = browser(staff["finance"])
    page = finance.get("/admin/finance/batches/new", {"preview": "1", "currency": "USD", "minimum": "10.00"})
    assert page.status_code == 200
    preview = page.context["preview"]
    assert [(row["worker"], row["amount"]) for row in preview] == [(workers["rich"], "100.40 USD")]
    text = strip_tags(page.content.decode())  # what a person reads (a hidden input carries the cents)
    assert "100.40 USD" in text and "10040" not in text and "poor@example.com" not in text
    assert not PayoutBatch.objects.exists()  # the preview writes nothing
    assert payable(workers["rich"]) == 10040

    done = finance.post("/admin/finance/batches/create", {"currency": "usd", "minimum": "10.00",
                                                          "cutoff": page.context["cutoff_iso"],
                                                          "expected_total_cents": "10040"}, follow=True)
    assert done.status_code == 200
    batch = PayoutBatch.objects.get()
    assert batch.created_by == staff["finance"] and batch.minimum_cents == 1000
    assert list(batch.lines.values_list("worker_id", "amount_cents")) == [(workers["rich"].pk, 10040)]
    assert f"Payout batch #{batch.pk} created: 1 worker(s), 100.40 USD" in done.content.decode()
    assert_ledger_consistent()


def test_the_preview_is_the_services_selection(staff, workers):
    """Preview and create pick the same workers and amounts: nobody above everyone's balance, then both
    payable workers with payouts enabled (never the one without)."""
    from marketplace.errors import Conflict

    cutoff = timezone.now()
    assert payout_batch_preview(cutoff=cutoff, minimum_cents=10041, currency="usd") == []
    with pytest.raises(Conflict):
        payout_batch_create(actor_id=staff["finance"].pk, cutoff=cutoff, minimum_cents=10041, currency="usd")
    preview = payout_batch_preview(cutoff=cutoff, minimum_cents=1, currency="usd")
    expected = [(row["worker_id"], row["amount_cents"]) for row in preview]
    assert expected == [(workers["rich"].pk, 10040), (workers["poor"].pk, 500)]
    batch = payout_batch_create(actor_id=staff["finance"].pk, cutoff=cutoff, minimum_cents=1, currency="usd")
    assert list(batch.lines.order_by("worker_id").values_list("worker_id", "amount_cents")) == expected


@pytest.mark.parametrize("field,value,message", [
    ("minimum", "ten", "minimum: enter an amount"), ("minimum", "-5", "minimum: enter an amount"),
    ("minimum", "0", "minimum"), ("minimum", "1.234", "minimum: enter an amount"),
    ("currency", "US", "currency: enter a 3-letter code"), ("currency", "<b>", "currency"),
    ("cutoff", "yesterday", "cutoff: enter a date"),
])
def test_bad_batch_input_is_a_400_naming_the_field(staff, workers, field, value, message):
    params = {"preview": "1", "currency": "usd", "minimum": "10.00", field: value}
    page = browser(staff["finance"]).get("/admin/finance/batches/new", params)
    assert page.status_code == 400
    assert message in page.context["error"] and page.context.get("preview") is None
    assert not PayoutBatch.objects.exists()


def test_a_future_cutoff_is_refused_by_the_service(staff, workers):
    future = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    page = browser(staff["finance"]).get("/admin/finance/batches/new", {"preview": "1", "currency": "usd",
                                                                         "minimum": "1", "cutoff": future})
    assert page.status_code == 400 and "cutoff" in page.context["error"]


def test_nobody_qualifies_says_so_and_confirm_writes_nothing(staff, workers):
    finance = browser(staff["finance"])
    page = finance.get("/admin/finance/batches/new", {"preview": "1", "currency": "usd", "minimum": "1000.00"})
    assert page.status_code == 200 and page.context["preview"] == []
    assert "Nobody qualifies" in page.content.decode() and "batch-create" not in page.content.decode()
    done = finance.post("/admin/finance/batches/create", {"currency": "usd", "minimum": "1000.00",
                                                          "cutoff": timezone.now().isoformat()}, follow=True)
    assert "nothing to pay" in done.content.decode() and not PayoutBatch.objects.exists()


def test_a_small_bonus_is_posted_and_a_large_one_waits_for_another_user(staff, workers, settings):
    settings.PAYMENTS_ADJUSTMENT_APPROVAL_ABOVE_CENTS = 10_000
    finance = browser(staff["finance"])
    form = finance.get("/admin/finance/adjustments/new")
    reference = form.context["form"]["reference"]
    before = payable(workers["rich"])
    body = {"worker": "RICH@example.com", "kind": "bonus", "amount": "5.00", "currency": "USD",
            "memo": "Thanks for the weekend", "reference": reference}
    done = finance.post("/admin/finance/adjustments/new", body, follow=True)
    assert "Bonus of 5.00 USD for rich@example.com posted" in done.content.decode()
    assert payable(workers["rich"]) == before + 500
    again = finance.post("/admin/finance/adjustments/new", body, follow=True)  # a double submit
    assert "Already recorded" in again.content.decode()
    assert LedgerAdjustment.objects.count() == 1 and payable(workers["rich"]) == before + 500

    big = finance.post("/admin/finance/adjustments/new", {**body, "amount": "150.00", "reference": "console-big"},
                       follow=True)
    assert "waits for another finance user" in big.content.decode()
    pending = LedgerAdjustment.objects.get(reference="console-big")
    assert pending.status == "pending" and payable(workers["rich"]) == before + 500
    refused = finance.post(f"/admin/finance/adjustments/{pending.pk}/approve", follow=True)
    assert "different finance user" in refused.content.decode()
    pending.refresh_from_db()
    assert pending.status == "pending"
    browser(staff["finance2"]).post(f"/admin/finance/adjustments/{pending.pk}/approve")
    pending.refresh_from_db()
    assert pending.status == "posted" and pending.decided_by == staff["finance2"]
    assert payable(workers["rich"]) == before + 500 + 15_000
    assert_ledger_consistent()


@pytest.mark.parametrize("changes,field", [
    ({"worker": "nobody@example.com"}, "worker"), ({"worker": "' OR 1=1 --"}, "worker"),
    ({"amount": "-5.00"}, "amount"), ({"amount": "1e9"}, "amount"), ({"amount": ""}, "amount"),
    ({"amount": "999999999"}, "amount"), ({"kind": "gift"}, "kind"), ({"currency": "dollars"}, "currency"),
    ({"memo": "  "}, "memo"),
])
def test_bad_adjustment_input_is_a_4xx_naming_the_field(staff, workers, changes, field):
    body = {"worker": "rich@example.com", "kind": "bonus", "amount": "5.00", "currency": "usd", "memo": "ok",
            "reference": "console-x", **changes}
    page = browser(staff["finance"]).post("/admin/finance/adjustments/new", body)
    assert 400 <= page.status_code < 500
    assert page.context["error_field"] == field and page.context["error"].startswith(field)
    assert not LedgerAdjustment.objects.exists()


def test_finance_cannot_adjust_their_own_balance(staff, workers):
    page = browser(staff["finance"]).post("/admin/finance/adjustments/new", {
        "worker": "finance@example.com", "kind": "bonus", "amount": "5.00", "currency": "usd", "memo": "me",
        "reference": "console-self"})
    assert page.status_code == 403 and "own balance" in page.context["error"]
    assert not LedgerAdjustment.objects.exists()


def test_the_creator_of_a_batch_cannot_approve_it_from_the_console(staff, workers):
    batch = payout_batch_create(actor_id=staff["finance"].pk, cutoff=timezone.now(), minimum_cents=1, currency="usd")
    page = browser(staff["finance"]).post(f"/admin/finance/batches/{batch.pk}/approve", follow=True)
    assert "different finance user" in page.content.decode()
    batch.refresh_from_db()
    assert batch.status == "draft"
    browser(staff["finance2"]).post(f"/admin/finance/batches/{batch.pk}/approve")
    batch.refresh_from_db()
    assert batch.status == "approved" and batch.approved_by == staff["finance2"]


@pytest.mark.parametrize("method,path", [
    ("get", "/admin/finance/batches/new"), ("post", "/admin/finance/batches/create"),
    ("get", "/admin/finance/adjustments/new"), ("post", "/admin/finance/adjustments/new"),
    ("post", "/admin/finance/batches/1/approve"), ("post", "/admin/finance/adjustments/1/approve"),
    ("post", "/admin/finance/adjustments/1/reject"),
])
def test_ops_and_workers_are_refused_every_finance_action(staff, workers, method, path):
    data = {"worker": "rich@example.com", "kind": "bonus", "amount": "5", "currency": "usd", "memo": "x",
            "minimum": "1", "cutoff": timezone.now().isoformat()}
    assert getattr(browser(staff["ops"]), method)(path, data).status_code == 403
    assert getattr(browser(workers["rich"]), method)(path, data).status_code == 302  # the admin's login
    assert not PayoutBatch.objects.exists() and not LedgerAdjustment.objects.exists()


def test_a_wrong_decision_in_the_url_is_not_found(staff):
    assert browser(staff["finance"]).post("/admin/finance/adjustments/1/explode").status_code == 404


def test_the_admins_adjustment_add_page_is_an_html_403_pointing_to_the_console(staff):
    page = browser(staff["finance"]).get("/admin/payments/ledgeradjustment/add/", **HTML)
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")
    text = page.content.decode()
    assert "permission_denied" not in text and "finance console" in text and "Finance console" in text
    assert 'href="/admin/finance/adjustments/new"' in text
    as_ops = browser(staff["ops"]).get("/admin/payments/ledgeradjustment/add/", **HTML)
    assert as_ops.status_code == 403 and "/admin/finance/adjustments/new" not in as_ops.content.decode()
    # API clients, and anything not asking for HTML, keep the JSON error shape.
    assert browser(staff["finance"]).get("/admin/payments/ledgeradjustment/add/").json()["error"]["code"] == \
        "permission_denied"


def test_the_console_shows_every_pending_kind_in_units_and_queues_by_four_eyes(staff, workers, settings):
    from payments.services.adjustments import ledger_adjustment_create

    settings.PAYMENTS_ADJUSTMENT_APPROVAL_ABOVE_CENTS = 1000
    fresh = make_user("fresh@example.com")
    credit(fresh, n=3, reward_cents=125, cleared=False)
    mine = payout_batch_create(actor_id=staff["finance"].pk, cutoff=timezone.now(), minimum_cents=1, currency="usd")
    theirs = ledger_adjustment_create(actor_id=staff["finance2"].pk, worker_id=fresh.pk, amount_cents=5000,
                                      currency="usd", kind="bonus", memo="x", reference="r-theirs")
    own_balance = ledger_adjustment_create(actor_id=staff["finance2"].pk, worker_id=staff["finance"].pk,
                                           amount_cents=2000, currency="usd", kind="bonus", memo="y", reference="r-me")
    page = browser(staff["finance"]).get("/admin/finance/")
    text = strip_tags(page.content.decode())
    assert "3.75 USD" in text and "70.00 USD (2)" in text  # pending (being checked), adjustments waiting
    assert "10,540" not in text and "10540" not in text  # the batch's 105.40 USD, never in cents
    assert [r["batch"] for r in page.context["batches_for_me"]] == [] and \
        [r["batch"] for r in page.context["batches_mine"]] == [mine]
    assert page.context["adjustments_for_me"] == [theirs]  # never the one on their own balance
    assert own_balance not in page.context["adjustments_for_me"]
    assert f'/admin/finance/batches/{mine.pk}/approve' not in page.content.decode()
    other = browser(staff["finance2"]).get("/admin/finance/")
    assert [r["batch"] for r in other.context["batches_for_me"]] == [mine]
    assert other.context["adjustments_for_me"] == [] and len(other.context["adjustments_mine"]) == 2
    assert f'/admin/finance/batches/{mine.pk}/approve' in other.content.decode()


def test_the_batch_admin_page_offers_approve_only_to_another_finance_user(staff, workers):
    batch = payout_batch_create(actor_id=staff["finance"].pk, cutoff=timezone.now(), minimum_cents=1, currency="usd")
    url = f"/admin/payments/payoutbatch/{batch.pk}/change/"
    own = browser(staff["finance"]).get(url).content.decode()
    assert f"/admin/payments/payoutbatch/{batch.pk}/approve/" not in own and "you created it" in own
    other = browser(staff["finance2"]).get(url).content.decode()
    assert f"/admin/payments/payoutbatch/{batch.pk}/approve/" in other and "you created it" not in other


def test_the_approval_threshold_is_shown_in_a_currency_never_in_what_was_typed(staff, settings):
    """The form's help text names the four-eyes threshold in the typed currency once it is a code, else in
    the default one: a mistyped or hostile currency is not echoed into the sentence."""
    settings.PAYMENTS_ADJUSTMENT_APPROVAL_ABOVE_CENTS = 10_000
    finance = browser(staff["finance"])
    for typed, shown in (("eur", "100.00 EUR"), ("dollars", f"100.00 {settings.STRIPE_CURRENCY.upper()}"),
                         ("<b>x{{", f"100.00 {settings.STRIPE_CURRENCY.upper()}")):
        page = finance.get("/admin/finance/adjustments/new", {"currency": typed})
        assert page.status_code == 200 and page.context["approval_above"] == shown, (typed, page.context["approval_above"])
        page = finance.post("/admin/finance/adjustments/new", {"worker": "", "currency": typed})
        assert page.status_code == 400 and page.context["approval_above"] == shown, typed
