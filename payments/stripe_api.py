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


# GCRA ("generic cell rate algorithm") in one Redis round trip: every caller reserves the next free
# send time, one interval after the previous one, and sleeps until it. Requests leave evenly spaced
# (10 ms apart at 100/s) instead of in bursts at the start of each window, so network jitter seldom
# pushes Stripe's sliding one-second window over the limit, and no slot is wasted on a 429.
_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
redis.call('SET', KEYS[1], tat + interval, 'PX', math.floor((tat + interval - now) / 1000) + 1000)
return {tat, now}
"""
_redis_scripts: dict[str, object] = {}
GCRA_KEY = "payments:stripe-gcra"


def _gcra_script():
    url = settings.REDIS_URL
    script = _redis_scripts.get(url)
    if script is None:
        import redis

        script = redis.Redis.from_url(url).register_script(_GCRA)
        _redis_scripts[url] = script
    return script


def stripe_slot_reserve(*, rate: float, key: str = GCRA_KEY) -> tuple[int, int]:
    """Reserves the next send slot under `rate` requests per second, shared by every process through
    Redis: returns (slot, now) in Redis-clock microseconds; the caller sends at `slot`."""
    interval_us = max(1, round(1_000_000 / rate))
    slot, now = _gcra_script()(keys=[key], args=[interval_us])
    return int(slot), int(now)


def stripe_throttle() -> None:
    """Blocks until a Stripe request may go out under PAYMENTS_STRIPE_RATE_LIMIT requests per second.

    With Redis (REDIS_URL) the limit holds across every Celery worker (stripe_slot_reserve). Without it (the
    embedded default) it counts in 100 ms windows in the Django cache, per machine. A 429 that still slips
    through is retried with backoff by the caller."""
    limit = settings.PAYMENTS_STRIPE_RATE_LIMIT
    if limit <= 0:
        return
    if settings.REDIS_URL:
        slot, now = stripe_slot_reserve(rate=limit)
        if slot > now:
            time.sleep((slot - now) / 1_000_000)
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
