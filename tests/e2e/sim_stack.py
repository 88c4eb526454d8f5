"""The stack a simulated day runs against (no tests here): the live server, the fake Stripe server sending its
webhooks to it, and a Celery worker that knows both."""

import json
from contextlib import contextmanager
from types import SimpleNamespace


@contextmanager
def simulation_stack(request, live_server, settings, monkeypatch, **overrides):
    """Settings in `overrides` apply to the live server (settings) and to the Celery worker, a subprocess that
    reads them from the environment it copies when it starts (dicts as JSON)."""
    from payments.fakestripe import FakeStripeServer

    stripe = FakeStripeServer(config={"webhook_url": f"{live_server.url}/webhooks/stripe/",
                                      "webhook_secret": settings.STRIPE_WEBHOOK_SECRET,
                                      "available": 100_000_000}).start()
    try:
        for name, value in {"STRIPE_API_BASE": stripe.url, **overrides}.items():
            setattr(settings, name, value)
            monkeypatch.setenv(name, json.dumps(value) if isinstance(value, dict) else str(value))
        worker = request.getfixturevalue("celery_worker")
        yield SimpleNamespace(url=live_server.url, stripe=stripe, worker=worker)
    finally:
        stripe.stop()
