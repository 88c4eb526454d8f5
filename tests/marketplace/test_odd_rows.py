"""Defence in depth: rows with odd JSON written straight into the database (past every validation) never make
a read or an export answer 500.

Given a project whose tasks, judgments and consensus hold odd JSON (what the database accepts: lone
surrogates, NUL and NaN only on SQLite, whose JSON is text; huge integers, deep nesting, non-objects and
missing keys everywhere), when the client reads results (JSON, JSONL, CSV, preferences), the worker lists
their assignments and claims, and a superuser opens the admin pages that show them, then every answer is
a 200 whose body decodes as UTF-8 (and as JSON where it is JSON)."""

import json

import pytest
from django.db import connection
from django.utils import timezone

from quality.models import TaskConsensus
from tasks.models import Assignment, Judgment, Task
from tests.admin_support import admin_client
from tests.conftest import make_user
from tests.tasks.client_support import ClientSession, add_judgment, pair
from tests.tasks.client_support import make_project as client_project
from tests.workers.factories import complete_profile, qualify

NESTED = '{"a":' * 200 + "1" + "}" * 200  # deep, yet within what Python's json reads back

# (kind, JSON text) for answers and consensus; every database takes these.
PORTABLE = [
    ("huge int", '{"choice": "a", "strength": 100000000000000000000000000000}'),
    ("deep", '{"choice": "a", "reason": ' + NESTED + "}"),
    ("not an object", '["a", "b"]'),
    ("a bare string", '"a"'),
    ("missing keys", "{}"),
    ("wrong types", '{"choice": ["a"], "order": "x", "flags": 3, "score": {"x": 1}}'),
]
# Only SQLite's text JSON holds these (PostgreSQL's jsonb refuses \u0000 and lone surrogates; both refuse NaN).
SQLITE_ONLY = [
    ("lone surrogate", '{"choice": "a", "reason": "x\\ud800y"}'),
    ("NUL", '{"choice": "a", "reason": "x\\u0000y"}'),
    ("surrogate key", '{"choice": "a", "\\udfff": 1}'),
]
ODD_DATA = [
    ("data missing keys", "{}"),
    ("data not an object", "[1, 2]"),
    ("data deep", '{"prompt": "p", "language": "python", "meta": ' + NESTED + "}"),
]
SQLITE_ODD_DATA = [
    ("data surrogate", '{"prompt": "x\\udc00", "language": "python", "response_a": "a\\u0000", "response_b": "b"}'),
]


def odd_answers():
    return PORTABLE + (SQLITE_ONLY if connection.vendor == "sqlite" else [])


def odd_data():
    return ODD_DATA + (SQLITE_ODD_DATA if connection.vendor == "sqlite" else [])


def write_json(model, pk: int, column: str, text: str) -> None:
    """Straight into the column, past Django's encoder and every validation."""
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {model._meta.db_table} SET {column} = %s{cast} WHERE id = %s", [text, pk])  # noqa: S608


