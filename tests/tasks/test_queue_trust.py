"""Trust in the queue (issue 13): a suspended worker is not paid, time spent is the server's measure, and
one worker's parallel claims never pass the live-claim or share caps."""

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from marketplace.errors import Forbidden
from payments.models import LedgerEntry
from tasks.models import Assignment, Judgment, Task
from tasks.selectors.pay import projects_median_seconds
from tasks.services.queue import assignment_claim
from tests.tasks.test_queue_api import CLAIM, submit
from tests.tasks.test_queue_factories import consistent, make_project, make_tasks, make_worker
from tests.workers.factories import complete_profile, qualify
from workers.models import Pool, PoolMembership, WorkerProfile
from workers.services.standing import pool_membership_suspend, worker_ban, worker_suspend


@pytest.fixture
def worker(person):
    """Factory: a signed-in worker who may claim python work."""

    def make(email):
        who = person(email)
        complete_profile(who.user)
        qualify(who.user)
        return who

    return make


def _claimed(who, project) -> dict:
    response = who.post(CLAIM, {"project": project.pk})
    assert response.status_code == 201, response.content
    return response.json()


# --- a worker who may no longer work is not paid (row 12) ---

@pytest.mark.django_db
@pytest.mark.parametrize("how", ["worker_suspend", "worker_ban", "status_edited_directly"])
def test_a_suspended_worker_submit_is_refused_unpaid_and_the_task_goes_back(worker, how):
    project = make_project(overlap=1)
    (task,) = make_tasks(project, 1)
    alice, bob = worker("alice@example.com"), worker("bob@example.com")
    aid = _claimed(alice, project)["id"]
    if how == "worker_suspend":
        worker_suspend(worker_id=alice.user.pk, reason="quality flag")
    elif how == "worker_ban":
        worker_ban(worker_id=alice.user.pk, reason="fraud")
    else:  # an edit that bypasses the service (admin form, SQL): the submit still refuses
        WorkerProfile.objects.filter(user=alice.user).update(status="suspended")

    refused = submit(alice, aid, seconds_spent=30)
    assert refused.status_code == 403, refused.content
    assert refused.json()["error"]["code"] == "suspended"
    assert not Judgment.objects.exists()
    assert not LedgerEntry.objects.exists()  # no credit of any kind
    assert Assignment.objects.get(pk=aid).status == "released"
    task.refresh_from_db()
    assert (task.n_active, task.n_submitted, task.status) == (0, 0, "open")
    assert bob.post(CLAIM, {}).status_code == 201  # the slot is back in the queue
    assert submit(alice, aid).status_code == 403  # and stays refused
    assert consistent() == []


@pytest.mark.django_db
def test_a_pool_suspension_refuses_work_on_that_pool_only(worker):
    pool = Pool.objects.create(name="Trusted raters")
    pooled, open_ = make_project(overlap=1, pool=pool), make_project(overlap=1)
    make_tasks(pooled, 1)
    make_tasks(open_, 1)
    alice = worker("alice@example.com")
    PoolMembership.objects.create(pool=pool, worker=alice.user)
    in_pool, outside = _claimed(alice, pooled)["id"], _claimed(alice, open_)["id"]

    pool_membership_suspend(pool_id=pool.pk, worker_id=alice.user.pk, reason="agreement far below the pool")
    assert Assignment.objects.get(pk=in_pool).status == "released"
    assert Assignment.objects.get(pk=outside).status == "live"
    refused = submit(alice, in_pool)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "suspended"
    assert submit(alice, outside).status_code == 200
    assert list(Judgment.objects.values_list("assignment_id", flat=True)) == [outside]
    assert consistent() == []


@pytest.mark.django_db
def test_removal_from_the_pool_releases_its_leases_and_refuses_the_submit(worker):
    from workers.services.pools import pool_members_remove

    pool = Pool.objects.create(name="Trusted raters")
    pooled = make_project(overlap=1, pool=pool)
    make_tasks(pooled, 1)
    alice = worker("alice@example.com")
    PoolMembership.objects.create(pool=pool, worker=alice.user)
    aid = _claimed(alice, pooled)["id"]
    pool_members_remove(pool_id=pool.pk, worker_ids=[alice.user.pk], reason="left the client's team")
    assert Assignment.objects.get(pk=aid).status == "released"
    refused = submit(alice, aid)
    assert refused.status_code == 403 and not Judgment.objects.exists()


@pytest.mark.django_db
def test_suspension_in_the_middle_of_a_lease_releases_it_at_once(worker):
    project = make_project(overlap=2)
    make_tasks(project, 3)
    alice = worker("alice@example.com")
    first, second = _claimed(alice, project)["id"], _claimed(alice, project)["id"]
    worker_suspend(worker_id=alice.user.pk, reason="review")
    assert set(Assignment.objects.filter(pk__in=[first, second]).values_list("status", flat=True)) == {"released"}
    assert sum(Task.objects.values_list("n_active", flat=True)) == 0
    assert alice.post(CLAIM, {}).json()["error"]["code"] == "suspended"
    assert consistent() == []


