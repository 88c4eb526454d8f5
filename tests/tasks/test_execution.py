"""Task tests run in the sandbox: validation at upload, the job on the sandbox queue, results stored per
completion (safe to run twice), auto-gold when exactly one side passes, results and the preference export."""

import json
import shutil

import pytest
from django.conf import settings
from django.utils import timezone

from marketplace.celery import app as celery_app
from marketplace.models import OutboxEvent
from quality import models as quality_models
from tasks.jobs.execution import run_project_tests
from tasks.models import Assignment, CompletionRun, Task
from tasks.services import execution
from tests.conftest import make_user
from tests.tasks.client_support import ClientSession, make_project

pytestmark = pytest.mark.django_db
needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed")

GOOD = "def add(a, b):\n    return a + b\n"
OFF_BY_ONE = "def add(a, b):\n    return a + b + 1\n"
TEST = "assert add(2, 3) == 5\nassert add(-1, 1) == 0\n"


def row(i, a=GOOD, b=OFF_BY_ONE, tests=None, language="python"):
    data = {"prompt": "Write add(a, b)", "language": language, "response_a": a, "response_b": b}
    data["tests"] = tests if tests is not None else {"test": TEST}
    return {"external_id": f"ex-{i}", "data": data}


@pytest.fixture
def lab():
    return ClientSession("Lab X")


@pytest.fixture
def project(lab):
    return make_project(lab.client_row, gold_share=0.2)


def test_upload_with_tests_records_the_sandbox_job_and_without_tests_does_not(lab, project):
    OutboxEvent.objects.all().delete()
    plain = {"external_id": "p-1", "data": {"prompt": "x", "language": "python", "response_a": "1", "response_b": "2"}}
    assert lab.upload_jsonl(project.pk, [plain]).status_code == 201
    assert not OutboxEvent.objects.filter(job="tasks.jobs.execution.run_project_tests").exists()
    assert lab.upload_jsonl(project.pk, [row(1), row(2)]).status_code == 201
    [event] = OutboxEvent.objects.filter(job="tasks.jobs.execution.run_project_tests")
    assert event.args == [project.pk]


def test_the_job_is_routed_to_the_sandbox_queue():
    route = celery_app.amqp.router.route({}, "tasks.jobs.execution.run_project_tests")
    assert route["queue"].name == settings.SANDBOX_QUEUE


@pytest.mark.parametrize("tests, language, path", [
    ({"test": TEST}, "ruby", "data.language"),
    ({"test": ""}, "python", "data.tests.test"),
    ({"test": TEST, "cases": []}, "python", "data.tests"),
    ("assert 1", "python", "data.tests"),
    ({"cases": []}, "python", "data.tests.cases"),
    ({"cases": [{"stdin": "1"}]}, "python", "data.tests.cases.0"),
    ({"cases": [{"stdin": 1, "stdout": "2"}]}, "python", "data.tests.cases.0.stdin"),
])
def test_malformed_tests_are_a_400_naming_the_path_and_store_nothing(lab, project, tests, language, path):
    response = lab.upload_jsonl(project.pk, [row(1, tests=tests, language=language)])
    assert response.status_code == 400, response.content
    assert path in str(response.json()["error"]), response.json()
    assert not Task.objects.filter(project=project).exists()


@needs_bwrap
def test_runs_are_stored_per_side_and_one_passing_side_makes_the_task_gold(lab, project):
    lab.upload_jsonl(project.pk, [row(1), row(2, b=GOOD)])
    assert run_project_tests(project.pk) == 2
    runs = {(r.task.external_id, r.side): r for r in CompletionRun.objects.select_related("task")}
    assert runs[("ex-1", "a")].passed and runs[("ex-1", "a")].status == "passed"
    assert not runs[("ex-1", "b")].passed and runs[("ex-1", "b")].status == "failed"
    assert "AssertionError" in runs[("ex-1", "b")].failures
    assert runs[("ex-1", "a")].runner_version == execution.RUNNER_VERSION
    one = Task.objects.get(project=project, external_id="ex-1")
    assert (one.is_gold, one.gold, one.gold_source, one.overlap) == (True, {"choice": "a"}, "execution",
                                                                      Task.GOLD_OVERLAP)
    both = Task.objects.get(project=project, external_id="ex-2")
    assert (both.is_gold, both.gold, both.gold_source) == (False, None, "")


@needs_bwrap
def test_the_job_is_safe_to_run_twice(lab, project, monkeypatch):
    lab.upload_jsonl(project.pk, [row(1)])
    run_project_tests(project.pk)
    before = list(CompletionRun.objects.values_list("id", "side", "status", "created_at"))
    calls = []
    monkeypatch.setattr(execution, "run", lambda *a, **k: calls.append(a))
    assert run_project_tests(project.pk) == 0
    execution.completion_runs_execute(task_id=Task.objects.get().pk)  # a redelivered per-task run too
    assert calls == []
    assert list(CompletionRun.objects.values_list("id", "side", "status", "created_at")) == before
    assert Task.objects.get().gold == {"choice": "a"}


