"""The amortised recompute (issue 15): between full refits a run reads only the tasks new judgments touched;
past QUALITY_REFIT_FRACTION of growth, and always at completion, it refits the whole project; projects_changed
finds changed projects from one index lookup per project, never a scan of the judgments."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from quality.models import ProjectAgreement, ProjectQualityState, TaskConsensus, WorkerStanding
from quality.services import loading, project_quality_recompute, project_refit_needed, projects_changed
from quality.services import recompute as recompute_module
from quality.services.incremental import incremental_run as real_incremental_run
from tasks.models import Judgment
from tests.quality import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def loads(monkeypatch):
    """Every project_data_load of the recompute: (task_ids asked for, judgments loaded)."""
    seen = []

    def spy(*, project, task_ids=None):
        loaded = loading.project_data_load(project=project, task_ids=task_ids)
        seen.append((None if task_ids is None else sorted(task_ids), len(loaded.data.items)))
        return loaded

    monkeypatch.setattr(recompute_module, "project_data_load", spy)
    monkeypatch.setattr("quality.services.incremental.project_data_load", spy)
    return seen


def _judged(project, workers, n_tasks, answer="a"):
    tasks = [f.task(project) for _ in range(n_tasks)]
    f.judge_many([(t, w, {"choice": answer}, 20.0) for t in tasks for w in workers])
    return tasks


def _figures(project):
    return (sorted(TaskConsensus.objects.filter(project=project).values_list("task_id", "answer", "n_judgments")),
            sorted(WorkerStanding.objects.filter(project=project).values_list(
                "worker_id", "n_judgments", "gold_n", "gold_correct", "loo_n", "status")))


def test_a_judgment_committed_during_a_full_fit_is_counted_once(monkeypatch):
    """A submit that commits between the fit's read of the newest id and its load is in the fit's figures;
    the watermark covers it, so the next amortised run does not add it again."""
    project = f.project()
    workers = [f.worker() for _ in range(3)]
    _judged(project, workers, 20)
    late = f.task(project)

    def load_after_a_late_submit(*, project, task_ids=None):
        if task_ids is None and not Judgment.objects.filter(task=late).exists():
            f.judge_many([(late, workers[0], {"choice": "a"}, 20.0)])  # committed while the fit runs
        return loading.project_data_load(project=project, task_ids=task_ids)

    monkeypatch.setattr(recompute_module, "project_data_load", load_after_a_late_submit)
    assert project_quality_recompute(project_id=project.pk)
    assert WorkerStanding.objects.get(project=project, worker=workers[0]).n_judgments == 21
    monkeypatch.undo()
    _judged(project, [workers[1]], 1)  # something new: the next run is an amortised one
    assert project_quality_recompute(project_id=project.pk)
    assert WorkerStanding.objects.get(project=project, worker=workers[0]).n_judgments == 21
    assert WorkerStanding.objects.get(project=project, worker=workers[1]).n_judgments == 21


def test_an_incremental_run_loads_only_the_touched_tasks(loads):
    project = f.project()
    workers = [f.worker() for _ in range(3)]
    _judged(project, workers, 20)
    assert project_quality_recompute(project_id=project.pk)
    assert loads == [(None, 60)]  # the first run fits the whole project
    fitted = ProjectAgreement.objects.get(project=project).computed_at
    newcomer = f.worker()
    new = _judged(project, [workers[0], workers[1], newcomer], 2, answer="b")
    assert project_quality_recompute(project_id=project.pk)
    assert loads[1:] == [(sorted(t.pk for t in new), 6)]  # the new tasks' judgments, not the project's 66
    consensus = TaskConsensus.objects.get(task=new[0])
    assert consensus.method == "dawid_skene" and consensus.n_judgments == 3
    assert WorkerStanding.objects.get(project=project, worker=workers[0]).n_judgments == 22
    assert WorkerStanding.objects.get(project=project, worker=newcomer).n_judgments == 2
    assert WorkerStanding.objects.get(project=None, worker=newcomer).n_judgments == 2
    # Agreement is not a sum: it keeps the last full fit's figures until the next one.
    assert ProjectAgreement.objects.get(project=project).computed_at == fitted
    state = ProjectQualityState.objects.get(project=project)
    assert state.model["fit"]["n_judgments"] == 60 and state.n_judgments_seen == 66


def test_past_the_refit_fraction_the_run_refits_the_whole_project(loads, settings):
    settings.QUALITY_REFIT_FRACTION = 0.25
    project = f.project()
    workers = [f.worker() for _ in range(3)]
    _judged(project, workers, 8)  # 24 judgments: up to 5 new ones stay incremental
    project_quality_recompute(project_id=project.pk)
    _judged(project, workers[:1], 5)
    project_quality_recompute(project_id=project.pk)
    assert loads[-1][0] is not None  # 5 < 0.25 * 24: incremental
    _judged(project, workers[:1], 1)
    project_quality_recompute(project_id=project.pk)
    assert loads[-1] == (None, 30)  # 6 >= 6: the whole project again
    assert ProjectQualityState.objects.get(project=project).model["fit"]["n_judgments"] == 30


def test_completion_always_refits_in_full_and_matches_a_forced_run(loads):
    project = f.project()
    workers = [f.worker() for _ in range(3)]
    _judged(project, workers, 20)
    project_quality_recompute(project_id=project.pk)
    _judged(project, workers, 1, answer="b")
    assert project_quality_recompute(project_id=project.pk, wait=True)
    assert loads[-1] == (None, 63)
    after_completion = _figures(project)
    project_quality_recompute(project_id=project.pk, force=True)
    assert _figures(project) == after_completion


def test_an_incremental_run_twice_changes_nothing(loads):
    project = f.project()
    workers = [f.worker() for _ in range(3)]
    _judged(project, workers, 20)
    project_quality_recompute(project_id=project.pk)
    _judged(project, workers, 2, answer="b")
    assert project_quality_recompute(project_id=project.pk)
    once = _figures(project)
    assert not project_quality_recompute(project_id=project.pk)
    assert _figures(project) == once and len(loads) == 2


def test_a_model_of_other_classes_makes_the_run_refit(loads, monkeypatch):
    """The stored model no longer fits (e.g. another schema): the run refits instead of mixing classes."""
    calls = []
    monkeypatch.setattr(recompute_module, "incremental_run",
                        lambda *a, **k: calls.append(1) or real_incremental_run(*a, **k))
    project = f.project()
    workers = [f.worker() for _ in range(3)]
    _judged(project, workers, 20)
    project_quality_recompute(project_id=project.pk)
    state = ProjectQualityState.objects.get(project=project)
    state.model = {**state.model, "classes": ["x", "y"]}
    state.save()
    _judged(project, workers, 1)
    assert project_quality_recompute(project_id=project.pk)
    assert calls == [1] and loads[-1] == (None, 63)


def test_projects_changed_is_one_statement_whatever_the_judgments():
    projects = [f.project() for _ in range(3)]
    workers = [f.worker() for _ in range(3)]
    for p in projects:
        _judged(p, workers, 2)
    project_quality_recompute(project_id=projects[0].pk)
    with CaptureQueriesContext(connection) as ctx:
        assert projects_changed() == sorted(p.pk for p in projects[1:])
    few = len(ctx.captured_queries)
    for p in projects:
        _judged(p, workers, 5)
    with CaptureQueriesContext(connection) as ctx:
        assert projects_changed() == sorted(p.pk for p in projects)
    assert len(ctx.captured_queries) == few == 1


@pytest.mark.postgres
def test_projects_changed_reads_the_judgments_by_index_only():
    projects = [f.project() for _ in range(2)]
    workers = [f.worker() for _ in range(3)]
    for p in projects:
        _judged(p, workers, 3)
    with CaptureQueriesContext(connection) as ctx:
        projects_changed()
    sql = ctx.captured_queries[0]["sql"]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tasks_judgment")
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(r[0] for r in cursor.fetchall())
    assert "Seq Scan on tasks_judgment" not in plan, plan
    assert "Index Only Scan Backward using tasks_judgm_project_d437c8_idx" in plan and "Limit" in plan, plan


def test_an_incremental_run_never_counts_or_reads_the_whole_project():
    """Each statement on the judgments is bounded: the rows above the watermark (a (project, id) range) or
    the touched tasks' judgments; no COUNT of the project's judgments, no read without one of those bounds."""
    project = f.project()
    workers = [f.worker() for _ in range(3)]
    _judged(project, workers, 20)
    project_quality_recompute(project_id=project.pk)
    _judged(project, workers, 2, answer="b")
    with CaptureQueriesContext(connection) as ctx:
        assert project_quality_recompute(project_id=project.pk)
    on_judgments = [q["sql"] for q in ctx.captured_queries if 'FROM "tasks_judgment"' in q["sql"]]
    assert on_judgments
    for sql in on_judgments:
        assert "COUNT(" not in sql.upper(), sql
        assert '"tasks_judgment"."id" >' in sql or '"tasks_judgment"."task_id" IN' in sql, sql


def test_a_requeue_marks_the_project_for_a_full_refit(loads):
    project = f.project()
    workers = [f.worker() for _ in range(3)]
    tasks = _judged(project, workers, 20)
    project_quality_recompute(project_id=project.pk)
    Judgment.objects.filter(task=tasks[0], worker=workers[0]).update(status="rejected")
    project_refit_needed(project_id=project.pk)
    assert projects_changed() == [project.pk]
    assert project_quality_recompute(project_id=project.pk)
    assert loads[-1] == (None, 59)
    assert WorkerStanding.objects.get(project=project, worker=workers[0]).n_judgments == 19


def test_an_incremental_run_enqueues_the_clearing_run_of_the_workers_it_touched():
    """Pay follows evidence between full refits too: the run's touched workers, and only they."""
    from marketplace.models import OutboxEvent

    project = f.project()
    workers = [f.worker() for _ in range(4)]
    _judged(project, workers[:3], 20)
    project_quality_recompute(project_id=project.pk)
    OutboxEvent.objects.all().delete()
    _judged(project, [workers[0], workers[3]], 2)
    assert project_quality_recompute(project_id=project.pk)
    [event] = OutboxEvent.objects.filter(job="payments.jobs.earnings_clearance_review")
    assert sorted(event.args[0]) == sorted([workers[0].pk, workers[3].pk])
