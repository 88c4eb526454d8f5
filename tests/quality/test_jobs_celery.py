"""Through a real Celery worker: a completed task gets its consensus; the beat job recomputes changed projects."""

import pytest
from django.db import transaction

from quality.jobs import recompute_quality
from quality.models import Flag, ProjectAgreement, TaskConsensus
from tasks.services.completion import task_completed
from tests.conftest import wait_until
from tests.quality import factories as f

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_task_completed_enqueues_consensus_and_beat_recomputes(celery_worker):
    project, honest, spammer, tasks, golds = f.pairwise_crowd(n_tasks=40, seed=21)
    with transaction.atomic():
        task_completed(task_id=tasks[0].pk)
        # Enqueued on commit: nothing can have run yet.
        assert not TaskConsensus.objects.filter(task=tasks[0]).exists()
    consensus = wait_until(lambda: TaskConsensus.objects.filter(task=tasks[0]).first(), message="consensus")
    assert consensus.method == "majority" and consensus.n_judgments == 3

    with transaction.atomic():
        assert recompute_quality() == [project.pk]
    wait_until(lambda: ProjectAgreement.objects.filter(project=project).exists(), timeout=60, message="agreement")
    flag = wait_until(lambda: Flag.objects.filter(worker=spammer).first(), message="flag")
    assert "same_answer" in {x["rule"] for x in flag.evidence["findings"]}
    assert recompute_quality() == []  # nothing changed since the run
