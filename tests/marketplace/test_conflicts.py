"""Every 409 names what conflicts: a code, a message naming the row, and the conflicting field or id.
A constraint that catches what no service checked answers with the model, fields and constraint, never
the old "conflicts with the current state"."""

import ast
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction

from marketplace.api import integrity
from tests.conftest import ROOT

APPS = ("marketplace", "workers", "tasks", "quality", "payments")


@pytest.mark.django_db(transaction=True)
def test_a_second_quiz_for_a_skill_is_a_409_naming_the_skill(ops):
    from workers.models import Quiz, Skill

    skill = Skill.objects.create(slug="rust", name="Rust")
    Quiz.objects.create(skill=skill, slug="rust", title="Rust")
    response = ops.post("/api/v1/quizzes/", {"slug": "rust-2", "skill": "rust", "title": "Rust again"})
    assert response.status_code == 409, response.content
    error = response.json()["error"]
    assert error["code"] == "already_exists"
    assert "quiz" in error["message"] and "skill" in error["message"]
    assert set(error["fields"]) == {"skill"} and error["constraint"]
    assert Quiz.objects.count() == 1


@pytest.mark.django_db
def test_a_check_constraint_names_its_rule_and_fields():
    from tasks.models import Project
    from tests.tasks.test_queue_factories import make_project

    project = make_project(overlap=1)
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        Project.objects.filter(pk=project.pk).update(overlap=0)
    refusal = integrity.describe(caught.value)
    assert refusal.code == "constraint_violated"
    assert refusal.constraint == "project_overlap_1_50" and "overlap" in refusal.fields
    assert "project_overlap_1_50" in refusal.message


@pytest.mark.django_db
def test_a_unique_constraint_names_its_fields():
    from marketplace.models import User

    User.objects.create_user(email="a@example.com", password="x-long-password")
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        User.objects.create(email="a@example.com")
    refusal = integrity.describe(caught.value)
    assert refusal.code == "already_exists" and set(refusal.fields) == {"email"}, refusal


def _py_files():
    for app in APPS:
        yield from (p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts)


def test_the_generic_conflict_message_is_gone():
    for path in [*_py_files(), ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        assert "conflicts with the current state" not in path.read_text(), path


def test_every_conflict_raised_in_code_has_a_code_and_names_what_conflicts():
    """Each Conflict(...) has code=..., and a message built from the row (an f-string) or extra ids."""
    missing = []
    for path in _py_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Conflict":
                keywords = {k.arg for k in node.keywords}
                names_row = "extra" in keywords or any(isinstance(a, ast.JoinedStr) for a in node.args)
                if "code" not in keywords or not names_row:
                    missing.append(f"{Path(path).relative_to(ROOT)}:{node.lineno}")
    assert missing == []
