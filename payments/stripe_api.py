"""The one place that builds the Stripe client: the official SDK's StripeClient, pointed at the fake
server when STRIPE_API_BASE is set (tests, local stack) and at Stripe itself otherwise. Same code both ways.

The SDK's own retries are off (max_network_retries=0): a retry must reuse our idempotency key, and Celery
owns the retries. stripe 16 objects are StripeObject (not dict): read fields with obj["field"].
"""

import random
import threading
import time

import stripe
from django.conf import settings
from django.core.cache import cache

_clients: dict[tuple, stripe.StripeClient] = {}
_lock = threading.Lock()


def stripe_client() -> stripe.StripeClient:
    base = settings.STRIPE_API_BASE.rstrip("/")
    timeout = settings.PAYMENTS_STRIPE_TIMEOUT
    key = (settings.STRIPE_SECRET_KEY, base, timeout)
    with _lock:
        client = _clients.get(key)
        if client is None:
            addresses = {"api": base, "connect": base, "files": base} if base else None
            client = stripe.StripeClient(settings.STRIPE_SECRET_KEY, base_addresses=addresses,
                                         max_network_retries=0, http_client=stripe.RequestsClient(timeout=timeout))
            _clients[key] = client
        return client


def stripe_throttle() -> None:
    """Blocks until a Stripe request may go out under PAYMENTS_STRIPE_RATE_LIMIT requests per second.

    Counts in 100 ms windows in the Django cache (Redis in production, so the limit holds across every
    Celery worker; per process with a local cache). A 429 that still slips through is retried with backoff
    by the caller."""
    limit = settings.PAYMENTS_STRIPE_RATE_LIMIT
    if limit <= 0:
        return
    per_window = max(1, int(limit / 10))
    while True:
        now = time.time()
        window = int(now * 10)
        key = f"payments:stripe-rate:{window}"
        cache.add(key, 0, timeout=5)
        try:
            used = cache.incr(key)
        except ValueError:  # evicted between add and incr
            used = 1
        if used <= per_window:
            return
        time.sleep((window + 1) / 10 - now + random.uniform(0, 0.01))


def error_code(exc: stripe.StripeError) -> str:
    """Stripe's error code (balance_insufficient, ...) or its type, for logs and line errors."""
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) if error is not None else None
    return code or type(exc).__name__
