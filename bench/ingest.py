"""Bulk ingest benchmark: 100k pairwise tasks through POST /api/v1/projects/{id}/tasks/ (JSONL, the real
view, authentication and validation, via Django's test client) next to a plain bulk_create of the same rows
in the same run, on the test PostgreSQL server.

    TEST_DB_NAME=bench_ingest .venv/bin/python bench/ingest.py [--rows 100000] [--server]

Creates and drops its own database (TEST_DB_NAME). Prints tasks/s for each and the ratio. With --server
the upload also goes through a real gunicorn (one sync worker) over HTTP, the body streamed from a file,
and the worker's peak memory (VmHWM) is printed next to the body size.
"""

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _vm_hwm_kb(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def server_upload(db_name: str, key: str, project_id: int, body: bytes) -> tuple[float, dict, int, int]:
    """POST the body to a real gunicorn; returns (seconds, answer, worker peak RSS in kB after a warm-up
    request, and after the upload)."""
    port = _free_port()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.settings", MARKETPLACE_TEST_DB_NAME=db_name)
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "marketplace.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1",
                             "--timeout", "600", "--log-level", "warning"], cwd=ROOT, env=env)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        children = open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()
        worker_pid = int(children[0])
        warm = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        warm.request("GET", "/api/v1/projects/", headers={"Authorization": f"Api-Key {key}"})
        warm.getresponse().read()
        before_kb = _vm_hwm_kb(worker_pid)
        with tempfile.TemporaryFile() as f:
            f.write(body)
            f.seek(0)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            started = time.perf_counter()
            conn.request("POST", f"/api/v1/projects/{project_id}/tasks/", body=f, headers={
                "Authorization": f"Api-Key {key}", "Content-Type": "application/x-ndjson",
                "Content-Length": str(len(body))})
            response = conn.getresponse()
            answer = json.loads(response.read())
            seconds = time.perf_counter() - started
        return seconds, answer, before_kb, _vm_hwm_kb(worker_pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--server", action="store_true", help="also upload through a real gunicorn")
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

        if args.server:
            p_srv = project_create(client=client, name="server", **common)
            srv_body = body.replace(b'"api-', b'"srv-')
            from django.db import connections

            connections.close_all()  # the server process must see committed rows only; we hold no locks
            srv_s, answer, warm_kb, hwm_kb = server_upload(connection.settings_dict["NAME"], key, p_srv.pk, srv_body)
            assert answer == {"created": args.rows, "duplicates": 0}, answer

        # The Python share of the API figure: read + parse + validate the same body, no database.
        import io

        from tasks.label_schemas import validate_label_schema
        from tasks.services.ingest import row_check
        from tasks.services.ingest_parsing import iter_jsonl

        schema = validate_label_schema("pairwise", {})
        started = time.perf_counter()
        for _, obj in iter_jsonl(io.BytesIO(body), max_line_bytes=1 << 20):
            row_check("pairwise", schema, obj)
        parse_s = time.perf_counter() - started

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
        print(f"API share: parse + validate only:  {parse_s:6.2f} s  {args.rows / parse_s:9,.0f} tasks/s (no database)")
        if args.server:
            print(f"gunicorn upload (HTTP, streamed):  {srv_s:6.2f} s  {args.rows / srv_s:9,.0f} tasks/s; worker peak "
                  f"RSS {warm_kb / 1024:.0f} MB warmed up -> {hwm_kb / 1024:.0f} MB after a {len(body) / 1e6:.0f} MB "
                  "body")
        load = os.getloadavg()[0]
        print(f"load average (1 min) at the end: {load:.1f} on {os.cpu_count()} CPUs")
        print(f"ratio API / bulk_create: {api_rate / base_rate:.2f}   target >= 25,000 tasks/s via the API: "
              f"{'met' if api_rate >= 25_000 else 'NOT met'}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