# --- time spent is measured by the server (row 9) ---

@pytest.mark.django_db
def test_time_spent_is_the_servers_measure_and_the_reported_figure_is_kept_apart(worker):
    project = make_project(overlap=1)
    make_tasks(project, 1)
    alice = worker("alice@example.com")
    aid = _claimed(alice, project)["id"]
    # Claimed 30 s ago (as far as the server knows); the worker says 4000 s.
    Assignment.objects.filter(pk=aid).update(claimed_at=timezone.now() - timedelta(seconds=30))

    done = submit(alice, aid, seconds_spent=4000)
    assert done.status_code == 200, done.content
    judgment = Judgment.objects.get()
    assert 30 <= judgment.seconds_spent < 40
    assert judgment.reported_seconds == 4000
    answer = done.json()["judgment"]
    assert 30 <= answer["seconds_spent"] < 40 and answer["reported_seconds"] == 4000
    # The hourly pay figure reads the server's time, not the worker's.
    (median, n), = projects_median_seconds(project_ids=[project.pk]).values()
    assert n == 1 and 30 <= median < 40


@pytest.mark.django_db
def test_a_fast_worker_cannot_look_slow_to_the_quality_rules(worker, settings):
    """The finding of row 9: seconds_spent 42 sent right after the claim was stored as 42, and the too-fast
    rule read it. Now the rule sees the seconds the server measured."""
    from quality.models import Flag, WorkerStanding
    from quality.services.recompute import project_quality_recompute

    project = make_project(overlap=1)
    make_tasks(project, 12)
    alice = worker("alice@example.com")
    for _ in range(12):
        aid = _claimed(alice, project)["id"]
        assert submit(alice, aid, seconds_spent=42).status_code == 200
    assert set(Judgment.objects.values_list("reported_seconds", flat=True)) == {42}
    assert max(Judgment.objects.values_list("seconds_spent", flat=True)) < 4

    project_quality_recompute(project_id=project.pk, force=True)
    standing = WorkerStanding.objects.get(worker=alice.user, project=project)
    assert standing.median_seconds < 4
    assert Flag.objects.filter(worker=alice.user, rule="fast").exists()


# --- one worker's parallel claims never pass a cap (row 11) ---

def _parallel_claims(user, project, n: int) -> tuple[list, list]:
    """n threads (each its own connection) claim for one worker at once; returns (claims, errors)."""
    barrier, claims, errors = threading.Barrier(n), [], []

    def claim():
        try:
            barrier.wait()
            claims.append(assignment_claim(user=user, project_id=project.pk))
        except Forbidden as exc:
            claims.append(exc.code)
        except Exception as exc:  # collected and asserted: any other error fails the test
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return claims, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("raw_sql", [True, False], ids=["one-statement", "portable"])
def test_twenty_parallel_claims_of_one_worker_hold_the_live_claim_cap(settings, raw_sql):
    settings.QUEUE_MAX_LIVE_CLAIMS, settings.QUEUE_CLAIM_RAW_SQL = 3, raw_sql
    project = make_project(overlap=3, gold_share=0.3)
    make_tasks(project, 40)
    make_tasks(project, 10, gold=True)
    user = make_worker("storm@example.com")
    claims, errors = _parallel_claims(user, project, 20)
    assert errors == []
    live = Assignment.objects.filter(worker=user, status="live").count()
    assert live == 3, claims
    assert sum(1 for c in claims if c == "too_many_live_claims") == 17
    assert consistent() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_claims_of_one_worker_hold_the_share_cap(settings):
    settings.QUEUE_MAX_LIVE_CLAIMS = 100
    project = make_project(overlap=3, gold_share=0.3, max_judgments_per_worker=4)
    make_tasks(project, 40)
    make_tasks(project, 10, gold=True)
    user = make_worker("storm@example.com")
    claims, errors = _parallel_claims(user, project, 20)
    assert errors == []
    assert Assignment.objects.filter(worker=user, status="live").count() == 4, claims
    assert sum(1 for c in claims if c is None) == 16  # at the cap the project offers nothing (204)
    assert consistent() == []


@pytest.mark.parametrize("cap", ["live", "share"])
def test_twenty_parallel_claims_of_one_worker_hold_the_caps_on_sqlite(tmp_path, cap):
    """The same storm on the embedded database (a SQLite file with the settings `make run` uses), in a fresh
    process: there the claim's BEGIN IMMEDIATE transaction is the worker lock."""
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "tests/tasks/sqlite_claim_storm.py", str(tmp_path), cap],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["vendor"] == "sqlite" and report["errors"] == []
    if cap == "live":
        assert report["live"] == 3 and report["outcomes"].count("too_many_live_claims") == 17, report
    else:
        assert report["live"] == 4 and report["outcomes"].count("none") == 16, report
