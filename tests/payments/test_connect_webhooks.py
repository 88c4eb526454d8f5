"""Connect onboarding and the Stripe webhook endpoint (docs/design.md invariant 9)."""

import hashlib
import hmac
import json
import time

import pytest

from payments.models import StripeAccount, StripeEvent
from workers.models import WorkerProfile

pytestmark = pytest.mark.django_db
SECRET = "whsec_test"


def sign(body: str, *, secret: str = SECRET, at: int | None = None) -> str:
    at = int(time.time()) if at is None else at
    return f"t={at},v1={hmac.new(secret.encode(), f'{at}.{body}'.encode(), hashlib.sha256).hexdigest()}"


def post_event(api, event: dict, **sign_kw):
    body = json.dumps(event)
    return api.post("/webhooks/stripe/", body, content_type="application/json",
                    HTTP_STRIPE_SIGNATURE=sign(body, **sign_kw))


def account_updated(stripe_id: str, *, enabled: bool, event_id: str = "evt_1", created: int | None = None) -> dict:
    return {"id": event_id, "object": "event", "type": "account.updated", "account": stripe_id,
            "created": created or int(time.time()),
            "data": {"object": {"id": stripe_id, "object": "account", "payouts_enabled": enabled,
                                "details_submitted": True}}}


def test_payout_account_created_once_and_onboarding_via_link(fakestripe, person):
    ada = person("ada@example.com")
    first = ada.post("/api/v1/payout-account/")
    assert first.status_code == 201, first.content
    second = ada.post("/api/v1/payout-account/")
    assert second.status_code == 200
    assert first.json()["stripe_account_id"] == second.json()["stripe_account_id"]
    assert StripeAccount.objects.count() == 1 and len(fakestripe.state.accounts) == 1
    assert first.json()["onboarding_url"] != second.json()["onboarding_url"]  # a fresh link each time

    # Opening the link completes onboarding on "Stripe"; its account.updated reaches our endpoint.
    status, _ = fakestripe.open(first.json()["onboarding_url"])
    assert status == 200
    event = fakestripe.state.events[fakestripe.state.event_order[-1]]
    assert event["type"] == "account.updated"
    assert post_event(ada.client, event).status_code == 200
    body = ada.get("/api/v1/payout-account/").json()
    assert body["payouts_enabled"] is True and body["connected"] is True
    assert WorkerProfile.objects.get(user=ada.user).payouts_enabled is True


def test_concurrent_first_calls_make_one_stripe_account(fakestripe, person):
    # Same idempotency key (derived from the user id): Stripe returns the same account to both.
    from payments.services.connect import payout_account_ensure

    ada = person("ada@example.com")
    StripeAccount.objects.all().delete()
    a, _ = payout_account_ensure(user=ada.user)
    StripeAccount.objects.all().delete()  # as if the first caller crashed after Stripe answered
    b, _ = payout_account_ensure(user=ada.user)
    assert a.stripe_id == b.stripe_id and len(fakestripe.state.accounts) == 1


def test_get_payout_account_before_connecting(person):
    ada = person("ada@example.com")
    body = ada.get("/api/v1/payout-account/").json()
    assert body == {"connected": False, "stripe_account_id": None, "payouts_enabled": False,
                    "details_submitted": False, "last_payout_failure": ""}


def test_forged_signature_is_rejected_and_nothing_stored(api, fakestripe):
    response = post_event(api, account_updated("acct_x", enabled=True), secret="whsec_wrong")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    body = json.dumps(account_updated("acct_x", enabled=True))
    assert api.post("/webhooks/stripe/", body, content_type="application/json").status_code == 400  # unsigned
    tampered = body.replace('"payouts_enabled": true', '"payouts_enabled": false')
    response = api.post("/webhooks/stripe/", tampered, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(body))
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_replayed_old_signature_is_rejected(api, fakestripe, make_worker_account):
    user, row = make_worker_account("acct_old")
    response = post_event(api, account_updated("acct_old", enabled=True), at=int(time.time()) - 301)
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()
    row.refresh_from_db()
    assert row.payouts_enabled is False


@pytest.mark.parametrize("ahead", [301, 3600, 10 ** 9])
def test_future_dated_signature_is_rejected(api, fakestripe, make_worker_account, ahead):
    """A correctly signed event whose timestamp lies beyond the tolerance in the future would stay
    replayable until then: refused like an old one (the tolerance holds both ways)."""
    user, row = make_worker_account("acct_future")
    row.payouts_enabled = True
    row.save(update_fields=["payouts_enabled"])
    response = post_event(api, account_updated("acct_future", enabled=False), at=int(time.time()) + ahead)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_signature"
    assert "Stripe-Signature" in response.json()["error"]["fields"]
    assert not StripeEvent.objects.exists()
    row.refresh_from_db()
    assert row.payouts_enabled is True


def test_small_clock_skew_into_the_future_is_accepted(api, fakestripe, make_worker_account):
    make_worker_account("acct_skew")
    assert post_event(api, account_updated("acct_skew", enabled=True), at=int(time.time()) + 60).status_code == 200