@needs_bwrap
def test_input_output_cases_in_javascript(lab, project):
    tests = {"cases": [{"stdin": "2", "stdout": "4"}, {"stdin": "5", "stdout": "10"}]}
    double = "const n = Number(require('fs').readFileSync(0, 'utf8')); console.log(n * 2);"
    square = "const n = Number(require('fs').readFileSync(0, 'utf8')); console.log(n * n);"
    lab.upload_jsonl(project.pk, [row(1, a=square, b=double, tests=tests, language="javascript")])
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    run_project_tests(project.pk)
    assert dict(CompletionRun.objects.values_list("side", "status")) == {"a": "failed", "b": "passed"}
    assert Task.objects.get().gold == {"choice": "b"}


@needs_bwrap
def test_hostile_completion_is_contained_and_loses(lab, project):
    bomb = "def add(a, b):\n    while True:\n        pass\n"
    lab.upload_jsonl(project.pk, [row(1, a=bomb, b=GOOD)])
    run_project_tests(project.pk)
    run = CompletionRun.objects.get(side="a")
    assert (run.passed, run.status) == (False, "timeout")
    assert Task.objects.get().gold == {"choice": "b"}


def _fake_runs(task, a: bool, b: bool):
    for side, passed in (("a", a), ("b", b)):
        CompletionRun.objects.create(task=task, side=side, passed=passed, status="passed" if passed else "failed",
                                     runner_version=execution.RUNNER_VERSION)


def test_no_auto_gold_without_gold_share_or_once_claimed(lab):


    no_gold = make_project(lab.client_row, name="no gold", gold_share=0.0)
    lab.upload_jsonl(no_gold.pk, [row(1)])
    task = Task.objects.get(project=no_gold)
    _fake_runs(task, True, False)
    assert execution.task_auto_gold(task_id=task.pk) is False
    with_gold = make_project(lab.client_row, name="with gold", gold_share=0.5)
    lab.upload_jsonl(with_gold.pk, [row(1)])
    claimed = Task.objects.get(project=with_gold)
    now = timezone.now()
    Assignment.objects.create(task=claimed, worker=make_user("w@example.com"), project=with_gold, claimed_at=now,
                              expires_at=now, status=Assignment.Status.RELEASED)
    _fake_runs(claimed, True, False)
    assert execution.task_auto_gold(task_id=claimed.pk) is False
    claimed.refresh_from_db()
    assert not claimed.is_gold and claimed.gold is None
    Assignment.objects.all().delete()
    assert execution.task_auto_gold(task_id=claimed.pk) is True
    assert execution.task_auto_gold(task_id=claimed.pk) is False  # already gold


def test_both_failing_or_one_side_missing_proves_nothing():
    class R:
        def __init__(self, passed):
            self.passed = passed
    assert execution.execution_answer({"a": R(False), "b": R(False)}) is None
    assert execution.execution_answer({"a": R(True), "b": R(True)}) is None
    assert execution.execution_answer({"a": R(True)}) is None
    assert execution.execution_answer({"a": R(False), "b": R(True)}) == {"choice": "b"}


def test_results_and_preference_export_show_execution_per_completion(lab):
    project = make_project(lab.client_row, name="no gold", gold_share=0.0)
    lab.upload_jsonl(project.pk, [row(1), {"external_id": "plain", "data": {
        "prompt": "x", "language": "python", "response_a": "1", "response_b": "2"}}])
    task = Task.objects.get(external_id="ex-1")
    _fake_runs(task, True, False)
    CompletionRun.objects.filter(side="b").update(failures="AssertionError")
    results = {r["external_id"]: r for r in lab.get(f"/api/v1/projects/{project.pk}/results/").json()["results"]}
    assert results["plain"]["execution"] is None and results["plain"]["gold_source"] == ""
    assert results["ex-1"]["execution"]["a"]["passed"] is True
    assert results["ex-1"]["execution"]["b"] == {"passed": False, "status": "failed", "failures": "AssertionError",
                                                 "duration": 0.0, "runner_version": execution.RUNNER_VERSION}
    for t, choice in ((task, "b"), (Task.objects.get(external_id="plain"), "a")):
        Task.objects.filter(pk=t.pk).update(status=Task.Status.COMPLETE, completed_at=timezone.now())
        quality_models.TaskConsensus.objects.create(task=t, project=project, answer={"choice": choice},
                                                    confidence=0.8, method="majority", n_judgments=3,
                                                    computed_at=timezone.now())
    response = lab.get(f"/api/v1/projects/{project.pk}/export/preferences.jsonl")

    records = {r["external_id"]: r for r in map(json.loads, b"".join(response.streaming_content).splitlines())}
    # The raters chose b, the side that fails its tests: the export says so.
    assert (records["ex-1"]["chosen_execution"], records["ex-1"]["rejected_execution"]) == ("failed", "passed")
    assert (records["plain"]["chosen_execution"], records["plain"]["rejected_execution"]) == ("", "")
