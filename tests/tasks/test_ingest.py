"""Bulk ingest: all or nothing, idempotent by external_id, streamed, gold rows, line numbers in errors."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tasks.models import Task
from tasks.services.ingest_parsing import ParseError, iter_json_array, iter_jsonl
from tests.tasks.client_support import ClientSession, make_project, pair

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab():
    return ClientSession("Lab A")


@pytest.fixture
def project(lab):
    return make_project(lab.client_row, overlap=3)


def test_jsonl_upload_then_retry_stores_nothing_new(lab, project):
    rows = [pair(i) for i in range(5)]
    response = lab.upload_jsonl(project.pk, rows)
    assert response.status_code == 201, response.content
    assert response.json() == {"created": 5, "duplicates": 0}
    before = list(Task.objects.filter(project=project).values_list("id", "external_id", "data"))
    response = lab.upload_jsonl(project.pk, rows)
    assert response.json() == {"created": 0, "duplicates": 5}
    assert list(Task.objects.filter(project=project).values_list("id", "external_id", "data")) == before
    # A partial overlap: 2 known, 1 new.
    response = lab.upload_jsonl(project.pk, [pair(3), pair(4), pair(9)])
    assert response.json() == {"created": 1, "duplicates": 2}
    task = Task.objects.get(project=project, external_id="ex-1")
    assert (task.overlap, task.is_gold, task.gold, task.status, task.n_active) == (3, False, None, "open", 0)
    assert task.data["language"] == "python"


def test_json_array_upload_and_repeated_ids_within_one_upload(lab, project):
    response = lab.upload_array(project.pk, [pair(1), pair(2), pair(1)])
    assert response.status_code == 201, response.content
    assert response.json() == {"created": 2, "duplicates": 1}
    assert Task.objects.filter(project=project).count() == 2


def test_gold_rows_become_gold_tasks_with_normalised_answer(lab, project):
    response = lab.upload_jsonl(project.pk, [pair(1, gold={"choice": "b", "reason": " shorter "}), pair(2)])
    assert response.status_code == 201
    gold = Task.objects.get(project=project, external_id="ex-1")
    assert gold.is_gold and gold.overlap == Task.GOLD_OVERLAP and gold.gold == {"choice": "b", "reason": "shorter"}
    assert not Task.objects.get(project=project, external_id="ex-2").is_gold


def test_mixed_valid_and_invalid_lines_store_nothing_and_name_each_line(lab, project):
    bad_data = pair(3)
    del bad_data["data"]["response_b"]
    rows = [pair(1), pair(2), bad_data, "{not json", pair(5, gold={"choice": "c"}), {"data": pair(6)["data"]},
            pair(7, colour="red"), pair(8)]
    response = lab.upload_jsonl(project.pk, rows)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_lines"
    assert error["invalid_lines"] == 5
    by_line = {e["line"]: e for e in error["lines"]}
    assert set(by_line) == {3, 4, 5, 6, 7}
    assert "data.response_b" in by_line[3]["errors"] and by_line[3]["external_id"] == "ex-3"
    assert "line" in by_line[4]["errors"]
    assert "gold.choice" in by_line[5]["errors"]
    assert "external_id" in by_line[6]["errors"]
    assert "row" in by_line[7]["errors"]
    assert any(s.startswith("line 3: data.response_b") for s in error["fields"]["lines"])
    assert not Task.objects.exists()


@pytest.mark.parametrize("position", ["first", "last"])
def test_invalid_line_after_batches_were_inserted_rolls_everything_back(lab, project, settings, position):
    settings.TASKS_INGEST_BATCH_SIZE = 7
    rows = [pair(i) for i in range(40)]
    bad = pair(99, data={"prompt": "p"})
    rows = [bad, *rows] if position == "first" else [*rows, bad]
    response = lab.upload_jsonl(project.pk, rows)
    assert response.status_code == 400
    assert [e["line"] for e in response.json()["error"]["lines"]] == [1 if position == "first" else 41]
    assert not Task.objects.exists()


def test_error_list_is_bounded(lab, project, settings):
    settings.TASKS_INGEST_MAX_ERRORS = 3
    response = lab.upload_jsonl(project.pk, ["[]"] * 10)
    error = response.json()["error"]
    assert response.status_code == 400 and len(error["lines"]) == 3 and error["truncated"] is True


@pytest.mark.parametrize(("body", "content_type"), [
    ("", "application/x-ndjson"), ("[]", "application/json"), ('{"external_id": "x"}', "application/json"),
    ('[{"external_id": "x", "data": {}}', "application/json"), ("[1, 2] tail", "application/json"),
])
def test_empty_or_malformed_bodies_are_400(lab, project, body, content_type):
    response = lab.api.post(f"/api/v1/projects/{project.pk}/tasks/", body, content_type=content_type)
    assert response.status_code == 400, response.content
    assert "error" in response.json()
    assert not Task.objects.exists()


def test_other_media_types_are_415(lab, project):
    response = lab.api.post(f"/api/v1/projects/{project.pk}/tasks/", "a,b", content_type="text/csv")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_gold_ranking_answer_is_checked_against_the_tasks_responses(lab):
    project = make_project(lab.client_row, task_type="ranking", label_schema={})
    data = {"prompt": "Sort", "language": "python", "responses": ["a", "b", "c"]}
    response = lab.upload_jsonl(project.pk, [{"external_id": "r1", "data": data, "gold": {"order": [1, 0]}}])
    assert response.status_code == 400
    assert "gold.order" in response.json()["error"]["lines"][0]["errors"]
    response = lab.upload_jsonl(project.pk, [{"external_id": "r1", "data": data, "gold": {"order": [1, 0, 2]}}])
    assert response.status_code == 201


def test_upload_into_completed_project_reopens_it(lab, project):
    lab.upload_jsonl(project.pk, [pair(1)])
    type(project).objects.filter(pk=project.pk).update(status="completed")
    assert lab.upload_jsonl(project.pk, [pair(1)]).json()["created"] == 0
    project.refresh_from_db()
    assert project.status == "completed"  # only duplicates: nothing new to do
    assert lab.upload_jsonl(project.pk, [pair(2)]).json()["created"] == 1
    project.refresh_from_db()
    assert project.status == "active"


# --- the streaming readers, with chunk boundaries everywhere -------------------------------------

ROWS = [pair(i) for i in range(30)] + [{"external_id": "ü-é", "data": {"prompt": "naïve — ✓", "x": [1, {"y": "]"}]}}]


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 64, 1 << 16])
def test_array_reader_yields_every_element_at_any_chunk_size(chunk_size):
    body = json.dumps(ROWS, ensure_ascii=False, indent=1).encode()
    out = list(iter_json_array(io.BytesIO(body), max_line_bytes=1 << 20, chunk_size=chunk_size))
    assert [n for n, _ in out] == list(range(1, len(ROWS) + 1))
    assert [v for _, v in out] == ROWS


@pytest.mark.parametrize("chunk_size", [1, 5, 1 << 16])
def test_jsonl_reader_yields_every_line_with_its_number(chunk_size):
    lines = [json.dumps(r, ensure_ascii=False) for r in ROWS]
    lines.insert(2, "")  # a blank line is skipped but counted
    lines[5] = "{oops"
    body = "\r\n".join(lines).encode()  # no final newline, CRLF endings
    out = list(iter_jsonl(io.BytesIO(body), max_line_bytes=1 << 20, chunk_size=chunk_size))
    assert out[0] == (1, ROWS[0])
    assert [n for n, _ in out][:5] == [1, 2, 4, 5, 6]
    assert isinstance(dict(out)[6], ParseError)
    assert out[-1] == (len(lines), ROWS[-1])


def test_readers_refuse_overlong_lines():
    big = json.dumps({"external_id": "x", "data": {"prompt": "p" * 5000}}).encode()
    out = list(iter_jsonl(io.BytesIO(big + b"\n"), max_line_bytes=1000, chunk_size=256))
    assert isinstance(out[0][1], ParseError)
    out = list(iter_json_array(io.BytesIO(b"[" + big + b"]"), max_line_bytes=1000, chunk_size=256))
    assert isinstance(out[-1][1], ParseError)


# --- manage.py import_tasks ----------------------------------------------------------------------

def test_import_tasks_command_same_validation_and_idempotency(lab, project, tmp_path):
    good = tmp_path / "tasks.jsonl"
    good.write_text("\n".join(json.dumps(pair(i)) for i in range(12)) + "\n")
    out = io.StringIO()
    call_command("import_tasks", str(project.pk), str(good), "--no-progress", stdout=out)
    assert "created 12, duplicates 0" in out.getvalue()
    call_command("import_tasks", str(project.pk), str(good), "--no-progress", stdout=out)
    assert "created 0, duplicates 12" in out.getvalue()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([pair(50), {"external_id": "z", "data": {}}]))
    with pytest.raises(CommandError, match="line 2"):
        call_command("import_tasks", str(project.pk), str(bad), "--no-progress", stdout=out)
    assert Task.objects.filter(project=project).count() == 12
    with pytest.raises(CommandError, match="No project"):
        call_command("import_tasks", "999999", str(good), "--no-progress", stdout=out)


def test_work_arrived_notification_only_after_commit_and_only_for_new_tasks(lab, project):
    """The notification job is an outbox row of the upload's transaction: one for new tasks, none for
    duplicates only or for a rejected upload (rolled back with it)."""
    from marketplace.models import OutboxEvent

    lab.upload_jsonl(project.pk, [pair(1)])
    jobs = list(OutboxEvent.objects.values_list("job", "args"))
    assert jobs == [("tasks.jobs.queue.notify_work_available", [project.pk])]
    lab.upload_jsonl(project.pk, [pair(1)])  # duplicates only: no new work
    lab.upload_jsonl(project.pk, [pair(2), {"external_id": "bad"}])  # rejected
    assert list(OutboxEvent.objects.values_list("job", "args")) == jobs


@pytest.mark.parametrize(("line", "path"), [
    ('{"external_id": "n1", "data": {"prompt": "a\\u0000b", "language": "python", "response_a": "x", "response_b": "y"}}',
     "data.prompt"),
    ('{"external_id": "n\\u0000", "data": {"prompt": "p", "language": "python", "response_a": "x", "response_b": "y"}}',
     "external_id"),
    ('{"external_id": "n3", "data": {"prompt": "p", "language": "python", "response_a": "x", "response_b": "y", '
     '"meta": {"k\\u0000": 1}}}', "data.meta"),
])
def test_text_the_database_cannot_store_is_a_400_not_a_500(lab, project, line, path):
    response = lab.upload_jsonl(project.pk, [pair(1), line])
    assert response.status_code == 400, response.content
    assert path in response.json()["error"]["lines"][0]["errors"]
    assert not Task.objects.exists()


def test_lone_surrogate_in_a_json_array_is_a_400(lab, project):
    body = ('[{"external_id": "s", "data": {"prompt": "\\ud800", "language": "python", "response_a": "x", '
            '"response_b": "y"}}]')
    response = lab.upload_array(project.pk, body)
    assert response.status_code == 400, response.content
    assert not Task.objects.exists()


def test_a_literal_backslash_u0000_in_code_is_kept(lab, project):
    row = pair(1)
    row["data"]["response_a"] = "print('\\u0000')"
    assert lab.upload_jsonl(project.pk, [row]).status_code == 201
    assert Task.objects.get().data["response_a"] == "print('\\u0000')"


def test_huge_project_id_is_404(lab):
    assert lab.get("/api/v1/projects/99999999999999999999999/").status_code == 404


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_uploads_store_each_task_once():
    """Two clients' retries racing: the unique (project, external_id) plus ON CONFLICT DO NOTHING make
    the second transaction wait for the first and count everything as duplicates."""
    import threading

    from django.db import connection as main_connection

    if main_connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    lab = ClientSession("Lab Race")
    project = make_project(lab.client_row)
    body = ("\n".join(json.dumps(pair(i)) for i in range(2000)) + "\n").encode()
    results, barrier = [], threading.Barrier(3)

    def upload():
        from django.db import connection

        from tasks.services.ingest import tasks_ingest

        try:
            barrier.wait()
            report = tasks_ingest(project_id=project.pk, items=iter_jsonl(io.BytesIO(body), max_line_bytes=1 << 20))
            results.append((report.created, report.duplicates))
        finally:
            connection.close()

    threads = [threading.Thread(target=upload) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(results) == [(0, 2000), (0, 2000), (2000, 0)]
    assert Task.objects.filter(project=project).count() == 2000


def test_task_ids_follow_upload_order(lab, project):
    rows = [pair(i) for i in range(3000, 0, -1)]  # external ids in descending order
    lab.upload_jsonl(project.pk, rows[:1000])  # some known ids, so the anti-join has work to do
    assert lab.upload_jsonl(project.pk, rows).json() == {"created": 2000, "duplicates": 1000}
    ids = list(Task.objects.filter(project=project).order_by("id").values_list("external_id", flat=True))
    assert ids == [r["external_id"] for r in rows]


def test_a_large_upload_refreshes_the_planners_statistics_after_it_commits(lab, project, settings):
    """An upload of TASKS_INGEST_ANALYZE_ROWS new tasks or more records (in its own transaction, the outbox)
    that the task table is analyzed; a smaller one, a duplicates-only retry or a rejected one do not. The
    job's ANALYZE leaves statistics that count the new rows, with the project's id among the common values
    of project_id (what the claim's plans read)."""
    from django.db import connection

    from marketplace.models import OutboxEvent
    from tasks.jobs.queue import analyze_tasks

    settings.TASKS_INGEST_ANALYZE_ROWS = 5

    def analyze_jobs() -> int:
        return OutboxEvent.objects.filter(job="tasks.jobs.queue.analyze_tasks").count()

    lab.upload_jsonl(project.pk, [pair(i) for i in range(4)])
    assert analyze_jobs() == 0
    lab.upload_jsonl(project.pk, [pair(i) for i in range(4, 10)] + [{"external_id": "bad"}])  # rejected
    lab.upload_jsonl(project.pk, [pair(i) for i in range(4)])  # duplicates only
    assert analyze_jobs() == 0
    lab.upload_jsonl(project.pk, [pair(i) for i in range(4, 10)])
    assert analyze_jobs() == 1 and Task.objects.filter(project=project).count() == 10

    analyze_tasks()
    analyze_tasks()  # safe twice
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'tasks_task'")
            assert cursor.fetchone()[0] == 10
            cursor.execute("SELECT most_common_vals::text FROM pg_stats "
                           "WHERE tablename = 'tasks_task' AND attname = 'project_id'")
            assert str(project.pk) in cursor.fetchone()[0].strip("{}").split(",")
        else:
            cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'tasks_task'")
            assert {row[0].split()[0] for row in cursor.fetchall()} == {"10"}
