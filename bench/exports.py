"""Preference export benchmark: what the X-Export-* headers cost before the first byte, next to the export
itself and to a bare read of the same rows, in the same run, on the test PostgreSQL server.

    TEST_DB_NAME=bench_exports .venv/bin/python bench/exports.py [--tasks 100000] [--judgments 3]

Creates and drops its own database. A pairwise project of N complete tasks, each with a consensus (every
20th a tie, every 50th without one) and `--judgments` approved judgments (the old export counted them per
task; the summary and the stream no longer read them). Prints:
- summary: preferences_summary() (the headers' figures; the summary endpoint), its share of the export;
- export: GET preferences.jsonl through the real view (test client), the body read to the end, and the
  peak of Python allocations while streaming (tracemalloc) next to the body size;
- baseline: SELECT id, external_id, data of the same tasks joined with their consensus, iterated with a
  cursor and nothing else (the least a stream of these records must read).
"""

import argparse
import os
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("TEST_DB_NAME", "bench_exports")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--judgments", type=int, default=3, help="approved judgments per task")
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import setup_test_environment
    from django.utils import timezone
    from rest_framework.test import APIClient

    from quality.models import TaskConsensus
    from tasks.models import Assignment, Judgment, Task
    from tasks.selectors.preferences import preferences_summary
    from tasks.services.clients import client_api_key_create, client_create
    from tasks.services.projects import project_create

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False, serialize=False)
    try:
        n = args.tasks
        client = client_create(name="Bench Lab")
        _, key = client_api_key_create(client=client)
        project = project_create(client=client, name="export", task_type="pairwise", instructions="i",
                                 data_use_statement="d", reward_cents=10, overlap=max(1, args.judgments))
        now = timezone.now()
        started = time.perf_counter()
        Task.objects.bulk_create([Task(project=project, external_id=f"t{i}", overlap=max(1, args.judgments),
                                       status="complete", completed_at=now, data={
                                           "prompt": f"Write a function that returns the {i}th Fibonacci number.",
                                           "language": "python",
                                           "response_a": f"def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n"
                                                         f"        a, b = b, a + b\n    return a  # {i}",
                                           "response_b": f"def fib(n):\n    return n if n < 2 else fib(n - 1) + "
                                                         f"fib(n - 2)  # {i}"}) for i in range(n)],
                                 batch_size=5000)
        ids = list(Task.objects.filter(project=project).order_by("id").values_list("id", flat=True))
        TaskConsensus.objects.bulk_create([
            TaskConsensus(task_id=t, project=project, method="majority", n_judgments=args.judgments,
                          answer={"choice": "tie" if i % 20 == 0 else "ab"[i % 2]}, confidence=0.5 + (i % 50) / 100,
                          computed_at=now) for i, t in enumerate(ids) if i % 50 != 1], batch_size=5000)
        users = get_user_model().objects.bulk_create([
            get_user_model()(email=f"bench{w}@example.com") for w in range(args.judgments)])
        for w, user in enumerate(users):
            assignments = Assignment.objects.bulk_create([
                Assignment(task_id=t, worker=user, project=project, status="submitted", claimed_at=now,
                           expires_at=now, finished_at=now) for t in ids], batch_size=5000)
            Judgment.objects.bulk_create([
                Judgment(assignment=a, task_id=a.task_id, project=project, worker=user, answer={"choice": "ab"[w % 2]},
                         seconds_spent=30.0) for a in assignments], batch_size=5000)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(f"database: {connection.vendor}, {n:,} tasks, {n * args.judgments:,} judgments "
              f"(setup {time.perf_counter() - started:.0f} s)")

        def timed(fn, repeat=3):
            best = None
            for _ in range(repeat):
                started = time.perf_counter()
                result = fn()
                elapsed = time.perf_counter() - started
                best = elapsed if best is None else min(best, elapsed)
            return best, result

        summary_s, summary = timed(lambda: preferences_summary(project=project))
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")

        def export():
            response = api.get(f"/api/v1/projects/{project.pk}/export/preferences.jsonl")
            size = sum(len(chunk) for chunk in response.streaming_content)
            return response, size

        export_s, (response, size) = timed(export)
        assert int(response["X-Export-Pairs"]) == summary["pairs"]
        tracemalloc.start()
        _, lines = export()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        def baseline():
            rows = (Task.objects.filter(project=project, is_gold=False, status="complete",
                                        consensus__confidence__isnull=False)
                    .order_by("id").values_list("id", "external_id", "data", "consensus__answer",
                                                "consensus__confidence", "consensus__n_judgments"))
            return sum(1 for _ in rows.iterator(chunk_size=500))

        base_s, base_rows = timed(baseline)
        print(f"summary (headers' figures):  {summary_s * 1000:8.1f} ms  pairs {summary['pairs']:,}, ties "
              f"{summary['ties']:,}, unresolved {summary['unresolved']:,}")
        print(f"export (view, body read):    {export_s * 1000:8.1f} ms  {size / 1e6:.1f} MB, "
              f"{summary['pairs'] / export_s:,.0f} pairs/s; Python peak while streaming {peak / 1e6:.1f} MB")
        print(f"baseline (bare row read):    {base_s * 1000:8.1f} ms  {base_rows:,} rows")
        print(f"headers cost {summary_s / export_s:.1%} of the export; the export is {export_s / base_s:.1f}x the bare "
              f"read (JSON encoding and HTTP plumbing)")
        print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
