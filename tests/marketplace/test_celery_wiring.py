"""A job enqueued with transaction.on_commit runs on a real worker process; after a rollback it never runs."""

import pytest
from django.db import transaction

from marketplace.jobs import heartbeat
from marketplace.models import Heartbeat
from tests.conftest import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_job_enqueued_on_commit_runs_on_a_real_worker(celery_worker):
    with transaction.atomic():
        transaction.on_commit(lambda: heartbeat.delay("probe-commit"))
        assert not Heartbeat.objects.filter(name="probe-commit").exists()
    wait_until(lambda: Heartbeat.objects.filter(name="probe-commit").exists(), message="the worker to run the job")


def test_job_not_enqueued_when_the_transaction_rolls_back(celery_worker):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        transaction.on_commit(lambda: heartbeat.delay("probe-rollback"))
        raise Boom
    # A later job on the same queue proves the worker drained what was before it.
    heartbeat.delay("probe-sentinel")
    wait_until(lambda: Heartbeat.objects.filter(name="probe-sentinel").exists(), message="the sentinel job")
    assert not Heartbeat.objects.filter(name="probe-rollback").exists()
