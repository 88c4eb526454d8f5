"""Quiz attempts: seeded draws, no key leaks, cooldown and cap, late and second submits, other workers."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from tests.workers.factories import complete_profile
from tests.workers.quizkit import KEYS, answers_for, make_quiz
from workers.models import Qualification, QuizAttempt
from workers.services.quizzes import quiz_attempt_start

pytestmark = pytest.mark.django_db


def start(worker, slug="python"):
    response = worker.post(f"/api/v1/quizzes/{slug}/attempts/")
    assert response.status_code == 201, response.content
    return response.json()


def submit(worker, attempt_id, answers):
    return worker.post(f"/api/v1/quiz-attempts/{attempt_id}/submit/", {"answers": answers})


def test_draw_is_seeded_random_subset_with_shuffled_options(person):
    quiz = make_quiz(per_attempt=4)
    worker = person("seed@example.com")
    first = quiz_attempt_start(worker_id=worker.user.id, quiz_slug=quiz.slug, seed=1)
    draw_1 = first.drawn
    QuizAttempt.objects.filter(pk=first.pk).delete()
    again = quiz_attempt_start(worker_id=worker.user.id, quiz_slug=quiz.slug, seed=1)
    assert again.drawn == draw_1  # same seed, same draw: an attempt can be reproduced
    QuizAttempt.objects.filter(pk=again.pk).delete()
    other = quiz_attempt_start(worker_id=worker.user.id, quiz_slug=quiz.slug, seed=2)
    assert {d["question"] for d in other.drawn} != {d["question"] for d in draw_1}
    assert len(draw_1) == 4 and len({d["question"] for d in draw_1}) == 4
    all_orders = [tuple(d["options"]) for d in draw_1 + other.drawn if len(d["options"]) == 3]
    assert len(set(all_orders)) > 1  # options are shuffled, not shown in authoring order


def test_two_workers_attempts_through_the_api_draw_from_the_bank(person):
    make_quiz(n_questions=12, per_attempt=4)
    seen = set()
    for i in range(4):
        attempt = start(person(f"w{i}@example.com"))
        ids = [q["id"] for q in attempt["questions"]]
        assert len(ids) == 4
        seen.update(ids)
    assert len(seen) > 4  # 4 attempts of 4 did not all draw the same 4 of 12 questions


def walk(value, path="$"):
    if isinstance(value, dict):
        for key, item in value.items():
            yield path, key, None
            yield from walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from walk(item, f"{path}[{i}]")
    else:
        yield path, None, value


def test_no_worker_facing_response_carries_an_answer_key(person):
    make_quiz()
    worker = person("leak@example.com")
    complete_profile(worker.user)
    responses = [worker.get("/api/v1/quizzes/"), worker.get("/api/v1/me/")]
    attempt = worker.post("/api/v1/quizzes/python/attempts/")
    responses += [attempt, worker.get(f"/api/v1/quiz-attempts/{attempt.json()['id']}/")]
    responses.append(worker.post("/api/v1/quizzes/python/attempts/"))  # 409: open attempt
    responses.append(submit(worker, attempt.json()["id"], {"999999": "a"}))  # 400
    responses.append(submit(worker, attempt.json()["id"], answers_for(attempt.json()["id"], right=False)))
    responses += [worker.get(f"/api/v1/quiz-attempts/{attempt.json()['id']}/"), worker.get("/api/v1/quizzes/"),
                  worker.post("/api/v1/quizzes/python/attempts/"), worker.get("/api/v1/me/")]  # 403 cooldown
    assert [r.status_code for r in responses] == [200, 200, 201, 200, 409, 400, 200, 200, 200, 403, 200]
    forbidden_keys = {"correct", "explanation", "key", "answer_key", "is_correct", "keys", "solution", "answers"}
    for response in responses:
        for path, key, value in walk(response.json()):
            assert key not in forbidden_keys, (response.request["PATH_INFO"], path, key)
            if isinstance(value, str):
                assert not any(k in value for k in KEYS), (path, value)
                assert "SECRET-EXPLANATION" not in value, (path, value)


def test_fail_sets_cooldown_then_cap_refuses_with_when_and_why(person):
    make_quiz(cooldown=3600, cap=2)
    worker = person("cool@example.com")
    attempt = start(worker)
    result = submit(worker, attempt["id"], answers_for(attempt["id"], right=False)).json()
    assert result["passed"] is False and result["score"] == 0.0 and result["retry_after"] is not None

    refused = worker.post("/api/v1/quizzes/python/attempts/")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "cooldown"
    when = datetime.fromisoformat(refused.json()["error"]["retry_after"].replace("Z", "+00:00"))
    assert when == datetime.fromisoformat(result["retry_after"].replace("Z", "+00:00"))
    assert timedelta(minutes=59) < when - timezone.now() <= timedelta(hours=1)
    assert QuizAttempt.objects.filter(worker=worker.user).count() == 1  # nothing was opened

    # The cooldown has passed (moved into the past rather than waiting).
    QuizAttempt.objects.filter(worker=worker.user).update(submitted_at=timezone.now() - timedelta(hours=2))
    attempt = start(worker)
    submit(worker, attempt["id"], answers_for(attempt["id"], right=False))
    QuizAttempt.objects.filter(worker=worker.user).update(submitted_at=timezone.now() - timedelta(hours=2))
    capped = worker.post("/api/v1/quizzes/python/attempts/")
    assert capped.status_code == 403 and capped.json()["error"]["code"] == "attempt_cap_reached"
    listing = worker.get("/api/v1/quizzes/").json()[0]
    assert listing["can_start"] is False and listing["blocker"]["code"] == "attempt_cap_reached"
    assert not Qualification.objects.filter(worker=worker.user).exists()


def test_late_submit_is_409_and_closes_the_attempt_ungraded(person, settings):
    make_quiz()
    worker = person("late@example.com")
    attempt = start(worker)
    QuizAttempt.objects.filter(pk=attempt["id"]).update(
        deadline=timezone.now() - timedelta(seconds=settings.WORKERS_QUIZ_SUBMIT_GRACE_SECONDS + 1))
    response = submit(worker, attempt["id"], answers_for(attempt["id"], right=True))
    assert response.status_code == 409 and response.json()["error"]["code"] == "late"
    row = QuizAttempt.objects.get(pk=attempt["id"])
    assert (row.status, row.score, row.passed) == ("expired", 0.0, False)
    assert not Qualification.objects.filter(worker=worker.user).exists()
    assert submit(worker, attempt["id"], answers_for(attempt["id"], right=True)).status_code == 409


def test_second_submit_is_409_and_does_not_regrade(person):
    make_quiz()
    worker = person("twice@example.com")
    attempt = start(worker)
    assert submit(worker, attempt["id"], answers_for(attempt["id"], right=True)).json()["passed"] is True
    again = submit(worker, attempt["id"], answers_for(attempt["id"], right=False))
    assert again.status_code == 409 and again.json()["error"]["code"] == "attempt_closed"
    assert QuizAttempt.objects.get(pk=attempt["id"]).score == 1.0
    assert Qualification.objects.get(worker=worker.user).score == 1.0


def test_bad_answers_are_400_naming_the_question_and_grade_nothing(person):
    make_quiz()
    worker = person("badans@example.com")
    attempt = start(worker)
    qid = str(attempt["questions"][0]["id"])
    for answers, field in (({qid: "z"}, f"answers.{qid}"), ({"12345678": "a"}, "answers.12345678"),
                           ([], "answers"), ({qid: 3}, f"answers.{qid}")):
        response = submit(worker, attempt["id"], answers)
        assert response.status_code == 400, response.content
        assert field in response.json()["error"]["fields"]
    assert QuizAttempt.objects.get(pk=attempt["id"]).status == "open"


def test_partial_answers_score_by_weight_and_pass_mark(person):
    make_quiz(pass_mark=0.99, per_attempt=4)
    worker = person("partial@example.com")
    attempt = start(worker)
    answers = answers_for(attempt["id"], right=True)
    first = next(iter(answers))
    del answers[first]  # unanswered counts as wrong
    result = submit(worker, attempt["id"], answers).json()
    assert 0 < result["score"] < 1 and result["passed"] is False


def test_another_workers_attempt_is_404_and_unknown_quiz_404(person):
    make_quiz()
    a, b = person("a@example.com"), person("b@example.com")
    attempt = start(a)
    assert b.get(f"/api/v1/quiz-attempts/{attempt['id']}/").status_code == 404
    response = submit(b, attempt["id"], answers_for(attempt["id"], right=True))
    assert response.status_code == 404
    assert QuizAttempt.objects.get(pk=attempt["id"]).status == "open"
    assert b.post("/api/v1/quizzes/nope/attempts/").status_code == 404


def test_pass_renews_qualification_and_expiry_follows_validity(person):
    quiz = make_quiz(validity_days=30)
    worker = person("renew@example.com")
    Qualification.objects.create(worker=worker.user, skill=quiz.skill, score=0.5,
                                 granted_at=timezone.now() - timedelta(days=400),
                                 expires_at=timezone.now() - timedelta(days=35))
    attempt = start(worker)
    submit(worker, attempt["id"], answers_for(attempt["id"], right=True))
    q = Qualification.objects.get(worker=worker.user)
    assert q.score == 1.0
    assert timedelta(days=29) < q.expires_at - timezone.now() <= timedelta(days=30)


def test_suspended_worker_cannot_start_a_quiz(person):
    from workers.services import worker_suspend

    make_quiz()
    worker = person("susp-quiz@example.com")
    worker_suspend(worker_id=worker.user.id, reason="fraud")
    response = worker.post("/api/v1/quizzes/python/attempts/")
    assert response.status_code == 403 and response.json()["error"]["code"] == "suspended"
    assert not QuizAttempt.objects.filter(worker=worker.user).exists()
