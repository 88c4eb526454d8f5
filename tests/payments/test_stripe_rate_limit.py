"""The Stripe rate limiter (payments.stripe_api): slots shared through Redis, evenly spaced, never two
requests in one slot, whatever the number of concurrent callers."""

import threading
import uuid

import pytest
from django.conf import settings

from payments.stripe_api import stripe_slot_reserve

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="the shared limiter lives in Redis")


def test_concurrent_callers_get_distinct_slots_at_least_one_interval_apart():
    key = f"test:gcra:{uuid.uuid4().hex}"
    rate = 500.0  # 2,000 us apart
    slots: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def caller():
        start.wait()
        for _ in range(40):
            slot, now = stripe_slot_reserve(rate=rate, key=key)
            assert slot >= now
            with lock:
                slots.append(slot)

    threads = [threading.Thread(target=caller) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slots.sort()
    assert len(slots) == len(set(slots)) == 240
    gaps = [b - a for a, b in zip(slots, slots[1:], strict=False)]
    assert min(gaps) >= 2_000
    # Callers far quicker than the rate queue up: the reservations reach ~240 intervals into the future.
    assert slots[-1] - slots[0] >= 239 * 2_000


def test_an_idle_limiter_sends_at_once():
    key = f"test:gcra:{uuid.uuid4().hex}"
    slot, now = stripe_slot_reserve(rate=100, key=key)
    assert slot == now
