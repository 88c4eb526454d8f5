"""Client API: Api-Key authentication, projects, isolation between clients, pause/resume, agreement."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tasks.models import ClientAPIKey, Project
from tasks.services.clients import client_api_key_revoke
from tests.tasks.client_support import PROJECT, ClientSession, make_project, pair
from workers.models import Pool, Skill

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab():
    return ClientSession("Lab A")


@pytest.fixture
def rival():
    return ClientSession("Lab B")


def test_missing_unknown_malformed_and_revoked_keys_are_401(api, lab):
    assert api.get("/api/v1/projects/").status_code == 401
    response = api.get("/api/v1/projects/", HTTP_AUTHORIZATION="Api-Key nope.nope")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert api.get("/api/v1/projects/", HTTP_AUTHORIZATION="Api-Key garbage").status_code == 401
    # A forged key with a real prefix but the wrong secret.
    forged = lab.key.split(".")[0] + ".x" * 16
    assert api.get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Api-Key {forged}").status_code == 401
    assert lab.get("/api/v1/projects/").status_code == 200
    client_api_key_revoke(key_id=lab.key_row.pk)
    response = lab.get("/api/v1/projects/")
    assert response.status_code == 401, response.content
    assert "revoked" in response.json()["error"]["message"]


def test_expired_key_and_inactive_client_are_401(lab):
    ClientAPIKey.objects.filter(pk=lab.key_row.pk).update(expiry_date=timezone.now() - timedelta(seconds=1))
    assert lab.get("/api/v1/projects/").status_code == 401
    ClientAPIKey.objects.filter(pk=lab.key_row.pk).update(expiry_date=None)
    assert lab.get("/api/v1/projects/").status_code == 200
    lab.client_row.is_active = False
    lab.client_row.save()
    assert lab.get("/api/v1/projects/").status_code == 401


def test_session_token_of_a_person_is_not_a_client(person):
    worker = person("w@example.com")
    assert worker.get("/api/v1/projects/").status_code == 401


def test_last_used_at_written_at_most_once_a_minute(lab, django_assert_max_num_queries):
    assert ClientAPIKey.objects.get(pk=lab.key_row.pk).last_used_at is None
    lab.get("/api/v1/projects/")
    first = ClientAPIKey.objects.get(pk=lab.key_row.pk).last_used_at
    assert first is not None
    lab.get("/api/v1/projects/")
    assert ClientAPIKey.objects.get(pk=lab.key_row.pk).last_used_at == first
    ClientAPIKey.objects.filter(pk=lab.key_row.pk).update(last_used_at=first - timedelta(minutes=2))
    lab.get("/api/v1/projects/")
    assert ClientAPIKey.objects.get(pk=lab.key_row.pk).last_used_at > first - timedelta(minutes=2)


def test_create_project_normalises_schema_and_resolves_skills_and_pool(lab):
    Skill.objects.create(slug="python", name="Python")
    pool = Pool.objects.create(name="Senior Python")
    response = lab.post("/api/v1/projects/", dict(PROJECT, required_qualifications=["python"], pool=pool.pk))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["label_schema"] == {"allow_tie": True, "strength_scale": 3, "require_reason": False}
    assert body["required_qualifications"] == ["python"]
    assert body["pool"] == pool.pk
    assert body["status"] == "active"
    assert body["progress"] == {"tasks": 0, "complete": 0, "gold": 0}
    project = Project.objects.get(pk=body["id"])
    assert project.client == lab.client_row


@pytest.mark.parametrize(("change", "field"), [
    ({"label_schema": {"strength_scale": 0}}, "label_schema.strength_scale"),
    ({"task_type": "flags", "label_schema": {}}, "label_schema.taxonomy"),
    ({"task_type": "rating", "label_schema": {"min": 5, "max": 1}}, "label_schema.max"),
    ({"task_type": "essay"}, "task_type"),
    ({"required_qualifications": ["cobol"]}, "required_qualifications"),
    ({"pool": 999999}, "pool"),
    ({"overlap": 0}, "overlap"),
    ({"reward_cents": -5}, "reward_cents"),
    ({"data_use_statement": ""}, "data_use_statement"),
    ({"lease_seconds": 5}, "lease_seconds"),
    ({"gold_share": 1.5}, "gold_share"),
    ({"overlap": 5, "max_overlap": 3}, "max_overlap"),
])
def test_invalid_project_is_400_naming_the_field_and_stores_nothing(lab, change, field):
    response = lab.post("/api/v1/projects/", dict(PROJECT, **change))
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()
    assert not Project.objects.exists()


def test_list_shows_only_own_projects_with_progress(lab, rival):
    mine = make_project(lab.client_row)
    make_project(rival.client_row, name="theirs")
    lab.upload_jsonl(mine.pk, [pair(1), pair(2), pair(3, gold={"choice": "a"})])
    body = lab.get("/api/v1/projects/").json()
    assert [p["id"] for p in body["results"]] == [mine.pk]
    assert body["results"][0]["progress"] == {"tasks": 2, "complete": 0, "gold": 1}


@pytest.mark.parametrize(("method", "suffix"), [
    ("get", ""), ("post", "pause/"), ("post", "resume/"), ("post", "tasks/"), ("get", "results/"),
    ("get", "results/?format=jsonl"), ("get", "agreement/"), ("get", "export/preferences.jsonl"),
    ("get", "export/results.csv"),
])
def test_another_clients_project_is_404_everywhere(lab, rival, method, suffix):
    theirs = make_project(rival.client_row)
    rival.upload_jsonl(theirs.pk, [pair(1)])
    path = f"/api/v1/projects/{theirs.pk}/{suffix}"
    if suffix == "tasks/":
        response = lab.upload_jsonl(theirs.pk, [pair(2)])
    else:
        response = getattr(lab, method)(path)
    assert response.status_code == 404, (path, response.content)
    assert response.json()["error"]["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.status == "active"
    assert theirs.tasks.count() == 1


def test_pause_and_resume(lab):
    project = make_project(lab.client_row)
    response = lab.post(f"/api/v1/projects/{project.pk}/pause/")
    assert response.status_code == 200 and response.json()["status"] == "paused"
    assert lab.post(f"/api/v1/projects/{project.pk}/pause/").json()["status"] == "paused"  # idempotent
    assert lab.post(f"/api/v1/projects/{project.pk}/resume/").json()["status"] == "active"
    Project.objects.filter(pk=project.pk).update(status="completed")
    response = lab.post(f"/api/v1/projects/{project.pk}/pause/")
    assert response.status_code == 409
    assert Project.objects.get(pk=project.pk).status == "completed"


def test_agreement_404_until_quality_computed_it_then_its_figures(lab):
    project = make_project(lab.client_row)
    response = lab.get(f"/api/v1/projects/{project.pk}/agreement/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "agreement_not_computed"
    from quality import models as quality_models
    quality_models.ProjectAgreement.objects.create(project=project, alpha=0.71, level="nominal", fleiss_kappa=0.69,
                                                   n_tasks=40, n_judgments=120, computed_at=timezone.now())
    body = lab.get(f"/api/v1/projects/{project.pk}/agreement/").json()
    assert body["alpha"] == 0.71 and body["level"] == "nominal" and body["n_judgments"] == 120


def test_create_client_key_command_prints_a_working_key_once(api):
    import io

    from django.core.management import call_command

    out, err = io.StringIO(), io.StringIO()
    call_command("create_client_key", "Acme Lab", stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert "created client 'Acme Lab'" in err.getvalue()
    assert api.get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Api-Key {key}").status_code == 200
    row = ClientAPIKey.objects.get(client__name="Acme Lab")
    assert key not in (row.hashed_key, row.id)  # only the hash is stored
    call_command("create_client_key", "Acme Lab", stdout=io.StringIO(), stderr=io.StringIO())
    assert ClientAPIKey.objects.filter(client__name="Acme Lab").count() == 2