@pytest.mark.parametrize("public", ["whsec_fake", "whsec_test"])
def test_events_signed_with_a_public_secret_do_not_switch_payouts_off(api, fakestripe, make_worker_account,
                                                                      settings, public):
    """Production runs with its own secret (settings refuse the public ones): an event forged with a
    secret that is in the repository is refused and changes nothing."""
    settings.STRIPE_WEBHOOK_SECRET = "whsec_" + "k3" * 20
    user, row = make_worker_account("acct_victim")
    row.payouts_enabled = True
    row.save(update_fields=["payouts_enabled"])
    response = post_event(api, account_updated("acct_victim", enabled=False), secret=public)
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()
    row.refresh_from_db()
    assert row.payouts_enabled is True


def test_duplicate_event_is_processed_once(api, fakestripe, make_worker_account, monkeypatch):
    user, row = make_worker_account("acct_dup")
    calls = []
    import workers.services

    real = workers.services.worker_payouts_enabled_set
    monkeypatch.setattr(workers.services, "worker_payouts_enabled_set",
                        lambda **kw: (calls.append(kw), real(**kw)))
    event = account_updated("acct_dup", enabled=True, event_id="evt_dup")
    assert post_event(api, event).json() == {"id": "evt_dup", "status": "processed"}
    assert post_event(api, event).json() == {"id": "evt_dup", "status": "processed"}
    assert StripeEvent.objects.filter(event_id="evt_dup").count() == 1
    assert calls == [{"user_id": user.pk, "enabled": True}]


def test_older_account_event_arriving_late_is_ignored(api, fakestripe, make_worker_account):
    user, row = make_worker_account("acct_order")
    now = int(time.time())
    post_event(api, account_updated("acct_order", enabled=True, event_id="evt_new", created=now))
    post_event(api, account_updated("acct_order", enabled=False, event_id="evt_old", created=now - 60))
    row.refresh_from_db()
    assert row.payouts_enabled is True


def test_failed_processing_is_stored_and_replayable(api, fakestripe, make_worker_account, monkeypatch):
    user, row = make_worker_account("acct_fail")
    import payments.services.connect as connect

    def boom(**kw):
        raise RuntimeError("workers app down")

    monkeypatch.setattr("workers.services.worker_payouts_enabled_set", boom)
    response = post_event(api, account_updated("acct_fail", enabled=True, event_id="evt_fail"))
    assert response.status_code == 503
    event = StripeEvent.objects.get(event_id="evt_fail")
    assert event.status == "failed" and "workers app down" in event.error
    row.refresh_from_db()
    assert row.payouts_enabled is False  # rolled back with the failure
    monkeypatch.undo()

    from payments.services.webhooks import stripe_event_process

    assert stripe_event_process(event_id="evt_fail").status == "processed"
    row.refresh_from_db()
    assert row.payouts_enabled is True
    assert connect  # imported for monkeypatch target clarity


def test_unknown_event_type_is_stored_as_ignored(api, fakestripe):
    event = {"id": "evt_x", "type": "charge.succeeded", "created": int(time.time()), "data": {"object": {}}}
    assert post_event(api, event).json()["status"] == "ignored"


def test_payout_failed_is_shown_on_the_account(api, fakestripe, make_worker_account, person):
    user, row = make_worker_account("acct_pf")
    event = {"id": "evt_pf", "type": "payout.failed", "account": "acct_pf", "created": int(time.time()),
             "data": {"object": {"id": "po_1", "object": "payout", "failure_code": "account_closed",
                                 "failure_message": "The bank account has been closed."}}}
    assert post_event(api, event).json()["status"] == "processed"
    row.refresh_from_db()
    assert row.last_payout_failure.startswith("account_closed")


@pytest.fixture
def make_worker_account(db):
    from tests.conftest import make_user

    def make(stripe_id: str, enabled: bool = False):
        user = make_user(f"{stripe_id}@example.com")
        return user, StripeAccount.objects.create(user=user, stripe_id=stripe_id, payouts_enabled=enabled)

    return make


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_whole_onboarding_flow_with_real_webhook_delivery(fakestripe, live_server, person):
    """The fake server itself delivers the signed account.updated to our running endpoint."""
    from tests.conftest import wait_until

    fakestripe.control("config", {"webhook_url": f"{live_server.url}/webhooks/stripe/", "webhook_secret": SECRET})
    ada = person("ada@example.com")
    link = ada.post("/api/v1/payout-account/").json()["onboarding_url"]
    assert fakestripe.open(link)[0] == 200
    wait_until(lambda: StripeAccount.objects.get(user=ada.user).payouts_enabled, timeout=20,
               message="account.updated delivered and processed")
    assert WorkerProfile.objects.get(user=ada.user).payouts_enabled is True
    assert StripeEvent.objects.get(type="account.updated").status == "processed"


def test_admin_replays_a_failed_event_and_the_ledger_admin_is_read_only(api, fakestripe, make_worker_account):
    from django.test import Client

    from marketplace.models import User

    user, row = make_worker_account("acct_adm")
    StripeEvent.objects.create(event_id="evt_adm", type="account.updated", account="acct_adm", status="failed",
                               payload=json.dumps(account_updated("acct_adm", enabled=True, event_id="evt_adm")))
    admin = User.objects.create_superuser(email="root@example.com", password="x" * 12)
    browser = Client()
    browser.force_login(admin)
    response = browser.post("/admin/payments/stripeevent/",
                            {"action": "replay", "_selected_action": [StripeEvent.objects.get().pk]})
    assert response.status_code == 302
    assert StripeEvent.objects.get(event_id="evt_adm").status == "processed"
    row.refresh_from_db()
    assert row.payouts_enabled is True
    assert browser.get("/admin/payments/ledgerentry/add/").status_code == 403