@pytest.fixture
def odd_world(db, person):
    lab = ClientSession("Odd Rows Ltd")
    project = client_project(lab.client_row)
    raters = [make_user(f"rater{i}@example.com") for i in range(2)]
    worker = person("odd-worker@example.com")
    complete_profile(worker.user, skills=("python",))
    qualify(worker.user, "python")
    answers, data = odd_answers(), odd_data()
    n = len(answers) + len(data) + 1
    assert lab.upload_jsonl(project.pk, [pair(i) for i in range(n)]).status_code == 201
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    for task, (_, text) in zip(tasks, answers, strict=False):
        for rater in raters:
            write_json(Judgment, add_judgment(task, rater, {"choice": "a"}).pk, "answer", text)
        mine = add_judgment(task, worker.user, {"choice": "a"})  # the worker's own list shows these
        write_json(Judgment, mine.pk, "answer", text)
        Task.objects.filter(pk=task.pk).update(status=Task.Status.COMPLETE, completed_at=timezone.now())
        consensus = TaskConsensus.objects.create(task=task, project=project, answer={"choice": "a"}, confidence=0.9,
                                                 method=TaskConsensus.Method.MAJORITY, computed_at=timezone.now())
        write_json(TaskConsensus, consensus.pk, "answer", text)
    for task, (_, text) in zip(tasks[len(answers):], data, strict=False):
        write_json(Task, task.pk, "data", text)
        add_judgment(task, raters[0], {"choice": "b"})
        Task.objects.filter(pk=task.pk).update(status=Task.Status.COMPLETE, completed_at=timezone.now())
        TaskConsensus.objects.create(task=task, project=project, answer={"choice": "b"}, confidence=0.8,
                                     method=TaskConsensus.Method.MAJORITY, computed_at=timezone.now())
    if connection.vendor == "postgresql":  # a float column holds NaN there; JSON has no spelling for it
        with connection.cursor() as cursor:
            cursor.execute("UPDATE tasks_judgment SET seconds_spent = 'NaN'::float8")
    claimable = tasks[-1]  # the worker's claim serves a task whose data is odd
    write_json(Task, claimable.pk, "data", data[-1][1])
    return lab, project, worker, tasks, claimable


def _utf8(response) -> str:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return body.decode("utf-8")  # strict: a lone surrogate would have to be encoded somehow


def test_client_reads_and_exports_answer_odd_rows(odd_world):
    lab, project, *_ = odd_world
    base = f"/api/v1/projects/{project.pk}"
    for path in (f"{base}/results/", f"{base}/results/?page_size=500", f"{base}/"):
        response = lab.get(path)
        assert response.status_code == 200, (path, response.status_code)
        json.loads(_utf8(response))
    for path in (f"{base}/results/?format=jsonl", f"{base}/export/preferences.jsonl"):
        response = lab.get(path)
        assert response.status_code == 200, path
        lines = _utf8(response).splitlines()
        assert all(json.loads(line) is not None for line in lines), path
    if connection.vendor == "sqlite":  # the lone surrogate reaches the client as U+FFFD
        assert "\ufffd" in _utf8(lab.get(f"{base}/results/?page_size=500"))
    jsonl = _utf8(lab.get(f"{base}/results/?format=jsonl")).splitlines()
    assert len(jsonl) >= Task.objects.filter(project=project).count()  # the stream did not stop halfway
    csv_response = lab.get(f"{base}/export/results.csv")
    assert csv_response.status_code == 200
    rows = _utf8(csv_response).splitlines()
    assert len(rows) > Task.objects.filter(project=project).count()


def test_the_workers_own_reads_answer_odd_rows(odd_world):
    _, project, worker, _, claimable = odd_world
    for path in ("/api/v1/assignments/", "/api/v1/assignments/?status=submitted", "/api/v1/work/projects/",
                 "/api/v1/me/earnings/"):
        response = worker.get(path)
        assert response.status_code == 200, (path, response.status_code)
        json.loads(_utf8(response))
    claimed = worker.post("/api/v1/assignments/claim/", {"project": project.pk})
    assert claimed.status_code == 201, claimed.content
    assert claimed.json()["task"]["id"] == claimable.pk
    assert Assignment.objects.filter(worker=worker.user, status="live").count() == 1


def test_admin_pages_answer_odd_rows(odd_world):
    _, project, _, tasks, _ = odd_world
    admin = admin_client("root@example.com", superuser=True)
    judgment = Judgment.objects.filter(project=project).order_by("id")
    pages = ["/admin/tasks/judgment/", "/admin/tasks/task/", "/admin/quality/taskconsensus/",
             "/admin/tasks/assignment/"]
    pages += [f"/admin/tasks/judgment/{j.pk}/change/" for j in judgment]
    pages += [f"/admin/tasks/task/{t.pk}/change/" for t in tasks]
    pages += [f"/admin/quality/taskconsensus/{c.pk}/change/" for c in TaskConsensus.objects.filter(project=project)]
    for path in pages:
        response = admin.get(path)
        assert response.status_code == 200, (path, response.status_code)
        _utf8(response)
