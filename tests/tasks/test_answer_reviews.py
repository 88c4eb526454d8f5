"""Peer review of text answers (issue 29): a completed text task of a reviewing project gets one ranking task
over its answers, never served to their authors; the rankings' Bradley-Terry scores pick the best answer,
which the results give with its score, and each author's score is stored (quality.ExplanationScore)."""

import numpy as np
import pytest

from marketplace.models import OutboxEvent
from quality.jobs import task_consensus_compute
from quality.models import ExplanationScore, TaskConsensus
from quality.services.reviews import answer_scores
from tasks.jobs.reviews import task_review_create
from tasks.models import AnswerReview, Project, Task, TaskExclusion
from tasks.services.queue import assignment_claim
from tests.tasks.client_support import PROJECT, ClientSession
from tests.tasks.test_queue_api import submit, worker  # noqa: F401 (fixture)
from tests.tasks.test_queue_factories import make_project

pytestmark = pytest.mark.django_db
CLAIM = "/api/v1/assignments/claim/"
REVIEW = {"mode": "ranking", "min_answers": 3, "overlap": 2}
CODE = "def f(xs):\n    return sorted(set(xs))\n"
EXPLANATIONS = ["It sorts.", "Returns the distinct items of xs in ascending order.", "Removes duplicates."]


@pytest.fixture
def lab():
    return ClientSession("Review lab")


def _text_project(lab, review=REVIEW, overlap=3):
    project = make_project(task_type="text", overlap=overlap)
    Project.objects.filter(pk=project.pk).update(
        client=lab.client_row, label_schema={"min_length": 1, "max_length": 5000, "review": review})
    project.refresh_from_db()
    task = Task.objects.create(project=project, external_id="explain-1", overlap=overlap,
                               data={"code": CODE, "language": "python", "question": "What does f do?"})
    return project, task


def _answer(who, project, text):
    claim = who.post(CLAIM, {"project": project.pk})
    assert claim.status_code == 201, claim.content
    response = submit(who, claim.json()["id"], {"text": text})
    assert response.status_code == 200, response.content


def _run(job):
    """Run (then drop) the outbox's recorded jobs of this name, as the relay would."""
    events = list(OutboxEvent.objects.filter(job=job.name))
    for event in events:
        job.apply(args=event.args).get()
    OutboxEvent.objects.filter(pk__in=[e.pk for e in events]).delete()
    return len(events)


def test_three_answers_are_reviewed_by_others_and_the_best_is_the_result(lab, worker):  # noqa: F811
    project, task = _text_project(lab)
    writers = [worker(f"writer{i}@example.com") for i in range(3)]
    for who, text in zip(writers, EXPLANATIONS, strict=True):
        _answer(who, project, text)
    task.refresh_from_db()
    assert task.status == "complete"
    # One consensus job per submit (gold and real submits write alike, docs/security.md); the completed
    # task's hands down to tasks...
    assert _run(task_consensus_compute) == 3
    # ...which asks for review: once per consensus job that found the task complete (here all three ran
    # after the last submit; the review job is safe to run any number of times).
    events = list(OutboxEvent.objects.filter(job="tasks.jobs.reviews.task_review_create"))
    assert len(events) == 3 and all(event.args == [task.pk] for event in events)
    task_review_create.apply(args=(task.pk,))  # run once more: still one review
    assert _run(task_review_create) == 3
    review = AnswerReview.objects.get()
    assert AnswerReview.objects.count() == 1 and Task.objects.filter(project__review_of=project).count() == 1
    review_task = review.review_task
    assert review_task.project.task_type == "ranking" and review_task.overlap == 2
    assert review_task.data["responses"] == EXPLANATIONS
    assert set(review_task.data) == {"prompt", "language", "code", "responses"}  # no author in the data
    # Authors never get it, by project or from the general queue.
    for who in writers:
        assert who.post(CLAIM, {"project": review_task.project_id}).status_code == 204
        assert who.post(CLAIM, {}).status_code == 204
    # Two other workers rank; the hostile order is refused naming the field.
    reviewers = [worker(f"reviewer{i}@example.com") for i in range(2)]
    first = reviewers[0].post(CLAIM, {"project": review_task.project_id})
    assert first.status_code == 201 and first.json()["task"]["data"]["responses"] == EXPLANATIONS
    bad = submit(reviewers[0], first.json()["id"], {"order": [1, 1, 0]})
    assert bad.status_code == 400 and "answer.order" in bad.json()["error"]["fields"]
    assert submit(reviewers[0], first.json()["id"], {"order": [1, 2, 0]}).status_code == 200
    second = reviewers[1].post(CLAIM, {"project": review_task.project_id})
    assert submit(reviewers[1], second.json()["id"], {"order": [1, 0, 2]}).status_code == 200
    review_task.refresh_from_db()
    assert review_task.status == "complete"
    assert _run(task_consensus_compute) == 2  # one per review submit
    assert not OutboxEvent.objects.filter(job="tasks.jobs.reviews.task_review_create").exists()  # no review of reviews
    # The best answer (ranked first twice) is the text task's result, with its score.
    [row] = lab.get(f"/api/v1/projects/{project.pk}/results/").json()["results"]
    assert row["consensus"]["answer"]["text"] == EXPLANATIONS[1]
    scores = {s.worker.email: s for s in ExplanationScore.objects.select_related("worker")}
    assert scores["writer1@example.com"].rank == 1
    assert row["consensus"]["answer"]["score"] == pytest.approx(scores["writer1@example.com"].score, abs=1e-6)
    assert sum(s.score for s in scores.values()) == pytest.approx(1.0)
    assert {s.n_reviews for s in scores.values()} == {2}
    assert TaskConsensus.objects.get(task=task).method == "bradley_terry"
    exported = lab.get(f"/api/v1/projects/{project.pk}/export/results.csv")
    csv_body = b"".join(exported.streaming_content).decode()
    assert EXPLANATIONS[1] in csv_body


