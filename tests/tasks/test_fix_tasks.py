"""Fix tasks: the worker submits edited code; the submit records the run on the sandbox queue; the run
stores a FixRun, grades the judgment (gold_correct) and asks for another fixer when the fix fails."""

import shutil

import pytest
from django.conf import settings

from marketplace.celery import app as celery_app
from marketplace.models import OutboxEvent
from tasks.jobs.execution import run_fix
from tasks.label_schemas import validate_answer, validate_task_data
from tasks.models import FixRun, Judgment, Task
from tests.tasks.test_queue_api import submit, worker  # noqa: F401, F811 (fixture)
from tests.tasks.test_queue_factories import make_project

pytestmark = pytest.mark.django_db
needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed")
CLAIM = "/api/v1/assignments/claim/"
BROKEN = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"
DATA = {"code": BROKEN, "language": "python", "question": "add is wrong: fix it.",
        "tests": {"test": "assert add(2, 3) == 5\n"}}


def test_fix_data_needs_tests_and_an_executable_language():
    validate_task_data("fix", DATA)
    from marketplace.errors import ValidationFailed
    with pytest.raises(ValidationFailed) as exc:
        validate_task_data("fix", {"code": BROKEN, "language": "python"})
    assert "data.tests" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        validate_task_data("fix", dict(DATA, language="go"))
    assert "data.language" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        validate_answer("fix", {}, {"code": "  "})
    assert "answer.code" in exc.value.fields
    assert validate_answer("fix", {}, {"code": FIXED}) == {"code": FIXED}


@pytest.fixture
def fix_project():
    project = make_project(task_type="fix", overlap=1, max_overlap=2)
    Task.objects.create(project=project, external_id="fix-1", data=DATA, overlap=1)
    return project


def _claim_and_submit(who, project, code):
    claim = who.post(CLAIM, {"project": project.pk})
    assert claim.status_code == 201, claim.content
    response = submit(who, claim.json()["id"], {"code": code})
    assert response.status_code == 200, response.content
    return response.json()


def test_submit_records_the_run_on_the_sandbox_queue(worker, fix_project):  # noqa: F811
    OutboxEvent.objects.all().delete()
    body = _claim_and_submit(worker("f1@example.com"), fix_project, FIXED)
    assert body["judgment"]["execution"] is None  # not run yet
    [event] = OutboxEvent.objects.filter(job="tasks.jobs.execution.run_fix")
    assert event.args == [body["judgment"]["id"]]
    route = celery_app.amqp.router.route({}, "tasks.jobs.execution.run_fix")
    assert route["queue"].name == settings.SANDBOX_QUEUE


@needs_bwrap
def test_a_passing_fix_is_graded_correct_and_shown_to_the_worker(worker, fix_project):  # noqa: F811
    who = worker("f1@example.com")
    body = _claim_and_submit(who, fix_project, FIXED)
    assert run_fix(body["judgment"]["id"]) is True
    judgment = Judgment.objects.get()
    assert judgment.gold_correct is True and judgment.fix_run.status == "passed"
    [mine] = who.get("/api/v1/assignments/").json()["results"]
    assert mine["judgment"]["execution"]["passed"] is True
    assert Task.objects.get().overlap == 1  # no second fixer needed


@needs_bwrap
def test_a_failing_fix_is_graded_wrong_and_the_task_asks_for_another_fixer(worker, fix_project):  # noqa: F811
    body = _claim_and_submit(worker("f1@example.com"), fix_project, BROKEN)
    assert run_fix(body["judgment"]["id"]) is False
    assert run_fix(body["judgment"]["id"]) is False  # safe to run twice: no second extension, same row
    judgment = Judgment.objects.get()
    assert judgment.gold_correct is False and "AssertionError" in judgment.fix_run.failures
    assert FixRun.objects.count() == 1
    task = Task.objects.get()
    assert (task.overlap, task.status) == (2, "open")
    second = _claim_and_submit(worker("f2@example.com"), fix_project, FIXED)
    assert run_fix(second["judgment"]["id"]) is True
    assert Task.objects.get().status == "complete"


def test_run_fix_ignores_unknown_and_non_fix_judgments():
    assert run_fix(987654321) is None
