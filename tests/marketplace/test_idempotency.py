"""Idempotency-Key on API writes (marketplace.idempotency), like Stripe's: a repeat gets the first answer,
a reuse for another request is refused, keys are per principal, and twins at once write once."""

import threading

import pytest

from marketplace.models import IdempotencyKey
from tasks.models import Assignment
from tests.tasks.test_queue_factories import make_project, make_tasks
from tests.workers.factories import complete_profile, qualify

CLAIM = "/api/v1/assignments/claim/"


@pytest.fixture
def worker(person):
    def make(email="w@example.com"):
        who = person(email)
        complete_profile(who.user)
        qualify(who.user)
        return who
    return make


def claim(who, key=None, body=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return who.post(CLAIM, body if body is not None else {}, **headers)


@pytest.mark.django_db
def test_a_repeated_write_gets_the_first_answer_and_writes_once(worker):
    make_tasks(make_project(overlap=3), 5)
    alice = worker()
    first = claim(alice, "claim-7f3a")
    assert first.status_code == 201, first.content
    again = claim(alice, "claim-7f3a")
    assert again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert Assignment.objects.count() == 1
    assert claim(alice, "claim-8b1c").json()["id"] != first.json()["id"]  # a new key is a new claim
    assert claim(alice).json()["id"] not in (first.json()["id"],)  # no key: as before


@pytest.mark.django_db
def test_the_same_key_for_another_request_is_refused_and_changes_nothing(worker):
    project = make_project(overlap=3)
    make_tasks(project, 5)
    alice = worker()
    assert claim(alice, "k1", {}).status_code == 201
    reused = claim(alice, "k1", {"project": project.pk})
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused" and "Idempotency-Key" in reused.json()["error"]["fields"]
    assert Assignment.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_per_principal(worker):
    make_tasks(make_project(overlap=3), 5)
    alice, mallory = worker("alice@example.com"), worker("mallory@example.com")
    mine = claim(alice, "shared-key").json()
    theirs = claim(mallory, "shared-key")
    assert theirs.status_code == 201 and theirs.json()["id"] != mine["id"]  # never alice's stored answer
    assert Assignment.objects.filter(worker=mallory.user).count() == 1


@pytest.mark.django_db
def test_an_error_is_not_stored_so_the_corrected_request_runs(worker):
    make_tasks(make_project(overlap=1), 1)
    alice = worker()
    aid = claim(alice).json()["id"]
    url = f"/api/v1/assignments/{aid}/submit/"
    bad = alice.post(url, {"answer": {"choice": "z"}}, HTTP_IDEMPOTENCY_KEY="submit-1")
    assert bad.status_code == 400 and not IdempotencyKey.objects.exists()
    good = alice.post(url, {"answer": {"choice": "a"}}, HTTP_IDEMPOTENCY_KEY="submit-1")  # same key, corrected body
    assert good.status_code == 200 and IdempotencyKey.objects.count() == 1


@pytest.mark.django_db
def test_a_malformed_key_is_a_400(worker):
    alice = worker()
    response = claim(alice, "x" * 256)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_idempotency_key"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twins_at_once_write_once_and_answer_alike(worker):
    """Two requests with one key at the same moment (threads, own connections): both run, the unique
    constraint lets one commit, the other's write is rolled back and it answers the stored answer."""
    from django.db import connection

    make_tasks(make_project(overlap=3), 10)
    alice = worker()
    answers = []
    barrier = threading.Barrier(2)

    def twin():
        try:
            barrier.wait()
            response = claim(alice, "twin-key")
            answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=twin) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [code for code, _ in answers] == [201, 201], answers
    assert answers[0][1] == answers[1][1]
    assert Assignment.objects.count() == 1 and IdempotencyKey.objects.count() == 1
