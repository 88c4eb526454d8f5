"""Serial correctness of the claim code, run against every queue backend the database can run
(tasks.selectors.queue_backends: on PostgreSQL its own and the portable one; on SQLite the portable one).
test_queue_storm runs this file again on SQLite."""

import random

import pytest
from django.db import connection

from tasks.models import Assignment, Judgment, Task
from tasks.selectors.queue_backends import available_backends, queue_backend
from tasks.services.queue import (
    assignment_claim,
    assignment_submit,
    judgments_requeue_for_worker,
    project_overlap_extend,
    tasks_age,
)
from tests.tasks.test_queue_factories import consistent, make_project, make_tasks, make_worker


@pytest.fixture(autouse=True, params=available_backends())
def backend(request, settings):
    """Each test once per backend; QUEUE_CLAIM_RAW_SQL=0 is how PostgreSQL is put on the portable one."""
    settings.QUEUE_CLAIM_RAW_SQL = request.param == "postgres"
    assert queue_backend().name == request.param
    return request.param


def test_each_database_gets_its_backend(settings):
    """The one switch (queue_backend): PostgreSQL runs its own SQL unless QUEUE_CLAIM_RAW_SQL=0 says
    otherwise; every other database runs the portable backend, whatever the setting."""
    settings.QUEUE_CLAIM_RAW_SQL = True
    assert queue_backend().name == ("postgres" if connection.vendor == "postgresql" else "portable")
    settings.QUEUE_CLAIM_RAW_SQL = False
    assert queue_backend().name == "portable"
    assert available_backends() == (["postgres", "portable"] if connection.vendor == "postgresql" else ["portable"])


@pytest.mark.django_db
def test_serial_drain_respects_overlap_and_one_per_worker():
    project = make_project(overlap=3, gold_share=0.2)
    make_tasks(project, 30)
    make_tasks(project, 5, gold=True)
    workers = [make_worker(f"s{i}@example.com") for i in range(6)]
    rng = random.Random(7)
    progress = True
    while progress:
        progress = False
        for user in workers:
            claim = assignment_claim(user=user, rng=rng)
            if claim is None:
                continue
            progress = True
            assert Task.objects.get(pk=claim.task_id).n_active <= 3 or Task.objects.get(pk=claim.task_id).is_gold
            assignment_submit(user=user, assignment_id=claim.assignment_id, answer={"choice": "a"})
    assert Task.objects.filter(is_gold=False, status="complete").count() == 30
    assert Judgment.objects.filter(is_gold=False).count() == 90
    assert Assignment.objects.values("task", "worker").distinct().count() == Assignment.objects.count()
    assert consistent() == []


@pytest.mark.django_db
def test_requeue_reopens_tasks_for_others_and_is_idempotent():
    project = make_project(overlap=2)
    tasks = make_tasks(project, 3)
    gold = make_tasks(project, 1, gold=True)[0]
    bad, good, third = (make_worker(f"{n}@example.com") for n in ("bad", "good", "third"))
    for user in (bad, good):
        while (claim := assignment_claim(user=user, project_id=project.pk)) is not None:
            assignment_submit(user=user, assignment_id=claim.assignment_id, answer={"choice": "a"})
    assert Task.objects.filter(is_gold=False, status="complete").count() == 3
    Task.objects.filter(pk=gold.pk).update(n_active=1, n_submitted=1)
    gold_assignment = Assignment.objects.create(task=gold, worker=bad, project=project, status="submitted",
                                                claimed_at=gold.created_at, expires_at=gold.created_at)
    Judgment.objects.create(assignment=gold_assignment, task=gold, project=project, worker=bad,
                            answer={"choice": "b"}, is_gold=True, gold_correct=False)

    ids = judgments_requeue_for_worker(worker_id=bad.pk, reason="low gold accuracy")
    assert len(ids) == 3
    assert judgments_requeue_for_worker(worker_id=bad.pk, reason="again") == []
    assert Judgment.objects.get(is_gold=True).status == "approved"  # gold evidence is kept
    assert Task.objects.filter(pk__in=[t.pk for t in tasks], status="open", n_active=1, n_submitted=1).count() == 3
    assert assignment_claim(user=bad, project_id=project.pk) is None  # never the same task again
    while (claim := assignment_claim(user=third, project_id=project.pk)) is not None:
        assignment_submit(user=third, assignment_id=claim.assignment_id, answer={"choice": "a"})
    assert Task.objects.filter(pk__in=[t.pk for t in tasks], status="complete").count() == 3
    assert consistent() == []


@pytest.mark.django_db
def test_overlap_extend_reopens_and_stops_at_max():
    project = make_project(overlap=1)
    (task,) = make_tasks(project, 1)
    (gold,) = make_tasks(project, 1, gold=True)
    a, b = make_worker("a@example.com"), make_worker("b@example.com")
    claim = assignment_claim(user=a, project_id=project.pk)
    assignment_submit(user=a, assignment_id=claim.assignment_id, answer={"choice": "a"})
    assert Task.objects.get(pk=task.pk).status == "complete"
    assert project_overlap_extend(task_id=task.pk, max_overlap=2) is True
    assert project_overlap_extend(task_id=task.pk, max_overlap=2) is False
    assert project_overlap_extend(task_id=gold.pk, max_overlap=20000) is False
    assert Task.objects.get(pk=task.pk).status == "open"
    claim = assignment_claim(user=b, project_id=project.pk)
    assert claim.task_id == task.pk
    assignment_submit(user=b, assignment_id=claim.assignment_id, answer={"choice": "a"})
    assert Task.objects.get(pk=task.pk).status == "complete"


