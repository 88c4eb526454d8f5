"""A submit never answers 200 without its credit (docs/queue.md). The credit runs up the app order, through
the judgment_approved hook (marketplace/events.py) that payments connects: whether payments' import breaks,
its credit raises or its receiver is missing, the submit fails with the one error body and stores nothing."""

import sys

import pytest
from rest_framework.test import APIClient

from marketplace import events
from payments.models import LedgerTransaction
from tasks.models import Assignment, Judgment, Task
from tests.tasks.test_queue_factories import make_project, make_tasks
from tests.workers.factories import complete_profile, qualify

CLAIM = "/api/v1/assignments/claim/"


@pytest.fixture
def claimed(person):
    """A live claim of a worker whose client answers a server error rather than raising it in the test."""
    who = person("credit@example.com")
    complete_profile(who.user, skills=("python",))
    qualify(who.user, "python")
    project = make_project(overlap=1)
    make_tasks(project, 1)
    response = who.post(CLAIM, {"project": project.pk})
    assert response.status_code == 201, response.content
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_X_SESSION_TOKEN=who.token)
    return client, response.json()["id"]


def _submit(client, assignment_id):
    return client.post(f"/api/v1/assignments/{assignment_id}/submit/", {"answer": {"choice": "a"}}, format="json")


def _nothing_stored(assignment_id):
    assignment = Assignment.objects.get(pk=assignment_id)
    assert assignment.status == Assignment.Status.LIVE  # still the worker's to submit once payments is back
    assert not Judgment.objects.exists()
    assert not LedgerTransaction.objects.filter(source_ref__startswith="judgment:").exists()
    assert Task.objects.get(pk=assignment.task_id).n_submitted == 0


def _server_error(response):
    assert response.status_code == 500, response.content
    assert response.json()["error"]["code"] == "server_error"


@pytest.mark.django_db
def test_given_payments_works_a_200_submit_has_its_credit(claimed):
    client, assignment_id = claimed
    response = _submit(client, assignment_id)
    assert response.status_code == 200, response.content
    judgment = Judgment.objects.get(assignment_id=assignment_id)
    assert LedgerTransaction.objects.filter(source_ref=f"judgment:{judgment.pk}").count() == 1


@pytest.mark.django_db
def test_when_the_credit_raises_the_submit_fails_and_stores_nothing(claimed, monkeypatch):
    import payments.services

    def refuse(**kwargs):
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr(payments.services, "earnings_credit_judgment", refuse)
    client, assignment_id = claimed
    _server_error(_submit(client, assignment_id))
    _nothing_stored(assignment_id)


@pytest.mark.django_db
def test_when_the_payments_import_breaks_the_submit_fails_and_stores_nothing(claimed, monkeypatch):
    # What a broken stripe install did: the old guard logged a warning and answered 200 uncredited.
    monkeypatch.setitem(sys.modules, "payments.services", None)  # `import payments.services` raises ImportError
    client, assignment_id = claimed
    _server_error(_submit(client, assignment_id))
    _nothing_stored(assignment_id)


@pytest.mark.django_db
def test_when_no_app_receives_the_credit_hook_the_submit_fails_and_stores_nothing(claimed, monkeypatch):
    monkeypatch.setattr(events.judgment_approved, "_receivers", [])
    client, assignment_id = claimed
    _server_error(_submit(client, assignment_id))
    _nothing_stored(assignment_id)
    with pytest.raises(events.HookNotConnected, match="payments"):
        events.judgment_approved.send(judgment=None)
