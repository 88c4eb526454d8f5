"""Exactly once under crashes (docs/design.md invariant 8): a 200-line batch paid by a real Celery worker on Redis and
PostgreSQL against the fake Stripe server, the worker SIGKILLed (whole process group) at random moments
several times and restarted. Every line must be paid exactly once on Stripe and the ledger must balance."""

import os
import random
import time
from collections import Counter

import pytest
from django.utils import timezone

from payments.models import LedgerAccount, PayoutBatch, PayoutLine
from tests.conftest import CeleryWorker, _purge_test_queue, wait_until
from tests.payments.factories import assert_ledger_consistent, connect, make_project

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
N_LINES = 200


@pytest.fixture
def payout_worker(fakestripe, transactional_db, tmp_path, monkeypatch):
    """A Celery worker factory whose processes talk to the fake Stripe (env is what a subprocess sees)."""
    from django.db import connection

    from tests import settings as test_settings

    if not test_settings.HAS_REDIS or not test_settings.HAS_POSTGRES:
        pytest.skip("a real Celery worker needs Redis and PostgreSQL")
    monkeypatch.setenv("STRIPE_API_BASE", fakestripe.url)
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_fake")
    monkeypatch.setenv("PAYMENTS_STRIPE_RATE_LIMIT", "0")
    # Unacknowledged jobs of a killed worker come back quickly (and possibly twice: that is the point).
    monkeypatch.setenv("CELERY_VISIBILITY_TIMEOUT", "5")
    _purge_test_queue()  # once: restarts must find the jobs the killed worker left
    workers: list[CeleryWorker] = []

    def start() -> CeleryWorker:
        # One folder (log) per process: CeleryWorker waits for "ready." in its own log.
        folder = tmp_path / f"worker-{len(workers)}"
        folder.mkdir()
        worker = CeleryWorker(folder, connection.settings_dict["NAME"], concurrency=2).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def _seed(fakestripe) -> list:
    from marketplace.models import User
    from payments.services import earnings_credit_judgment
    from tests.payments.factories import clear, make_judgment

    project = make_project(reward_cents=137)
    users = []
    for i in range(N_LINES):
        user = User.objects.create_user(email=f"crash{i}@example.com", password="x" * 12)
        clear(user)  # their work has been checked: credits are payable
        for _ in range(1 + i % 3):
            earnings_credit_judgment(judgment_id=make_judgment(worker=user, project=project).pk)
        account = connect(user)
        fakestripe.account(account.stripe_id)
        users.append(user)
    return users


def test_every_line_paid_exactly_once_when_the_worker_is_killed(fakestripe, payout_worker, person):
    from payments.jobs import payout_lines_resume

    seed = int(os.environ.get("CRASH_SEED", time.time()))
    rng = random.Random(seed)
    print(f"crash test seed {seed}")
    _seed(fakestripe)
    finance = person("finance@example.com", groups=("finance",))
    finance2 = person("finance2@example.com", groups=("finance",))
    batch_id = finance.post("/api/v1/payout-batches/", {"cutoff": timezone.now().isoformat(),
                                                        "minimum_cents": 100}).json()["id"]
    assert PayoutLine.objects.filter(batch_id=batch_id).count() == N_LINES
    assert finance2.post(f"/api/v1/payout-batches/{batch_id}/approve/").status_code == 200
    # Some "did it happen?" moments too: transfers committed on Stripe whose answer never arrives.
    fakestripe.control("drop_after_commit", {"n": 5})

    assert finance.post(f"/api/v1/payout-batches/{batch_id}/execute/").status_code == 202
    kills = 0
    for _ in range(4):
        worker = payout_worker()
        time.sleep(rng.uniform(0.2, 2.0))
        paid_so_far = len(fakestripe.transfers())
        worker.kill()
        kills += 1
        print(f"kill {kills}: {paid_so_far} transfers on Stripe")
        payout_lines_resume.delay(older_than_seconds=0)  # what beat does for lines left open

    payout_worker()
    payout_lines_resume.delay(older_than_seconds=0)
    wait_until(lambda: PayoutBatch.objects.get(pk=batch_id).status != "executing", timeout=180, interval=0.5,
               message="the batch to finish")

    lines = list(PayoutLine.objects.filter(batch_id=batch_id))
    transfers = fakestripe.transfers()
    per_line = Counter(t["metadata"]["payout_line_id"] for t in transfers)
    assert len(transfers) == N_LINES, f"{len(transfers)} transfers for {N_LINES} lines (seed {seed})"
    assert all(per_line[str(line.pk)] == 1 for line in lines), f"duplicates (seed {seed})"
    assert all(line.status == "paid" for line in lines)
    by_id = {t["id"]: t for t in transfers}
    for line in lines:
        transfer = by_id[line.stripe_transfer_id]
        assert (transfer["amount"], transfer["destination"]) == (line.amount_cents, line.destination)
    assert PayoutBatch.objects.get(pk=batch_id).status == "completed"
    assert_ledger_consistent()
    for line in lines:
        accounts = {a.kind: a.balance_cents for a in LedgerAccount.objects.filter(worker_id=line.worker_id)}
        assert accounts["paid_out"] == line.amount_cents
        assert accounts["payouts_in_transit"] == 0 and accounts["worker_payable"] == 0
    assert finance.get(f"/api/v1/reconciliation/?batch={batch_id}").json()["differences"] == []