@pytest.mark.parametrize("raw_sql", [True, False], ids=["postgres-backend", "portable-backend"])
def test_an_author_is_never_served_the_review_even_when_it_is_the_only_work(lab, worker, settings,  # noqa: F811
                                                                             raw_sql):
    settings.QUEUE_CLAIM_RAW_SQL = raw_sql
    project, task = _text_project(lab, review=dict(REVIEW, min_answers=2), overlap=2)
    author, other = worker("author@example.com"), worker("other@example.com")
    _answer(author, project, "It sorts the distinct items.")
    _answer(other, project, "Sorted unique values.")
    _run(task_consensus_compute)
    _run(task_review_create)
    review_task = AnswerReview.objects.get().review_task
    assert set(TaskExclusion.objects.filter(task=review_task).values_list("worker__email", flat=True)) == {
        "author@example.com", "other@example.com"}
    # Through the service too (the python path), and repeatedly: nothing to claim.
    for _ in range(3):
        assert assignment_claim(user=author.user, project_id=review_task.project_id) is None
    third = worker("third@example.com")
    assert third.post(CLAIM, {"project": review_task.project_id}).status_code == 201


def test_fewer_answers_than_min_answers_make_no_review(lab, worker):  # noqa: F811
    project, task = _text_project(lab, review=dict(REVIEW, min_answers=3), overlap=2)
    _answer(worker("a@example.com"), project, "one")
    _answer(worker("b@example.com"), project, "two")
    _run(task_consensus_compute)
    assert _run(task_review_create) == 2  # both submits' consensus jobs found the task complete
    assert not AnswerReview.objects.exists() and not Project.objects.filter(review_of=project).exists()


def test_a_project_without_review_records_no_review_job(lab, worker):  # noqa: F811
    project = make_project(task_type="text", overlap=1)
    Task.objects.create(project=project, external_id="t", overlap=1, data={"code": CODE, "language": "python"})
    _answer(worker("a@example.com"), project, "one")
    _run(task_consensus_compute)
    assert not OutboxEvent.objects.filter(job="tasks.jobs.reviews.task_review_create").exists()


TEXT_PROJECT = dict(PROJECT, task_type="text", label_schema={})


@pytest.mark.parametrize(("review", "field"), [
    ({"mode": "pairwise"}, "label_schema.review.mode"),
    ({"min_answers": 1}, "label_schema.review.min_answers"),
    ({"min_answers": 21}, "label_schema.review.min_answers"),
    ({"min_answers": True}, "label_schema.review.min_answers"),
    ({"overlap": 0}, "label_schema.review.overlap"),
    ({"overlap": "3"}, "label_schema.review.overlap"),
    ({"authors_may_review": True}, "label_schema.review.authors_may_review"),
    ("yes", "label_schema.review"),
])
def test_a_bad_review_setting_is_400_naming_the_field(lab, review, field):
    response = lab.post("/api/v1/projects/", dict(TEXT_PROJECT, label_schema={"review": review}))
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()
    assert not Project.objects.exists()


def test_review_is_refused_on_other_task_types_and_normalised_on_text(lab):
    response = lab.post("/api/v1/projects/", dict(PROJECT, task_type="ranking", label_schema={"review": {}}))
    assert response.status_code == 400 and "label_schema.review" in response.json()["error"]["fields"]
    response = lab.post("/api/v1/projects/", dict(TEXT_PROJECT, label_schema={"review": {}}))
    assert response.status_code == 201, response.content
    assert response.json()["label_schema"]["review"] == {"mode": "ranking", "min_answers": 2, "overlap": 3}


def test_bradley_terry_scores_against_worked_values():
    # Two answers, one ranking 0 > 1, prior 0.5 wins each way: 1.5 wins of 2 comparisons, p0 = 0.75.
    shares, confidence = answer_scores([[0, 1]], 2)
    assert shares == pytest.approx([0.75, 0.25], abs=1e-6)
    assert confidence == pytest.approx(0.75, abs=1e-6)
    # A perfect cycle of three rankings: every answer equal.
    shares, _ = answer_scores([[0, 1, 2], [1, 2, 0], [2, 0, 1]], 3)
    assert shares == pytest.approx([1 / 3] * 3, abs=1e-6)
    # Three answers: the fit satisfies the MLE equations wins_i = sum_j n_ij p_i / (p_i + p_j).
    orders = [[1, 2, 0], [1, 0, 2], [0, 1, 2]]
    shares, _ = answer_scores(orders, 3)
    p = np.array(shares)
    wins, n = np.full(3, 0.5 * 2), np.full((3, 3), 1.0) - np.eye(3)  # the prior: half a win each way per pair
    for order in orders:
        for i, better in enumerate(order):
            for worse in order[i + 1:]:
                wins[better] += 1
                n[better, worse] += 1
                n[worse, better] += 1
    expected = np.array([sum(n[i, j] * p[i] / (p[i] + p[j]) for j in range(3) if j != i) for i in range(3)])
    assert wins == pytest.approx(expected, rel=1e-5)
    assert np.argmax(p) == 1 and p.sum() == pytest.approx(1.0)
