"""The read interface other apps call: None / absent before anything is computed, then the stored figures."""

import pytest
from django.utils import timezone

from quality.models import ProjectAgreement, TaskConsensus, WorkerStanding
from quality.selectors import project_agreement_get, task_consensus_get, worker_standing_get
from tests.quality import factories as f

pytestmark = pytest.mark.django_db


def test_nothing_computed_yet_reads_as_none_or_absent():
    project = f.project()
    task = f.task(project)
    worker = f.worker()
    assert worker_standing_get(user=worker) is None
    assert task_consensus_get(task_ids=[task.id]) == {}
    assert task_consensus_get(task_ids=[]) == {}
    assert project_agreement_get(project_id=project.id) is None


def test_stored_figures_are_returned_in_the_documented_shape():
    project = f.project()
    task, other = f.task(project), f.task(project)
    worker = f.worker()
    now = timezone.now()
    TaskConsensus.objects.create(task=task, project=project, answer={"choice": "a"}, confidence=0.9,
                                 method="dawid_skene", n_judgments=3, computed_at=now)
    ProjectAgreement.objects.create(project=project, alpha=0.5, level="nominal", fleiss_kappa=0.4, n_tasks=1,
                                    n_judgments=3, computed_at=now)
    WorkerStanding.objects.create(worker=worker, project=None, n_judgments=5, status="watch",
                                  reasons=[{"rule": "fast", "message": "m"}], computed_at=now)
    WorkerStanding.objects.create(worker=worker, project=project, n_judgments=5, status="watch", computed_at=now)

    assert task_consensus_get(task_ids=[task.id, other.id]) == {
        task.id: {"answer": {"choice": "a"}, "confidence": 0.9, "method": "dawid_skene"}}
    assert project_agreement_get(project_id=project.id) == {
        "alpha": 0.5, "level": "nominal", "fleiss_kappa": 0.4, "n_tasks": 1, "n_judgments": 3, "computed_at": now}
    standing = worker_standing_get(user=worker)
    assert standing["status"] == "watch" and standing["reasons"][0]["rule"] == "fast"
    assert [p["project_id"] for p in standing["projects"]] == [project.id]
