"""The per-task consensus job: majority before the first fit, Dawid-Skene after, idempotent, dynamic overlap."""

import pytest

from quality.jobs import recompute_quality
from quality.models import QualityAuditEvent, TaskConsensus
from quality.services import project_quality_recompute, task_consensus_compute
from tasks.models import Task
from tests.quality import factories as f

pytestmark = pytest.mark.django_db


def test_majority_before_any_fit_then_dawid_skene_with_the_fitted_workers():
    project = f.project()
    task = f.task(project)
    a, b, c = f.worker(), f.worker(), f.worker()
    f.judge_many([(task, a, {"choice": "b"}, 10.0), (task, b, {"choice": "b"}, 10.0), (task, c, {"choice": "a"}, 10.0)])
    result = task_consensus_compute(task_id=task.pk)
    assert result == {"answer": {"choice": "b"}, "confidence": pytest.approx(2 / 3), "method": "majority"}
    assert task_consensus_compute(task_id=task.pk) == result  # idempotent
    assert TaskConsensus.objects.filter(task=task).count() == 1

    crowd_project, honest, spammer, tasks, _ = f.pairwise_crowd(n_tasks=40, seed=12, spammer_answer=None)
    project_quality_recompute(project_id=crowd_project.pk)
    fresh = f.task(crowd_project)
    f.judge_many([(fresh, honest[0], {"choice": "a"}, 20.0), (fresh, honest[1], {"choice": "a"}, 20.0),
                  (fresh, honest[2], {"choice": "b"}, 20.0)])
    result = task_consensus_compute(task_id=fresh.pk)
    assert result["method"] == "dawid_skene" and result["answer"] == {"choice": "a"} and 0.5 < result["confidence"] < 1


def test_low_confidence_asks_for_one_more_judgment_up_to_the_ceiling():
    project = f.project(confidence_threshold=0.9, max_overlap=4)
    task = f.task(project)
    w = [f.worker() for _ in range(5)]
    f.judge_many([(task, w[0], {"choice": "a"}, 9.0), (task, w[1], {"choice": "a"}, 9.0),
                  (task, w[2], {"choice": "b"}, 9.0)])
    task_consensus_compute(task_id=task.pk)
    task.refresh_from_db()
    assert task.overlap == 4 and task.status == "open"
    task_consensus_compute(task_id=task.pk)  # run twice before the 4th judgment: no second extension
    task.refresh_from_db()
    assert task.overlap == 4
    assert QualityAuditEvent.objects.filter(action="overlap_extended").count() == 1

    f.judge_many([(task, w[3], {"choice": "b"}, 9.0)])  # still split 2:2, but the ceiling is reached
    task_consensus_compute(task_id=task.pk)
    task.refresh_from_db()
    assert task.overlap == 4 and task.status == "complete"


def test_confident_task_or_no_threshold_keeps_its_overlap():
    project = f.project(confidence_threshold=0.6, max_overlap=5)
    task = f.task(project)
    f.judge_many([(task, f.worker(), {"choice": "a"}, 9.0) for _ in range(3)])
    assert task_consensus_compute(task_id=task.pk)["confidence"] == 1.0
    task.refresh_from_db()
    assert task.overlap == 3


def test_other_task_types_rating_flags_ranking_and_text():
    rating = f.project(task_type="rating", label_schema={"min": 1, "max": 5})
    t = f.task(rating)
    f.judge_many([(t, f.worker(), {"score": s}, 5.0) for s in (4, 4, 2)])
    assert task_consensus_compute(task_id=t.pk)["answer"] == {"score": 4}

    flags = f.project(task_type="flags", label_schema={"taxonomy": ["off_by_one", "infinite_loop", "wrong_variable"]})
    t = f.task(flags)
    f.judge_many([(t, f.worker(), {"flags": s}, 5.0) for s in (["off_by_one"], ["off_by_one", "wrong_variable"], [])])
    result = task_consensus_compute(task_id=t.pk)
    assert result["answer"] == {"flags": ["off_by_one"]} and result["confidence"] == pytest.approx(2 / 3 * 2 / 3)

    ranking = f.project(task_type="ranking")
    t = Task.objects.create(project=ranking, external_id="r", data={"prompt": "p", "responses": ["x", "y", "z"]},
                            overlap=3)
    f.judge_many([(t, f.worker(), {"order": o}, 5.0) for o in ([2, 0, 1], [2, 1, 0], [2, 0, 1])])
    result = task_consensus_compute(task_id=t.pk)
    assert result["answer"] == {"order": [2, 0, 1]} and result["method"] == "bradley_terry"

    text = f.project(task_type="text")
    t = f.task(text)
    f.judge_many([(t, f.worker(), {"text": "it sorts"}, 5.0)])
    assert task_consensus_compute(task_id=t.pk) is None
    assert task_consensus_compute(task_id=987654321) is None  # unknown task: nothing, no error


def test_project_recompute_for_every_task_type_stores_agreement_at_the_right_level():
    rating = f.project(task_type="rating", label_schema={"min": 1, "max": 5})
    flags = f.project(task_type="flags", label_schema={"taxonomy": ["off_by_one", "infinite_loop"]})
    ranking = f.project(task_type="ranking")
    workers = [f.worker() for _ in range(3)]
    rows = []
    for i in range(6):
        t = f.task(rating)
        rows += [(t, w, {"score": 1 + (i % 5)}, 5.0) for w in workers]
        t = f.task(flags)
        rows += [(t, w, {"flags": ["off_by_one"] if i % 2 else []}, 5.0) for w in workers]
        t = Task.objects.create(project=ranking, external_id=f"r{i}", data={"responses": ["x", "y"]}, overlap=3)
        rows += [(t, w, {"order": [i % 2, 1 - i % 2]}, 5.0) for w in workers]
    f.judge_many(rows)
    assert sorted(recompute_quality()) == sorted([rating.pk, flags.pk, ranking.pk])
    for project, level, method in ((rating, "ordinal", "dawid_skene"), (flags, "nominal", "flags_dawid_skene"),
                                   (ranking, "ordinal", "bradley_terry")):
        project_quality_recompute(project_id=project.pk)
        agreement = project.agreement
        assert agreement.level == level and agreement.alpha == pytest.approx(1.0) and agreement.n_tasks == 6
        assert set(TaskConsensus.objects.filter(project=project).values_list("method", flat=True)) == {method}
