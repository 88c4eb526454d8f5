"""Races against real PostgreSQL: two submits of one attempt grade once; two starts open one attempt;
two pool adds do not overshoot the capacity."""

import threading

import pytest
from django.db import connection

from marketplace.errors import Conflict
from tests.conftest import make_user
from tests.workers.factories import qualify
from tests.workers.quizkit import answers_for, make_quiz
from workers.models import Pool, PoolMembership, Qualification, QuizAttempt
from workers.services.pools import pool_members_add
from workers.services.quizzes import quiz_attempt_start, quiz_attempt_submit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(*calls):
    """Runs the calls in threads released together; returns each call's result or exception."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 - the test inspects what each side got
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_simultaneous_submits_of_one_attempt_grade_once():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    make_quiz()
    user = make_user("race@example.com")
    for _ in range(5):  # several rounds: each round is one attempt submitted twice at once
        attempt = quiz_attempt_start(worker_id=user.id, quiz_slug="python")
        right, wrong = answers_for(attempt.id, right=True), answers_for(attempt.id, right=False)
        results = race(lambda a=attempt, ans=right: quiz_attempt_submit(worker_id=user.id, attempt_id=a.id, answers=ans),
                       lambda a=attempt, ans=wrong: quiz_attempt_submit(worker_id=user.id, attempt_id=a.id, answers=ans))
        graded = [r for r in results if isinstance(r, QuizAttempt)]
        refused = [r for r in results if isinstance(r, Conflict)]
        assert len(graded) == 1 and len(refused) == 1, results
        row = QuizAttempt.objects.get(pk=attempt.id)
        assert row.score == graded[0].score and row.status == "submitted"
        # The qualification follows the one grade that won, never the loser's.
        assert Qualification.objects.filter(worker=user).exists() == row.passed
        Qualification.objects.filter(worker=user).delete()
        QuizAttempt.objects.filter(worker=user, passed=False).delete()  # no cooldown for the next round


def test_two_simultaneous_starts_open_one_attempt():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    make_quiz()
    user = make_user("double@example.com")
    results = race(lambda: quiz_attempt_start(worker_id=user.id, quiz_slug="python"),
                   lambda: quiz_attempt_start(worker_id=user.id, quiz_slug="python"))
    assert sum(isinstance(r, QuizAttempt) for r in results) == 1, results
    assert sum(isinstance(r, Conflict) for r in results) == 1, results
    assert QuizAttempt.objects.filter(worker=user, status="open").count() == 1


def test_concurrent_pool_adds_respect_capacity():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    pool = Pool.objects.create(name="Small", capacity=3)
    users = [make_user(f"cap{i}@example.com") for i in range(4)]
    for u in users:
        qualify(u)
    results = race(lambda: pool_members_add(pool_id=pool.id, worker_ids=[users[0].id, users[1].id]),
                   lambda: pool_members_add(pool_id=pool.id, worker_ids=[users[2].id, users[3].id]))
    assert sum(isinstance(r, Conflict) for r in results) == 1, results
    assert PoolMembership.objects.filter(pool=pool, status="active").count() == 2
