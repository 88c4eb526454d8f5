"""Agreement when it matters: computed when a project completes (and a project's first figures when a task
completes), carried by project.completed, and readable by the client at once, not after the beat."""

import json

import pytest
from django.utils import timezone

from quality.models import ProjectAgreement
from quality.services import project_first_figures, project_quality_recompute
from tasks.models import Project, Task, WebhookDelivery
from tasks.services.completion import task_completed, task_completed_notify
from tests.conftest import make_user, wait_until
from tests.tasks.client_support import ClientSession, add_judgment, make_project, pair
from tests.tasks.test_webhooks import Receiver

ANSWERS = [("a", "a", "a"), ("b", "b", "a"), ("a", "a", "a"), ("b", "b", "b"), ("tie", "a", "a")]


def _project_with_judgments(lab, *, callback_url="http://127.0.0.1:9/hooks"):
    """A project of 5 pairwise tasks and one gold, judged 3 times each by the same three raters, tasks still
    open (the test completes them)."""
    assert lab.patch("/api/v1/client/", {"callback_url": callback_url}).status_code == 200
    project = make_project(lab.client_row, overlap=3)
    lab.upload_jsonl(project.pk, [pair(i) for i in range(1, 6)] + [pair(9, gold={"choice": "a"})])
    tasks = list(Task.objects.filter(project=project, is_gold=False).order_by("id"))
    gold = Task.objects.get(project=project, is_gold=True)
    raters = [make_user(f"r{next(_n)}@example.com") for _ in range(3)]
    for task, answers in zip(tasks, ANSWERS, strict=True):
        for rater, choice in zip(raters, answers, strict=True):
            add_judgment(task, rater, {"choice": choice})
    for rater in raters:
        add_judgment(gold, rater, {"choice": "a"})
    return project, tasks


_n = iter(range(10**6))


def _complete(task):
    Task.objects.filter(pk=task.pk).update(status="complete", completed_at=timezone.now(), n_submitted=0)


@pytest.mark.django_db
def test_project_completed_carries_the_agreement_over_every_judgment():
    lab = ClientSession("Lab Q1")
    project, tasks = _project_with_judgments(lab)
    for task in tasks[:-1]:
        _complete(task)
    # A run in the middle of the project (as the beat or a task's first figures would make): 12 judgments.
    assert project_quality_recompute(project_id=project.pk)
    assert ProjectAgreement.objects.get(project=project).n_judgments == 15  # judgments exist on every task
    add_judgment(tasks[-1], make_user("late@example.com"), {"choice": "a"})  # after that run
    _complete(tasks[-1])
    ids = task_completed_notify(task_id=tasks[-1].pk, consensus=None)
    event = WebhookDelivery.objects.get(pk__in=ids, event="project.completed")
    agreement = event.payload["data"]["agreement"]
    assert agreement["n_judgments"] == 16 and agreement["n_tasks"] == 5  # includes the late judgment
    assert agreement["level"] == "nominal" and -1 <= agreement["alpha"] <= 1 and agreement["fleiss_kappa"] is not None
    assert isinstance(agreement["computed_at"], str)
    response = lab.get(f"/api/v1/projects/{project.pk}/agreement/")
    assert response.status_code == 200 and response.json()["n_judgments"] == 16
    assert response.json()["alpha"] == pytest.approx(agreement["alpha"])


@pytest.mark.django_db
def test_a_task_completing_gives_a_project_its_first_figures_once():
    lab = ClientSession("Lab Q2")
    project, tasks = _project_with_judgments(lab)
    assert lab.get(f"/api/v1/projects/{project.pk}/agreement/").status_code == 404
    _complete(tasks[0])
    from quality.jobs import task_consensus_compute

    task_consensus_compute.apply(args=(tasks[0].pk,))
    assert lab.get(f"/api/v1/projects/{project.pk}/agreement/").status_code == 200
    # Later task completions leave the project to the beat and to its completion (no full run per task).
    assert project_first_figures(project_id=project.pk) is False


@pytest.mark.postgres
@pytest.mark.redis
def test_client_reads_the_agreement_as_soon_as_the_project_completes(celery_worker, request):
    """Through a real Celery worker: the last task completes, the jobs run; the moment the project shows as
    completed the agreement is there (it is written in the transaction that completes the project)."""
    receiver = Receiver()
    request.addfinalizer(receiver.close)
    lab = ClientSession("Lab Q3")
    project, tasks = _project_with_judgments(lab, callback_url=receiver.url)
    for task in tasks:
        _complete(task)
    assert not ProjectAgreement.objects.filter(project=project).exists()
    task_completed(task_id=tasks[-1].pk)  # no transaction open: enqueued at once
    wait_until(lambda: Project.objects.get(pk=project.pk).status == "completed", timeout=60,
               message="project completed")
    response = lab.get(f"/api/v1/projects/{project.pk}/agreement/")
    assert response.status_code == 200, response.content
    assert response.json()["n_judgments"] == 15 and response.json()["n_tasks"] == 5
    event = WebhookDelivery.objects.get(client=lab.client_row, event="project.completed")
    assert event.payload["data"]["agreement"]["n_judgments"] == 15
    assert event.payload["data"]["agreement"]["alpha"] == pytest.approx(response.json()["alpha"])
    wait_until(lambda: any(b'"project.completed"' in r["body"] for r in receiver.requests), timeout=60,
               message="project.completed delivered")
    body = next(r["body"] for r in receiver.requests if b'"project.completed"' in r["body"])
    assert json.loads(body)["data"]["agreement"]["n_judgments"] == 15
