"""Paths that must not grow with the tables (issue 15), checked by the shape of their statements; the
figures at scale are bench/scale_paths.py's.

- The "there is work" notifier reads workers in keyset batches: every candidate read is LIMITed, walks
  user ids upwards, and has no GROUP BY (a GROUP BY over every candidate made each batch cost all of them);
  it mails every eligible worker across batches, each once.
- The results stream (JSONL and CSV) and the preference export read tasks in keyset chunks (LIMIT CHUNK
  after the last id: no server-side cursor, so the same behind PgBouncer in transaction mode) and
  judgments chunk by chunk: one judgment statement per chunk of tasks, each naming at most CHUNK task ids,
  so memory is one chunk whatever the project holds.
"""

import json
import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from tasks.selectors import results as results_selectors
from tasks.services.queue_notify import work_available_notify
from tests.conftest import make_user
from tests.tasks.client_support import ClientSession, add_judgment, pair
from tests.tasks.client_support import make_project as client_project
from tests.tasks.test_queue_factories import make_project, make_tasks, make_worker

pytestmark = pytest.mark.django_db


def _candidate_reads(queries) -> list[str]:
    return [q["sql"] for q in queries if 'FROM "marketplace_user"' in q["sql"].split("WHERE")[0]
            and "notify_new_work" in q["sql"]]


@override_settings(QUEUE_NOTIFY_BATCH_SIZE=2)
def test_notifier_reads_workers_in_limited_keyset_batches_without_group_by():
    project = make_project(overlap=3)
    make_tasks(project, 2)
    workers = [make_worker(f"n{i}@example.com") for i in range(5)]
    mail.outbox.clear()
    with CaptureQueriesContext(connection) as ctx:
        assert work_available_notify(project_id=project.pk) == 5
    assert sorted(m.to[0] for m in mail.outbox) == sorted(w.email for w in workers)
    reads = _candidate_reads(ctx.captured_queries)
    batched = [sql for sql in reads if '"marketplace_user"."id" > ' in sql]
    # Three batches of at most two, and the empty read that ends the walk; each LIMITed, in id order.
    assert len(batched) == 4, reads
    assert all(re.search(r"ORDER BY .* ASC\s+LIMIT 2$", sql) for sql in batched), batched
    # The share cap is a per-worker count, never a GROUP BY over every candidate.
    assert not any(re.search(r"\bHAVING\b", sql) or 'GROUP BY "marketplace_user"' in sql for sql in reads), reads
    assert work_available_notify(project_id=project.pk) == 0


@override_settings(QUEUE_NOTIFY_BATCH_SIZE=2)
def test_notifier_statements_grow_with_batches_not_with_history():
    """The statements of one run depend on the workers mailed (batches), not on the project's assignments."""
    project = make_project(overlap=3, max_judgments_per_worker=10_000)
    make_tasks(project, 3)
    for i in range(3):
        make_worker(f"m{i}@example.com")
    with CaptureQueriesContext(connection) as ctx:
        assert work_available_notify(project_id=project.pk) == 3
    before = len(ctx.captured_queries)
    # Lots of history by someone else (not notified: opted out), then the same three workers again.
    other = make_user("history@example.com")
    for task in make_tasks(project, 30, start=100):
        add_judgment(task, other, {"choice": "a"})
    from tasks.models import WorkNotification

    WorkNotification.objects.all().delete()
    with CaptureQueriesContext(connection) as ctx:
        assert work_available_notify(project_id=project.pk) == 3
    assert len(ctx.captured_queries) == before


@pytest.mark.parametrize("path", ["results/?format=jsonl", "export/results.csv"])
def test_results_stream_reads_judgments_one_bounded_chunk_at_a_time(monkeypatch, path):
    monkeypatch.setattr(results_selectors, "CHUNK", 2)
    lab = ClientSession("Chunk lab")
    project = client_project(lab.client_row)
    lab.upload_jsonl(project.pk, [pair(i) for i in range(5)])
    rater = make_user("chunk-rater@example.com")
    from tasks.models import Task

    for task in Task.objects.filter(project=project):
        add_judgment(task, rater, {"choice": "a"})
    with CaptureQueriesContext(connection) as ctx:
        response = lab.get(f"/api/v1/projects/{project.pk}/{path}")
        body = b"".join(response.streaming_content)
    assert response.status_code == 200 and body.count(b"chunk") == 0
    judgment_reads = [q["sql"] for q in ctx.captured_queries if 'FROM "tasks_judgment"' in q["sql"]]
    assert len(judgment_reads) == 3, judgment_reads  # 5 tasks in chunks of 2
    for sql in judgment_reads:
        ids = re.search(r'"task_id" IN \(([^)]*)\)', sql)
        assert ids and len(ids.group(1).split(",")) <= 2, sql
    task_reads = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('SELECT "tasks_task"."id"')]
    assert len(task_reads) == 3 and all(re.search(r"LIMIT 2$", sql) for sql in task_reads), task_reads
    assert all('"tasks_task"."id" > ' in sql for sql in task_reads[1:]), task_reads


def test_preference_export_walks_tasks_in_keyset_chunks_and_misses_none(monkeypatch):
    from quality.models import TaskConsensus
    from tasks.models import Task
    from tasks.selectors import preferences

    monkeypatch.setattr(preferences, "CHUNK", 2)
    lab = ClientSession("Keyset lab")
    project = client_project(lab.client_row)
    lab.upload_jsonl(project.pk, [pair(i) for i in range(5)])
    from django.utils import timezone

    for task in Task.objects.filter(project=project):
        Task.objects.filter(pk=task.pk).update(status="complete", completed_at=timezone.now())
        TaskConsensus.objects.create(task=task, project=project, answer={"choice": "a"}, confidence=0.9,
                                     method="majority", n_judgments=3, computed_at=timezone.now())
    with CaptureQueriesContext(connection) as ctx:
        response = lab.get(f"/api/v1/projects/{project.pk}/export/preferences.jsonl")
        lines = b"".join(response.streaming_content).decode().splitlines()
    assert response.status_code == 200 and len(lines) == 5
    assert sorted(json.loads(line)["external_id"] for line in lines) == [f"ex-{i}" for i in range(5)]
    sqls = [q["sql"] for q in ctx.captured_queries]
    keyset = [sql for sql in sqls if sql.endswith('ORDER BY "tasks_task"."id" ASC LIMIT 2') and "consensus" not in sql]
    records = [sql for sql in sqls if 'INNER JOIN "quality_taskconsensus"' in sql and '"tasks_task"."id" IN (' in sql]
    assert len(keyset) == 3 and len(records) == 3, [s for s in sqls if "LIMIT" in s or "IN (" in s]  # 5 in chunks of 2
    assert all(len(re.search(r'"tasks_task"\."id" IN \(([^)]*)\)', sql).group(1).split(",")) <= 2 for sql in records)
