"""Ops endpoints: pools and members, suspensions, quiz authoring; workers are refused everywhere here."""

import pytest

from tests.workers.factories import qualify, ready_worker, skill
from tests.workers.quizkit import make_quiz
from workers import selectors
from workers.models import Pool, PoolMembership, Question, Quiz, WorkerAuditEvent

pytestmark = pytest.mark.django_db


def test_worker_gets_403_on_every_ops_endpoint_and_nothing_changes(person):
    quiz = make_quiz()
    pool = Pool.objects.create(name="P")
    worker = person("w@example.com")
    victim = ready_worker("victim@example.com")
    question = quiz.questions.first()
    calls = [
        ("get", "/api/v1/pools/", None), ("post", "/api/v1/pools/", {"name": "Mine"}),
        ("get", f"/api/v1/pools/{pool.id}/", None), ("patch", f"/api/v1/pools/{pool.id}/", {"capacity": 1}),
        ("delete", f"/api/v1/pools/{pool.id}/", None),
        ("get", f"/api/v1/pools/{pool.id}/members/", None),
        ("post", f"/api/v1/pools/{pool.id}/members/", {"worker_ids": [worker.user.id]}),
        ("delete", f"/api/v1/pools/{pool.id}/members/", {"worker_ids": [worker.user.id]}),
        ("post", f"/api/v1/workers/{victim.id}/suspend/", {"reason": "x"}),
        ("post", f"/api/v1/workers/{victim.id}/reinstate/", {"reason": "x"}),
        ("post", "/api/v1/quizzes/", {"slug": "js", "skill": "python", "title": "t"}),
        ("get", "/api/v1/quizzes/python/", None), ("patch", "/api/v1/quizzes/python/", {"pass_mark": 0.1}),
        ("delete", "/api/v1/quizzes/python/", None),
        ("get", "/api/v1/quizzes/python/questions/", None),
        ("post", "/api/v1/quizzes/python/questions/", {"kind": "single"}),
        ("get", f"/api/v1/quiz-questions/{question.id}/", None),
        ("patch", f"/api/v1/quiz-questions/{question.id}/", {"weight": 9}),
        ("delete", f"/api/v1/quiz-questions/{question.id}/", None),
    ]
    for method, path, body in calls:
        response = worker.get(path) if method == "get" else getattr(worker, method)(path, body)
        assert response.status_code == 403, (method, path, response.status_code)
        assert "correct" not in response.content.decode()
    assert Pool.objects.count() == 1 and not PoolMembership.objects.exists()
    assert Quiz.objects.get().pass_mark == 0.75 and Question.objects.count() == 12
    assert selectors.worker_claim_blockers(user=victim) == []


def test_ops_build_a_pool_by_rule_within_capacity_then_remove(ops):
    skill("python")
    strong = [ready_worker(f"strong{i}@example.com") for i in range(3)]
    weak = ready_worker("weak@example.com")
    qualify(weak, score=0.5)
    response = ops.post("/api/v1/pools/", {"name": "Python raters", "required_skills": ["python"], "capacity": 2})
    assert response.status_code == 201, response.content
    pool_id = response.json()["id"]

    full = ops.post(f"/api/v1/pools/{pool_id}/members/", {"rule": {"skill": "python", "min_score": 0.8}})
    assert full.status_code == 409 and full.json()["error"]["code"] == "pool_full"
    assert not PoolMembership.objects.exists()  # all or nothing

    ops.patch(f"/api/v1/pools/{pool_id}/", {"capacity": 3})
    added = ops.post(f"/api/v1/pools/{pool_id}/members/", {"rule": {"skill": "python", "min_score": 0.8},
                                                          "reason": "launch"})
    assert added.status_code == 200, added.content
    assert sorted(added.json()["added"]) == sorted(u.id for u in strong)
    assert ops.get(f"/api/v1/pools/{pool_id}/").json()["active_members"] == 3
    again = ops.post(f"/api/v1/pools/{pool_id}/members/", {"worker_ids": [strong[0].id]}).json()
    assert again == {"added": [], "already": [strong[0].id]}

    removed = ops.delete(f"/api/v1/pools/{pool_id}/members/", {"worker_ids": [strong[0].id, weak.id]}).json()
    assert removed == {"removed": [strong[0].id], "not_members": [weak.id]}
    assert selectors.worker_active_pool_ids(user=strong[0]) == set()
    assert WorkerAuditEvent.objects.filter(action="pool_add").count() == 3
    assert WorkerAuditEvent.objects.filter(action="pool_remove", worker=strong[0]).count() == 1


