"""The queue under real concurrency on PostgreSQL: many threads, each its own connection."""

import random
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from marketplace.errors import Conflict
from tasks.models import Assignment, Judgment, Task
from tasks.services.queue import assignment_claim, assignment_release, assignment_submit, assignments_expire
from tests.conftest import ROOT
from tests.tasks.test_queue_factories import consistent, make_project, make_tasks, make_worker

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# Every task of the storm has overlap 3; one snapshot of all counted assignments per query.
OVER_OVERLAP = """
    SELECT task_id FROM tasks_assignment WHERE status IN ('live', 'submitted') GROUP BY task_id HAVING count(*) > 3"""


def _run_threads(target, n):
    errors = []

    def wrapped(i):
        try:
            target(i)
        except Exception as exc:  # collected and asserted below: any error fails the test
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    return threads, errors


@pytest.mark.django_db(transaction=True)
def test_storm_64_claimers_drain_2000_tasks_never_over_overlap(settings, monkeypatch):
    settings.QUEUE_MAX_LIVE_CLAIMS = 3
    # The storm is about the queue's counters; earnings credits (payments' own tests and the e2e flow cover
    # them) would only triple its run time on two cores.
    monkeypatch.setattr("tasks.services.queue_leases._credit", lambda judgment_id: None)
    project = make_project(overlap=3, gold_share=0.0)
    make_tasks(project, 2000)
    workers = [make_worker(f"storm{i}@example.com") for i in range(64)]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tasks_task; ANALYZE tasks_assignment")
    violations, stop = [], threading.Event()

    def monitor():
        try:
            while not stop.is_set():
                with connection.cursor() as cursor:
                    cursor.execute(OVER_OVERLAP)
                    violations.extend(cursor.fetchall())
                time.sleep(0.05)  # often enough to catch an overshoot, rarely enough not to slow the storm
        finally:
            connection.close()

    watcher = threading.Thread(target=monitor)
    watcher.start()
    done = Counter()

    def claimer(i):
        user, rng = workers[i], random.Random(i)
        while True:
            claim = assignment_claim(user=user, project_id=project.pk, rng=rng)
            if claim is None:
                return
            if rng.random() < 0.03:
                assignment_release(user=user, assignment_id=claim.assignment_id)
                continue
            assignment_submit(user=user, assignment_id=claim.assignment_id, answer={"choice": rng.choice("ab")},
                              seconds_spent=1.0)
            done[i] += 1

    threads, errors = _run_threads(claimer, 64)
    for t in threads:
        t.join(timeout=300)
    stop.set()
    watcher.join()

    assert errors == []
    assert not any(t.is_alive() for t in threads)
    assert violations == []
    assert Task.objects.filter(status="complete").count() == 2000
    assert Judgment.objects.count() == sum(done.values()) == 6000
    assert Assignment.objects.filter(status="live").count() == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT task_id, worker_id FROM tasks_assignment GROUP BY 1, 2 HAVING count(*) > 1")
        assert cursor.fetchall() == []
    assert consistent() == []
    assert len([i for i in done if done[i]]) > 32  # the work was spread, not taken by a few threads


@pytest.mark.django_db(transaction=True)
def test_storm_across_projects_of_different_priorities_never_over_overlap(settings, monkeypatch):
    """24 claimers with no project named, over 8 projects of different priorities: each claim reads a few
    candidates per project and locks the first free one (SKIP LOCKED), reading more per project when the
    first few are held. Every task completes, none above its overlap, each once per worker."""
    settings.QUEUE_MAX_LIVE_CLAIMS = 3
    monkeypatch.setattr("tasks.services.queue_leases._credit", lambda judgment_id: None)
    projects = [make_project(overlap=3, priority=i % 3) for i in range(8)]
    for project in projects:
        make_tasks(project, 40)
    workers = [make_worker(f"across{i}@example.com") for i in range(24)]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tasks_task; ANALYZE tasks_assignment")
    done = Counter()

    def claimer(i):
        user, rng = workers[i], random.Random(i)
        while (claim := assignment_claim(user=user, rng=rng)) is not None:
            assignment_submit(user=user, assignment_id=claim.assignment_id, answer={"choice": "a"})
            done[i] += 1

    threads, errors = _run_threads(claimer, 24)
    for t in threads:
        t.join(timeout=300)
    assert errors == [] and not any(t.is_alive() for t in threads)
    assert Task.objects.filter(status="complete").count() == 320
    assert Judgment.objects.count() == sum(done.values()) == 960
    with connection.cursor() as cursor:
        cursor.execute(OVER_OVERLAP)
        assert cursor.fetchall() == []
        cursor.execute("SELECT task_id, worker_id FROM tasks_assignment GROUP BY 1, 2 HAVING count(*) > 1")
        assert cursor.fetchall() == []
    assert consistent() == []


