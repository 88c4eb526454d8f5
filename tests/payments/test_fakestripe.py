"""The fake Stripe server speaks what the official SDK (StripeClient) expects, with Stripe's semantics."""

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

from payments.stripe_api import stripe_client


@pytest.fixture
def client(fakestripe):
    return stripe_client()


def _transfer(client, destination, key=None, amount=500, **extra):
    params = {"amount": amount, "currency": "usd", "destination": destination, "transfer_group": "g1",
              "metadata": {"payout_line_id": "1"}, **extra}
    return client.v1.transfers.create(params=params, options={"idempotency_key": key} if key else {})


def test_accounts_links_and_onboarding_by_opening_the_link(fakestripe, client):
    account = client.v1.accounts.create(params={"type": "express", "email": "a@example.com",
                                                "metadata": {"user_id": "5"},
                                                "capabilities": {"transfers": {"requested": True}}})
    assert account["id"].startswith("acct_") and account["payouts_enabled"] is False
    assert account["metadata"]["user_id"] == "5"
    link = client.v1.account_links.create(params={"account": account["id"], "type": "account_onboarding",
                                                  "refresh_url": "http://x/r", "return_url": "http://x/ret"})
    status, page = fakestripe.open(link["url"])
    assert status == 200 and "Onboarding complete" in page
    assert client.v1.accounts.retrieve(account["id"])["payouts_enabled"] is True
    assert fakestripe.open(link["url"])[0] == 410  # single use
    events = client.v1.events.list(params={"type": "account.updated"})
    assert events.data[0]["account"] == account["id"]
    assert events.data[0]["data"]["object"]["payouts_enabled"] is True


def test_transfer_draws_down_balance_and_lists_with_pagination(fakestripe, client):
    dest = fakestripe.account("acct_a")
    fakestripe.control("config", {"available": 10_000})
    ids = [_transfer(client, dest, amount=100 + i)["id"] for i in range(5)]
    balance = client.v1.balance.retrieve()
    assert balance["available"][0]["amount"] == 10_000 - sum(100 + i for i in range(5))

    page1 = client.v1.transfers.list(params={"transfer_group": "g1", "destination": dest, "limit": 2})
    assert [t["id"] for t in page1.data] == ids[::-1][:2] and page1.has_more
    page2 = client.v1.transfers.list(params={"transfer_group": "g1", "limit": 10,
                                             "starting_after": page1.data[-1]["id"]})
    assert [t["id"] for t in page2.data] == ids[::-1][2:] and not page2.has_more
    assert client.v1.transfers.list(params={"transfer_group": "other"}).data == []


def test_idempotency_replays_and_refuses_other_params(fakestripe, client):
    dest = fakestripe.account("acct_a")
    first = _transfer(client, dest, key="k1")
    again = _transfer(client, dest, key="k1")
    assert again["id"] == first["id"]
    assert len(fakestripe.transfers()) == 1
    with pytest.raises(stripe.IdempotencyError):
        _transfer(client, dest, key="k1", amount=501)


def test_errors_are_replayed_too_and_balance_insufficient(fakestripe, client):
    dest = fakestripe.account("acct_a")
    fakestripe.control("config", {"available": 100})
    with pytest.raises(stripe.InvalidRequestError) as first:
        _transfer(client, dest, key="k2", amount=500)
    assert first.value.code == "balance_insufficient"
    fakestripe.control("config", {"available": 10_000})
    with pytest.raises(stripe.InvalidRequestError) as replay:  # the stored answer, not a new attempt
        _transfer(client, dest, key="k2", amount=500)
    assert replay.value.code == "balance_insufficient"
    assert fakestripe.transfers() == []


def test_destination_without_payouts_is_refused(fakestripe, client):
    dest = fakestripe.account("acct_off", enabled=False)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        _transfer(client, dest)
    assert exc.value.code == "insufficient_capabilities_for_transfer"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        _transfer(client, "acct_nobody")
    assert exc.value.code == "resource_missing"


def test_dropped_connection_after_commit_then_replay(fakestripe, client):
    dest = fakestripe.account("acct_a")
    fakestripe.control("drop_after_commit", {"n": 1})
    with pytest.raises(stripe.APIConnectionError):
        _transfer(client, dest, key="k3")
    assert len(fakestripe.transfers()) == 1  # it did happen
    replay = _transfer(client, dest, key="k3")
    assert replay["id"] == fakestripe.transfers()[0]["id"]
    assert len(fakestripe.transfers()) == 1


def test_injected_failures_and_rate_limit(fakestripe, client):
    dest = fakestripe.account("acct_a")
    fakestripe.control("fail_next", {"n": 1, "status": 500})
    with pytest.raises(stripe.APIError):
        _transfer(client, dest, key="k4")
    assert _transfer(client, dest, key="k4")["id"]  # not stored: the next try goes through
    fakestripe.control("fail_next", {"n": 1, "status": 500, "store": True})
    with pytest.raises(stripe.APIError):
        _transfer(client, dest, key="k5")
    with pytest.raises(stripe.APIError) as replay:  # stored: replayed, as Stripe does with a 500
        _transfer(client, dest, key="k5")
    assert replay.value.headers.get("Idempotent-Replayed") == "true"
    fakestripe.control("config", {"rate_limit": 2})
    with pytest.raises(stripe.RateLimitError):
        for _ in range(5):
            client.v1.balance.retrieve()


def test_reversal_restores_balance_and_emits_event(fakestripe, client):
    dest = fakestripe.account("acct_a")
    fakestripe.control("config", {"available": 1000})
    transfer = _transfer(client, dest, amount=400)
    client.v1.transfers.reversals.create(transfer["id"], params={"amount": 100})
    client.v1.transfers.reversals.create(transfer["id"])
    after = client.v1.transfers.retrieve(transfer["id"])
    assert after["amount_reversed"] == 400 and after["reversed"] is True
    assert client.v1.balance.retrieve()["available"][0]["amount"] == 1000
    assert [e["type"] for e in client.v1.events.list(params={"limit": 3}).data] == [
        "transfer.reversed", "transfer.reversed", "transfer.created"]


def test_webhooks_are_signed_like_stripe(fakestripe, client):
    received = []

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append((self.headers["Stripe-Signature"], body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        fakestripe.control("config", {"webhook_url": f"http://127.0.0.1:{sink.server_address[1]}/",
                                      "webhook_secret": "whsec_sink"})
        dest = fakestripe.account("acct_a")
        transfer = _transfer(client, dest)
        from tests.conftest import wait_until

        wait_until(lambda: received, timeout=10, message="webhook delivery")
        header, body = received[0]
        stripe.WebhookSignature.verify_header(body, header, "whsec_sink", tolerance=300)
        timestamp = header.split(",")[0][2:]
        expected = hmac.new(b"whsec_sink", f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
        assert header.endswith(f"v1={expected}")
        assert json.loads(body)["data"]["object"]["id"] == transfer["id"]
    finally:
        sink.shutdown()
