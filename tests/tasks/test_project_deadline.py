"""Issue 30 item 10: a project's optional deadline, set at create or changed with PATCH through the client
API; a past, malformed or non-date deadline is a 400 naming the field; another client's project is a 404."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tasks.models import Project
from tests.tasks.client_support import PROJECT, ClientSession, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab():
    return ClientSession("Lab A")


def test_a_future_deadline_is_stored_and_returned(lab):
    due = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    response = lab.post("/api/v1/projects/", dict(PROJECT, deadline=due.isoformat()))
    assert response.status_code == 201, response.content
    project = Project.objects.get(pk=response.json()["id"])
    assert project.deadline == due
    assert response.json()["deadline"] is not None
    assert lab.get(f"/api/v1/projects/{project.pk}/").json()["deadline"] == response.json()["deadline"]


def test_no_deadline_is_null(lab):
    response = lab.post("/api/v1/projects/", PROJECT)
    assert response.status_code == 201 and response.json()["deadline"] is None


@pytest.mark.parametrize("deadline", [
    (timezone.now() - timedelta(minutes=1)).isoformat(), "2001-01-01T00:00:00Z", "tomorrow", "2026-13-45", 12, [],
])
def test_a_past_or_malformed_deadline_at_create_is_a_400_naming_the_field(lab, deadline):
    response = lab.post("/api/v1/projects/", dict(PROJECT, deadline=deadline))
    assert response.status_code == 400, response.content
    assert "deadline" in response.json()["error"]["fields"]
    assert not Project.objects.exists()


def test_patch_sets_and_clears_the_deadline(lab):
    project = make_project(lab.client_row)
    due = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    response = lab.patch(f"/api/v1/projects/{project.pk}/", {"deadline": due.isoformat()})
    assert response.status_code == 200, response.content
    project.refresh_from_db()
    assert project.deadline == due
    response = lab.patch(f"/api/v1/projects/{project.pk}/", {"deadline": None})
    assert response.status_code == 200 and response.json()["deadline"] is None
    project.refresh_from_db()
    assert project.deadline is None


@pytest.mark.parametrize("body", [{"deadline": "2001-01-01T00:00:00Z"}, {"deadline": "soon"}, {}, {"name": "x"}])
def test_patch_with_a_past_missing_or_bad_deadline_is_a_400_and_changes_nothing(lab, body):
    due = timezone.now() + timedelta(days=2)
    project = make_project(lab.client_row, deadline=due)
    response = lab.patch(f"/api/v1/projects/{project.pk}/", body)
    assert response.status_code == 400, response.content
    assert "deadline" in response.json()["error"]["fields"]
    project.refresh_from_db()
    assert project.deadline == due


def test_another_clients_project_is_a_404(lab):
    rival = ClientSession("Lab B")
    project = make_project(rival.client_row)
    response = lab.patch(f"/api/v1/projects/{project.pk}/", {"deadline": None})
    assert response.status_code == 404
    response = lab.patch(f"/api/v1/projects/{project.pk}/",
                         {"deadline": (timezone.now() + timedelta(days=1)).isoformat()})
    assert response.status_code == 404
    project.refresh_from_db()
    assert project.deadline is None
