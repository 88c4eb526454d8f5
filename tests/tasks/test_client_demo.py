"""tasks.demo.seed(): idempotent, prints a working key, revokes the previous one."""

import pytest
from rest_framework.test import APIClient

from tasks import demo
from tasks.models import Task
from workers.models import Skill

pytestmark = pytest.mark.django_db


def _key(lines):
    return next(line for line in lines if line.startswith("Client API key")).rsplit(" ", 1)[1]


def test_seed_twice_prints_a_working_key_and_changes_no_tasks():
    Skill.objects.get_or_create(slug="python", defaults={"name": "Python"})
    first = _key(demo.seed())
    second_lines = demo.seed()
    second = _key(second_lines)
    api = APIClient()
    assert api.get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Api-Key {first}").status_code == 401
    response = api.get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Api-Key {second}")
    assert response.status_code == 200
    (project,) = response.json()["results"]
    assert project["required_qualifications"] == ["python"]
    assert project["progress"] == {"tasks": 18, "complete": 0, "gold": 2}
    assert Task.objects.count() == 20
    assert "(0 new)" in second_lines[1]