@pytest.mark.parametrize(("body", "field"), [
    ({}, "worker_ids"),
    ({"worker_ids": [1], "rule": {"skill": "python", "min_score": 0.5}}, "worker_ids"),
    ({"worker_ids": [987654]}, "worker_ids"),
    ({"rule": {"skill": "cobol", "min_score": 0.5}}, "rule.skill"),
    ({"rule": {"skill": "python", "min_score": 2}}, "rule"),
    ({"worker_ids": "all"}, "worker_ids"),
])
def test_bad_member_changes_are_400_naming_the_field(ops, body, field):
    skill("python")
    pool = Pool.objects.create(name="P")
    response = ops.post(f"/api/v1/pools/{pool.id}/members/", body)
    assert response.status_code == 400, response.content
    assert any(k.startswith(field) for k in response.json()["error"]["fields"]), response.json()
    assert not PoolMembership.objects.exists()


def test_pool_requiring_a_skill_refuses_unqualified_worker(ops):
    pool = Pool.objects.create(name="JS")
    pool.required_skills.add(skill("javascript"))
    py_only = ready_worker("py@example.com")
    response = ops.post(f"/api/v1/pools/{pool.id}/members/", {"worker_ids": [py_only.id]})
    assert response.status_code == 400 and "javascript" in response.json()["error"]["message"]
    assert ops.post("/api/v1/pools/999999/members/", {"worker_ids": [py_only.id]}).status_code == 404


def test_ops_suspend_and_reinstate_through_the_api_with_audit(ops, person):
    worker = ready_worker("s@example.com")
    response = ops.post(f"/api/v1/workers/{worker.id}/suspend/", {"reason": "bot-like timing"})
    assert response.json() == {"worker": worker.id, "status": "suspended"}
    assert [b["code"] for b in selectors.worker_claim_blockers(user=worker)] == ["suspended"]
    assert ops.post(f"/api/v1/workers/{worker.id}/suspend/", {}).status_code == 400  # reason required
    assert ops.post("/api/v1/workers/999999/suspend/", {"reason": "x"}).status_code == 404
    assert ops.post(f"/api/v1/workers/{worker.id}/reinstate/", {"reason": "ok"}).json()["status"] == "active"
    event = WorkerAuditEvent.objects.filter(worker=worker).order_by("id").first()
    assert (event.action, event.actor_id, event.reason) == ("suspend", ops.user.id, "bot-like timing")


def test_ops_author_a_quiz_and_questions_with_validation(ops, person):
    skill("javascript")
    created = ops.post("/api/v1/quizzes/", {"slug": "javascript", "skill": "javascript", "title": "JS",
                                            "questions_per_attempt": 2, "pass_mark": 0.5})
    assert created.status_code == 201, created.content
    bad = [({"kind": "single", "prompt": "p", "options": [{"key": "a", "text": "x"}, {"key": "b", "text": "y"}],
             "correct": ["c"]}, "correct"),
           ({"kind": "single", "prompt": "p", "options": [{"key": "a", "text": "x"}, {"key": "b", "text": "y"}],
             "correct": ["a", "b"]}, "correct"),
           ({"kind": "pick_better", "prompt": "p", "correct": ["a"],
             "options": [{"key": "a", "code": "x"}, {"key": "b", "code": "y"}, {"key": "c", "code": "z"}]}, "options"),
           ({"kind": "single", "prompt": "p", "options": [{"key": "a", "text": "x"}, {"key": "a", "text": "y"}],
             "correct": ["a"]}, "options[1].key"),
           ({"kind": "essay", "prompt": "p", "options": [], "correct": []}, "kind")]
    for body, field in bad:
        response = ops.post("/api/v1/quizzes/javascript/questions/", body)
        assert response.status_code == 400, (body, response.content)
        assert field in response.json()["error"]["fields"], (field, response.json())
    assert not Question.objects.exists()
    good = ops.post("/api/v1/quizzes/javascript/questions/", {
        "kind": "pick_better", "prompt": "Which avoids the bug?", "correct": ["b"],
        "options": [{"key": "a", "code": "for (var i=0;i<=n;i++)"}, {"key": "b", "code": "for (let i=0;i<n;i++)"}]})
    assert good.status_code == 201 and good.json()["correct"] == ["b"]  # ops see keys
    assert ops.get("/api/v1/quizzes/javascript/").json()["question_count"] == 1
    assert ops.patch(f"/api/v1/quiz-questions/{good.json()['id']}/", {"correct": ["z"]}).status_code == 400

    worker = person("taker@example.com")
    attempt = worker.post("/api/v1/quizzes/javascript/attempts/")
    assert attempt.status_code == 201 and len(attempt.json()["questions"]) == 1
    assert ops.delete("/api/v1/quizzes/javascript/").status_code == 409  # has attempts: unpublish instead
    assert ops.patch("/api/v1/quizzes/javascript/", {"is_published": False}).status_code == 200
    assert worker.get("/api/v1/quizzes/").json() == []
