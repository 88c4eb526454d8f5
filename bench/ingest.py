"""Bulk ingest benchmark: 100k pairwise tasks through POST /api/v1/projects/{id}/tasks/ (JSONL, the real
view, authentication and validation, via Django's test client) next to a plain bulk_create of the same rows
in the same run, on the test PostgreSQL server.

    TEST_DB_NAME=bench_ingest .venv/bin/python bench/ingest.py [--rows 100000]

Creates and drops its own database (TEST_DB_NAME). Prints tasks/s for each and the ratio.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("TEST_DB_NAME", "bench_ingest")


def rows(n: int, tag: str) -> list[dict]:
    out = []
    for i in range(n):
        out.append({"external_id": f"{tag}-{i}", "data": {
            "prompt": f"Write a function that returns the {i}th Fibonacci number.",
            "language": "python" if i % 2 else "javascript",
            "response_a": f"def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a  # {i}",
            "response_b": f"def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)  # {i}",
        }})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment
    from rest_framework.test import APIClient

    from tasks.models import Task
    from tasks.services.clients import client_api_key_create, client_create
    from tasks.services.projects import project_create

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False, serialize=False)
    try:
        print(f"database: {connection.vendor} {connection.settings_dict['NAME']}, rows: {args.rows}, "
              f"batch size {settings.TASKS_INGEST_BATCH_SIZE}")
        client = client_create(name="Bench Lab")
        _, key = client_api_key_create(client=client)
        common = dict(task_type="pairwise", instructions="i", data_use_statement="d", reward_cents=10, overlap=3)
        p_api = project_create(client=client, name="api", **common)
        p_base = project_create(client=client, name="baseline", **common)
        api_rows = rows(args.rows, "api")
        body = ("\n".join(json.dumps(r) for r in api_rows) + "\n").encode()
        print(f"body: {len(body) / 1e6:.1f} MB")

        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        started = time.perf_counter()
        response = api.post(f"/api/v1/projects/{p_api.pk}/tasks/", body, content_type="application/x-ndjson")
        api_s = time.perf_counter() - started
        assert response.status_code == 201, response.content[:500]
        assert response.json() == {"created": args.rows, "duplicates": 0}, response.json()

        started = time.perf_counter()
        response = api.post(f"/api/v1/projects/{p_api.pk}/tasks/", body, content_type="application/x-ndjson")
        retry_s = time.perf_counter() - started
        assert response.json() == {"created": 0, "duplicates": args.rows}, response.json()

        base_rows = rows(args.rows, "base")
        started = time.perf_counter()
        Task.objects.bulk_create(
            [Task(project=p_base, external_id=r["external_id"], data=r["data"], overlap=3) for r in base_rows],
            batch_size=settings.TASKS_INGEST_BATCH_SIZE)
        base_s = time.perf_counter() - started
        assert Task.objects.filter(project=p_base).count() == args.rows

        api_rate, base_rate, retry_rate = args.rows / api_s, args.rows / base_s, args.rows / retry_s
        print(f"API upload (JSONL, validated):   {api_s:6.2f} s  {api_rate:9,.0f} tasks/s")
        print(f"API retry (all duplicates):      {retry_s:6.2f} s  {retry_rate:9,.0f} tasks/s")
        print(f"baseline bulk_create (no checks): {base_s:6.2f} s  {base_rate:9,.0f} tasks/s")
        print(f"ratio API / bulk_create: {api_rate / base_rate:.2f}   target >= 25,000 tasks/s via the API: "
              f"{'met' if api_rate >= 25_000 else 'NOT met'}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
