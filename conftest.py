"""Root conftest: says which services the run uses, and skips (or, with REQUIRE_SERVICES=1, fails)
tests that need a service the machine does not have."""

import pytest


def pytest_report_header(config):
    from django.conf import settings

    from tests import settings as test_settings

    db = settings.DATABASES["default"]
    where = f"PostgreSQL {db.get('HOST')}:{db.get('PORT')}" if test_settings.HAS_POSTGRES else "SQLite (in memory)"
    broker = settings.CELERY_BROKER_URL if test_settings.HAS_REDIS else "memory:// (no Redis)"
    return [f"marketplace tests: database = {where}; broker = {broker}; "
            f"REQUIRE_SERVICES={'1' if test_settings.REQUIRE_SERVICES else '0'}"]


def pytest_collection_modifyitems(config, items):
    from tests import settings as test_settings

    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (set TEST_DATABASE_URL or start it)")
    skip_redis = pytest.mark.skip(reason="needs Redis (set REDIS_URL or start it)")
    for item in items:
        if "postgres" in item.keywords and not test_settings.HAS_POSTGRES:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not test_settings.HAS_REDIS:
            item.add_marker(skip_redis)