@pytest.mark.django_db(transaction=True)
def test_expired_claims_come_back_and_are_completed_by_others():
    project = make_project(overlap=2, lease_seconds=30)
    tasks = make_tasks(project, 4)
    quitter = make_worker("quitter@example.com")
    held = [assignment_claim(user=quitter) for _ in range(3)]
    Assignment.objects.filter(worker=quitter).update(expires_at=timezone.now() - timedelta(seconds=1))
    from tasks.jobs.queue import expire_leases

    assert expire_leases() == 3
    assert expire_leases() == 0  # idempotent
    others = [make_worker(f"o{i}@example.com") for i in range(2)]

    def work(i):
        while (claim := assignment_claim(user=others[i])) is not None:
            assignment_submit(user=others[i], assignment_id=claim.assignment_id, answer={"choice": "a"})

    threads, errors = _run_threads(work, 2)
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert Task.objects.filter(pk__in=[t.pk for t in tasks], status="complete").count() == 4
    for claim in held:
        with pytest.raises(Conflict) as late:
            assignment_submit(user=quitter, assignment_id=claim.assignment_id, answer={"choice": "a"})
        assert late.value.code == "lease_expired"
    assert not Judgment.objects.filter(worker=quitter).exists()
    assert consistent() == []


@pytest.mark.django_db(transaction=True)
def test_submit_racing_expiry_is_either_submitted_or_expired_never_both():
    project = make_project(overlap=1, lease_seconds=30)
    make_tasks(project, 24)
    workers = [make_worker(f"race{i}@example.com") for i in range(8)]
    claims = [(w, assignment_claim(user=w)) for w in workers for _ in range(3)]
    deadline = timezone.now() + timedelta(milliseconds=300)
    Assignment.objects.update(expires_at=deadline)
    stop = threading.Event()

    def submitter(i):
        user, claim = claims[i]
        time.sleep(random.Random(i).uniform(0.2, 0.4))
        try:
            assignment_submit(user=user, assignment_id=claim.assignment_id, answer={"choice": "a"})
        except Conflict as exc:
            assert exc.code == "lease_expired"

    def expirer(_):
        while not stop.is_set():
            assignments_expire()
            time.sleep(0.005)

    threads, errors = _run_threads(submitter, len(claims))
    sweeper, sweep_errors = _run_threads(expirer, 1)
    for t in threads:
        t.join(timeout=60)
    time.sleep(0.1)
    stop.set()
    sweeper[0].join(timeout=10)
    assignments_expire()
    assert errors == [] and sweep_errors == []
    statuses = Counter(Assignment.objects.values_list("status", flat=True))
    assert set(statuses) <= {"submitted", "expired"} and sum(statuses.values()) == 24
    assert Judgment.objects.count() == statuses["submitted"]
    assert not Judgment.objects.filter(assignment__status="expired").exists()
    assert consistent() == []


def test_the_same_claim_code_drains_a_queue_on_sqlite(tmp_path):
    """Runs the serial queue tests in a fresh process whose database is SQLite (the embedded default)."""
    env = {"TEST_DATABASE_URL": "postgres://nobody@127.0.0.1:9/none", "PATH": "/usr/bin:/bin",
           "REDIS_URL": "redis://127.0.0.1:9/0", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/tasks/test_queue_serial.py", "-p", "no:cacheprovider"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert "SQLite" in result.stdout, result.stdout[-3000:]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "8 passed" in result.stdout and "skipped" not in result.stdout
