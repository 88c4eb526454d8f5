"""The admin (worker list filters, pool actions, question validation) and the demo seed."""

import io

import pytest
from django.test import Client

from tests.conftest import make_user
from tests.workers.factories import complete_profile, ready_worker
from tests.workers.quizkit import answers_for
from workers import demo, selectors
from workers.models import Pool, PoolMembership, Question, Quiz, WorkerAuditEvent, WorkerProfile
from workers.services.quizzes import question_validate, quiz_attempt_start, quiz_attempt_submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(make_user("ops-admin@example.com", groups=("ops",)))
    return client


def test_state_filter_in_sql_agrees_with_the_derived_state():
    from workers import services

    make_user("reg@example.com", verified=False)
    complete_profile(make_user("complete@example.com"))
    ready_worker("qualified@example.com")
    active = ready_worker("active@example.com")
    services.worker_payouts_enabled_set(user_id=active.id, enabled=True)
    services.worker_suspend(worker_id=ready_worker("susp@example.com").id, reason="r")
    make_user("bare@example.com")
    from marketplace.models import User

    for user in User.objects.all():
        WorkerProfile.objects.get_or_create(user=user)
    seen = set()
    for profile in WorkerProfile.objects.select_related("user"):
        state = selectors.worker_onboarding_get(user=profile.user)["state"]
        seen.add(state)
        in_state = selectors.worker_profiles_in_state(queryset=WorkerProfile.objects.all(), state=state)
        assert in_state.filter(pk=profile.pk).exists(), (profile.user.email, state)
        others = {"registered", "email_verified", "profile_complete", "qualified", "active", "suspended"} - {state}
        for other in others:
            assert not selectors.worker_profiles_in_state(queryset=WorkerProfile.objects.all(), state=other).filter(
                pk=profile.pk).exists(), (profile.user.email, state, other)
    assert seen == {"registered", "email_verified", "profile_complete", "qualified", "active", "suspended"}


def test_admin_worker_list_filters_render(admin_client):
    ready_worker("listed@example.com")
    pool = Pool.objects.create(name="P")
    for query in ("", "?state=qualified", "?qualified_in=python", f"?pool={pool.id}", "?standing=good", "?q=listed"):
        response = admin_client.get(f"/admin/workers/workerprofile/{query}")
        assert response.status_code == 200, query
    assert b"listed@example.com" in admin_client.get("/admin/workers/workerprofile/?state=qualified").content
    assert b"listed@example.com" not in admin_client.get("/admin/workers/workerprofile/?state=active").content


def test_admin_pool_action_adds_selected_workers_and_suspend_needs_reason(admin_client):
    worker = ready_worker("act@example.com")
    pool = Pool.objects.create(name="Python raters")
    profile = WorkerProfile.objects.get(user=worker)
    url = "/admin/workers/workerprofile/"
    admin_client.post(url, {"action": "add_to_pool", "_selected_action": [profile.pk], "pool": pool.id, "reason": "x"})
    assert PoolMembership.objects.filter(pool=pool, worker=worker, status="active").exists()
    admin_client.post(url, {"action": "suspend", "_selected_action": [profile.pk], "reason": ""})
    assert WorkerProfile.objects.get(pk=profile.pk).status == "active"
    admin_client.post(url, {"action": "suspend", "_selected_action": [profile.pk], "reason": "spam"})
    assert WorkerProfile.objects.get(pk=profile.pk).status == "suspended"
    assert WorkerAuditEvent.objects.filter(worker=worker, action="suspend", reason="spam").exists()


def test_demo_seed_is_idempotent_valid_and_passable():
    lines = demo.seed()
    assert any("Quiz python" in line for line in lines) and any("Quiz javascript" in line for line in lines)
    counts = {q.slug: q.questions.count() for q in Quiz.objects.all()}
    demo.seed()
    assert {q.slug: q.questions.count() for q in Quiz.objects.all()} == counts
    assert counts["python"] >= 12 and counts["javascript"] >= 12
    for question in Question.objects.all():
        options, correct = question_validate(kind=question.kind, options=question.options, correct=question.correct)
        assert (options, correct) == (question.options, question.correct), question.prompt
    assert Pool.objects.get(name="Python raters").required_skills.filter(slug="python").exists()

    user = make_user("demo-taker@example.com")
    attempt = quiz_attempt_start(worker_id=user.id, quiz_slug="python")
    assert len(attempt.drawn) == 8
    assert quiz_attempt_submit(worker_id=user.id, attempt_id=attempt.id,
                               answers=answers_for(attempt.id, right=True)).passed is True


def test_admin_quiz_page_with_question_inline_renders_and_refuses_a_bad_key(admin_client):
    demo.seed()
    quiz = Quiz.objects.get(slug="python")
    assert admin_client.get(f"/admin/workers/quiz/{quiz.id}/change/").status_code == 200
    before = Question.objects.count()
    response = admin_client.post("/admin/workers/question/add/", {
        "quiz": quiz.id, "kind": "single", "prompt": "p", "code": "", "weight": 1, "explanation": "",
        "is_active": "on", "options": '[{"key": "a", "text": "x"}, {"key": "b", "text": "y"}]', "correct": '["c"]'})
    assert response.status_code == 200 and b"correct" in response.content  # form redisplayed with the error
    assert Question.objects.count() == before


def test_demo_seed_tolerates_a_users_copy_of_a_demo_question():
    """docs/workers.md's authoring example adds a copy of a demo question; seed_demo must still run (issue 32)."""
    demo.seed()
    original = Question.objects.filter(quiz__slug="python").order_by("pk").first()
    copy = Question.objects.create(quiz=original.quiz, prompt=original.prompt, code=original.code, kind=original.kind,
                                   weight=original.weight, options=original.options, correct=original.correct)
    count = Question.objects.count()
    demo.seed()
    assert Question.objects.count() == count
    assert Question.objects.filter(pk=copy.pk).exists()


def test_staff_seed_tolerates_a_deleted_group():
    from django.contrib.auth.models import Group

    from marketplace import demo as marketplace_demo

    Group.objects.filter(name="finance").delete()
    marketplace_demo.seed_staff()
    assert Group.objects.filter(name="finance").exists()


def test_seed_demo_refuses_production_unless_allowed(settings):
    """The demo logins have public passwords (admin@example.com is a superuser): a DEBUG=0 stack (docker
    compose) never gets them unless asked explicitly (SEED_DEMO=1 -> --allow-production). Issue 32."""
    from django.contrib.auth import get_user_model
    from django.core.management import CommandError, call_command

    users = get_user_model().objects
    settings.DEBUG = False
    with pytest.raises(CommandError, match="refuses to run with DEBUG=0.*--allow-production"):
        call_command("seed_demo", stdout=io.StringIO())
    assert not users.filter(email="admin@example.com").exists() and not Quiz.objects.exists()

    call_command("seed_demo", "--allow-production", stdout=io.StringIO())
    assert users.get(email="admin@example.com").is_superuser


def test_seed_demo_runs_under_debug(settings):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    settings.DEBUG = True
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert "embedded demo ready" in out.getvalue()
    assert get_user_model().objects.filter(email="ops@example.com").exists()
