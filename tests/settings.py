"""Test settings: PostgreSQL and Redis when reachable, SQLite and an in-memory broker otherwise.

TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) and REDIS_URL (default
redis://127.0.0.1:6379/15) are probed once; REQUIRE_SERVICES=1 turns a missing service into an error
instead of a fallback; TEST_SERVICES=none uses the fallback whatever answers. Tests that need PostgreSQL
or Redis are marked and skipped on the fallback.
"""

import os
import socket
import uuid
from urllib.parse import urlparse

# A developer's var/local.env (written by `make run`: DEBUG=1, ports, fake Stripe) must not leak into tests.
os.environ["LOCAL_ENV_FILE"] = ""
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-for-production-checks")
os.environ.setdefault("ALLOWED_HOSTS", "*")
os.environ.setdefault("WEBHOOKS_ALLOW_PRIVATE_URLS", "1")
os.environ.setdefault("ACCOUNT_RATE_LIMITS_OFF", "1")
# Production settings (DEBUG off) need a webhook secret of their own: a fresh one per run, never in the repo.
os.environ.setdefault("STRIPE_WEBHOOK_SECRET", f"whsec_{uuid.uuid4().hex}")
# The test client speaks plain http; tests of the redirect and HSTS turn it on (tests/marketplace).
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
# The locmem cache lives as long as the test process: bad-key tests across the suite must not add up to
# a 429 elsewhere. tests/tasks/test_api_key_rate_limit.py sets its own limit and clears the cache.
os.environ.setdefault("API_KEY_FAILURE_LIMIT", "100000")


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
TEST_REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") in {"1", "true", "yes"}

# TEST_SERVICES=none: SQLite and the in-memory broker even when PostgreSQL and Redis answer (CI's second
# leg: what a machine without them runs).
NO_SERVICES = os.environ.get("TEST_SERVICES", "auto") == "none"
if NO_SERVICES and REQUIRE_SERVICES:
    raise RuntimeError("TEST_SERVICES=none and REQUIRE_SERVICES=1 contradict each other")

HAS_POSTGRES = not NO_SERVICES and _reachable(TEST_DATABASE_URL, 5432)
HAS_REDIS = not NO_SERVICES and _reachable(TEST_REDIS_URL, 6379)
if REQUIRE_SERVICES and not (HAS_POSTGRES and HAS_REDIS):
    missing = [name for name, ok in (("PostgreSQL", HAS_POSTGRES), ("Redis", HAS_REDIS)) if not ok]
    raise RuntimeError(f"REQUIRE_SERVICES=1 but {', '.join(missing)} not reachable "
                       f"(TEST_DATABASE_URL={TEST_DATABASE_URL}, REDIS_URL={TEST_REDIS_URL})")

os.environ["DATABASE_URL"] = TEST_DATABASE_URL if HAS_POSTGRES else "sqlite:///:memory:"
if HAS_REDIS:
    os.environ["REDIS_URL"] = TEST_REDIS_URL
    # One queue per test run, so a Celery worker started by the tests only sees this run's jobs.
    os.environ.setdefault("CELERY_QUEUE", f"test-{uuid.uuid4().hex[:8]}")
else:
    # The in-memory broker is set below as a setting, not through the environment: Celery's
    # conf.broker_url prefers the CELERY_BROKER_URL variable over everything, which would pin every test
    # (and any setting a test overrides) to one broker.
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)

from marketplace.settings import *  # noqa: E402,F403
from marketplace.settings import DATABASES  # noqa: E402

# A Celery worker process started by the tests must use the test database pytest-django created.
if os.environ.get("MARKETPLACE_TEST_DB_NAME"):
    DATABASES["default"]["NAME"] = os.environ["MARKETPLACE_TEST_DB_NAME"]
    DATABASES["default"]["TEST"] = {"NAME": os.environ["MARKETPLACE_TEST_DB_NAME"]}
if not HAS_POSTGRES:
    DATABASES["default"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
DATABASES["default"]["CONN_MAX_AGE"] = 0
# TEST_DB_NAME lets several test runs share one PostgreSQL server without dropping each other's database.
if HAS_POSTGRES and not os.environ.get("MARKETPLACE_TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DB_NAME", "test_marketplace")}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# A per-process cache: nothing (rate limits, cooldowns) leaks from one test run into the next.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if HAS_REDIS:
    CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL")
else:
    CELERY_BROKER_URL = "memory://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