@pytest.mark.django_db
def test_aging_is_idempotent_and_lets_old_tasks_overtake(settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.QUEUE_AGING_STEP_SECONDS = 3600
    settings.QUEUE_AGING_MAX_BOOST = 5
    low = make_project(priority=0)
    high = make_project(priority=2)
    (old,) = make_tasks(low, 1)
    (fresh,) = make_tasks(high, 1)
    Task.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=3, minutes=5))
    worker = make_worker("w@example.com")
    assert tasks_age() == 1
    assert tasks_age() == 0
    old.refresh_from_db()
    assert (old.priority, old.age_boost) == (3, 3)
    claim = assignment_claim(user=worker)
    assert (claim.task_id, claim.reason) == (old.pk, "waiting longest: priority raised with age")
    Task.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    tasks_age()
    old.refresh_from_db()
    assert (old.priority, old.age_boost) == (5, 5)
    assert fresh.priority == 0


@pytest.mark.django_db
def test_requeue_and_overlap_extend_reactivate_a_completed_project():
    from tasks.models import Project

    project = make_project(overlap=1)
    (task,) = make_tasks(project, 1)
    flagged, honest, third = (make_worker(f"{n}@example.com") for n in ("flagged", "honest", "third"))
    claim = assignment_claim(user=flagged, project_id=project.pk)
    assignment_submit(user=flagged, assignment_id=claim.assignment_id, answer={"choice": "a"})
    Project.objects.filter(pk=project.pk).update(status="completed")  # what the completion job does

    judgments_requeue_for_worker(worker_id=flagged.pk, project_id=project.pk, reason="confirmed flag")
    assert Project.objects.get(pk=project.pk).status == "active"
    again = assignment_claim(user=honest, project_id=project.pk)
    assert again is not None and again.task_id == task.pk
    assignment_submit(user=honest, assignment_id=again.assignment_id, answer={"choice": "a"})
    Project.objects.filter(pk=project.pk).update(status="completed")

    assert project_overlap_extend(task_id=task.pk, max_overlap=3) is True
    assert Project.objects.get(pk=project.pk).status == "active"
    assert assignment_claim(user=third, project_id=project.pk).task_id == task.pk


@pytest.mark.django_db
def test_the_submit_credit_is_stored_as_the_orm_would_store_it():
    """The ledger writes its transaction row with raw SQL (INSERT ... ON CONFLICT): its created_at must
    compare like any ORM-written datetime (SQLite stores datetimes as text), or cut-offs such as a payout
    batch's `created_at <= cutoff` would miss it. Runs on SQLite too (test_queue_storm)."""
    from payments.models import LedgerTransaction

    project = make_project(overlap=1)
    make_tasks(project, 1)
    worker = make_worker("ledger@example.com")
    claim = assignment_claim(user=worker, project_id=project.pk)
    assignment_submit(user=worker, assignment_id=claim.assignment_id, answer={"choice": "a"})
    txn = LedgerTransaction.objects.get(kind="judgment_credit")
    assert LedgerTransaction.objects.filter(pk=txn.pk, created_at__lte=txn.created_at,
                                            created_at__gte=txn.created_at).exists()


@pytest.mark.django_db
def test_share_count_equals_live_and_submitted_assignments_in_every_state(settings):
    """The share cap's ``held`` is read from live assignments plus approved judgments (two partial
    indexes); it must equal the rule's definition, live + submitted assignments on the project's tasks,
    gold included (a cap blind to gold would tell a worker at the cap which claims were gold), whatever
    the worker's assignments went through: submitted, released, expired, requeued, gold."""
    from datetime import timedelta

    from django.utils import timezone

    from tasks.selectors.queue import COUNTED, _projects_meeting_requirements
    from tasks.services.queue import assignment_release, assignments_expire

    settings.QUEUE_MAX_LIVE_CLAIMS = 100
    project, other = make_project(overlap=2, gold_share=0.0), make_project(overlap=2)
    make_tasks(project, 12)
    make_tasks(other, 3)
    gold = make_tasks(project, 2, gold=True)
    alice = make_worker("held@example.com")

    def held() -> int:
        (row,) = [p for p in _projects_meeting_requirements(user=alice, project_id=None) if p.id == project.pk]
        return row.held

    def defined() -> int:
        return Assignment.objects.filter(worker=alice, project=project, status__in=COUNTED).count()

    claims = [assignment_claim(user=alice, project_id=project.pk) for _ in range(9)]
    assignment_claim(user=alice, project_id=other.pk)  # another project's work never counts here
    assert held() == defined() == 9
    for claim in claims[:5]:
        assignment_submit(user=alice, assignment_id=claim.assignment_id, answer={"choice": "a"})
    assignment_release(user=alice, assignment_id=claims[5].assignment_id)
    Assignment.objects.filter(pk=claims[6].assignment_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    assignments_expire()
    assert held() == defined() == 7  # 5 submitted + 2 live
    for task in gold:  # gold checks count like any claim, live or submitted
        Task.objects.filter(pk=task.pk).update(n_active=1)
        gold_assignment = Assignment.objects.create(task=task, worker=alice, project=project, status="live",
                                                    claimed_at=timezone.now(),
                                                    expires_at=timezone.now() + timedelta(hours=1))
        if task == gold[0]:
            assignment_submit(user=alice, assignment_id=gold_assignment.pk, answer={"choice": "a"})
    assert held() == defined() == 9
    judgments_requeue_for_worker(worker_id=alice.pk, project_id=project.pk, reason="test")
    assert held() == defined() == 4  # the 5 real submitted were requeued; 2 live real, the 2 gold remain
