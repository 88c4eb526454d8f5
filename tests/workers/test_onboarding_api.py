"""Signup to "qualified" through the API with real allauth tokens; PATCH /me validation."""

import pytest
from django.conf import settings

from tests.conftest import Person, signup_and_verify
from tests.workers.factories import skill
from tests.workers.quizkit import answers_for, make_quiz
from workers.models import WorkerProfile

pytestmark = pytest.mark.django_db

PROFILE = {"display_name": "Ada L.", "country": "in", "timezone": "Asia/Kolkata", "skills": ["python"]}


def signed_up(api, email):
    from marketplace.models import User

    token = signup_and_verify(api, email)
    return Person(User.objects.get(email=email), token)


def test_signup_verify_profile_quiz_then_me_shows_qualified_with_skill_and_score(api):
    make_quiz("python")
    worker = signed_up(api, "flow@example.com")

    me = worker.get("/api/v1/me/").json()
    assert me["onboarding"]["state"] == "email_verified"
    assert me["onboarding"]["missing"][:5] == ["display_name", "country", "timezone", "skills", "terms"]
    assert me["terms"] == {"current_version": settings.TERMS_VERSION, "accepted": False}

    response = worker.patch("/api/v1/me/", {**PROFILE, "accepted_terms_version": settings.TERMS_VERSION})
    assert response.status_code == 200, response.content
    me = response.json()
    assert me["onboarding"]["state"] == "profile_complete"
    assert me["onboarding"]["missing"] == ["qualification", "payout_account"]
    assert me["profile"]["country"] == "IN" and me["profile"]["skills"] == ["python"]
    assert me["profile"]["accepted_terms_at"] is not None

    attempt = worker.post("/api/v1/quizzes/python/attempts/")
    assert attempt.status_code == 201, attempt.content
    result = worker.post(f"/api/v1/quiz-attempts/{attempt.json()['id']}/submit/",
                         {"answers": answers_for(attempt.json()["id"], right=True)})
    assert result.status_code == 200, result.content
    assert result.json() == {"score": 1.0, "passed": True, "retry_after": None}

    me = worker.get("/api/v1/me/").json()
    assert me["onboarding"]["state"] == "qualified"
    assert me["onboarding"]["missing"] == ["payout_account"]
    assert [(q["skill"], q["score"]) for q in me["qualifications"]] == [("python", 1.0)]
    assert me["qualifications"][0]["expires_at"] is not None
    assert "quality_standing" in me


@pytest.mark.parametrize(("body", "field"), [
    ({"skills": ["python", "cobol"]}, "skills"),
    ({"country": "XX"}, "country"),
    ({"country": "DEU"}, "country"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"accepted_terms_version": "1999-01"}, "accepted_terms_version"),
    ({"notify_new_work": "perhaps"}, "notify_new_work"),
    ({"skills": "python"}, "skills"),
    ({"display_name": "x" * 81}, "display_name"),
])
def test_patch_me_bad_field_is_400_naming_it_and_changes_nothing(person, body, field):
    skill("python")
    worker = person("bad@example.com")
    assert worker.patch("/api/v1/me/", {"display_name": "Before"}).status_code == 200
    response = worker.patch("/api/v1/me/", {"display_name": "After", **body} if field != "display_name" else body)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    profile = WorkerProfile.objects.get(user=worker.user)
    assert profile.display_name == "Before" and profile.country == "" and not profile.skills.exists()


def test_get_me_creates_nothing_and_patch_creates_profile_lazily(person):
    worker = person("lazy@example.com")
    me = worker.get("/api/v1/me/").json()
    assert me["profile"]["notify_new_work"] is True and me["qualifications"] == []
    assert not WorkerProfile.objects.filter(user=worker.user).exists()
    assert worker.patch("/api/v1/me/", {"notify_new_work": False}).json()["profile"]["notify_new_work"] is False


def test_me_needs_a_session(api):
    assert api.get("/api/v1/me/").status_code in (401, 403)


def test_me_shows_the_quality_standing_from_the_quality_app(person):
    from django.utils import timezone

    from quality.models import WorkerStanding

    worker = person("standing@example.com")
    assert worker.get("/api/v1/me/").json()["quality_standing"] is None
    # n_judgments at the fast rule's min_n: a watch from fewer is not shown (issue 30 item 7).
    WorkerStanding.objects.create(worker=worker.user, project=None, status="watch", computed_at=timezone.now(),
                                  n_judgments=10,
                                  reasons=[{"rule": "fast", "level": "watch", "message": "Median time is short."}])
    standing = worker.get("/api/v1/me/").json()["quality_standing"]
    assert standing["status"] == "watch" and standing["reasons"][0]["rule"] == "fast"
