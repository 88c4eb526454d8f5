"""Guessing client API keys: failures are counted per address in the cache; past the limit, 429 with
Retry-After in the one error shape, even for a correct key; successes do not count."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.tasks.client_support import ClientSession

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.API_KEY_FAILURE_LIMIT = 5
    settings.API_KEY_FAILURE_WINDOW_SECONDS = 300
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def lab(db):
    return ClientSession("Lab A")


def call(key: str, address: str = "203.0.113.7"):
    return APIClient().get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Api-Key {key}", REMOTE_ADDR=address)


def wrong_key(lab) -> str:
    prefix = lab.key.partition(".")[0]
    return f"{prefix}.{'x' * 32}"


def test_after_the_limit_even_a_correct_key_gets_429_with_retry_after(lab):
    for guess in [wrong_key(lab), "nope.nope", "malformed"] + [wrong_key(lab)] * 2:
        assert call(guess).status_code == 401
    refused = call(lab.key)
    assert refused.status_code == 429, refused.content
    assert 1 <= int(refused["Retry-After"]) <= 301
    error = refused.json()["error"]
    assert error["code"] == "throttled" and "failed API key attempts" in error["message"]
    assert call(wrong_key(lab)).status_code == 429


def test_other_addresses_are_not_affected(lab):
    for _ in range(5):
        call(wrong_key(lab), address="198.51.100.1")
    assert call(lab.key, address="198.51.100.1").status_code == 429
    assert call(lab.key, address="198.51.100.2").status_code == 200


def test_ipv6_addresses_count_per_64(lab):
    for i in range(5):
        call(wrong_key(lab), address=f"2001:db8:1:2::{i + 1}")
    assert call(lab.key, address="2001:db8:1:2::ffff").status_code == 429
    assert call(lab.key, address="2001:db8:1:3::1").status_code == 200


def test_successes_do_not_count_nor_reset_the_count(lab):
    for _ in range(4):
        assert call(wrong_key(lab)).status_code == 401
    for _ in range(20):
        assert call(lab.key).status_code == 200
    assert call(wrong_key(lab)).status_code == 401  # the fifth failure
    assert call(lab.key).status_code == 429


def test_the_window_ends(lab, monkeypatch):
    import time

    from tasks import auth

    for _ in range(5):
        call(wrong_key(lab))
    assert call(lab.key).status_code == 429
    now = time.time()
    monkeypatch.setattr(auth.time, "time", lambda: now + 301)
    cache.delete_many([k for k in ("apikey-failures:203.0.113.7", "apikey-failures-start:203.0.113.7")])
    assert call(lab.key).status_code == 200


def test_requests_without_an_api_key_are_not_counted(lab):
    for _ in range(10):
        assert APIClient().get("/api/v1/projects/", REMOTE_ADDR="203.0.113.9").status_code in (401, 403)
    assert call(lab.key, address="203.0.113.9").status_code == 200
