"""Payments fixtures: the fake Stripe server on a free port, with settings pointed at it."""

import json
import urllib.request

import pytest

from payments.fakestripe import FakeStripeServer


class FakeStripeControl:
    """The running fake server plus helpers to drive its control API from tests."""

    def __init__(self, server: FakeStripeServer):
        self.server = server
        self.url = server.url
        self.state = server.stripe  # direct access to the in-memory state (same process)

    def control(self, path: str, body: dict | None = None, method: str = "POST") -> dict:
        data = json.dumps(body or {}).encode() if method == "POST" else None
        request = urllib.request.Request(f"{self.url}/_control/{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local test server
            return json.loads(response.read())

    def transfers(self) -> list[dict]:
        return self.control("state", method="GET")["transfers"]

    def open(self, url: str) -> tuple[int, str]:
        """GET a URL as a browser would (account links)."""
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - local test server
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def account(self, stripe_id: str, *, enabled: bool = True) -> str:
        """An express account on the fake server with payouts enabled (no webhook needed)."""
        with self.state.lock:
            self.state.accounts[stripe_id] = {
                "id": stripe_id, "object": "account", "type": "express", "email": None, "country": "US",
                "default_currency": "usd", "created": 0, "metadata": {}, "charges_enabled": enabled,
                "payouts_enabled": enabled, "details_submitted": True,
                "capabilities": {"transfers": "active" if enabled else "inactive"},
                "requirements": {"currently_due": [], "disabled_reason": None}}
        return stripe_id


@pytest.fixture(scope="session")
def _fakestripe_server():
    server = FakeStripeServer("127.0.0.1", 0).start()
    yield server
    server.stop()


@pytest.fixture
def fakestripe(_fakestripe_server, settings):
    """A fresh fake Stripe (state reset) and settings pointing the SDK at it."""
    _fakestripe_server.stripe.reset()
    settings.STRIPE_API_BASE = _fakestripe_server.url
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test"
    settings.PAYMENTS_STRIPE_RATE_LIMIT = 0
    return FakeStripeControl(_fakestripe_server)
