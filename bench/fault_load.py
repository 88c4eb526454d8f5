"""The claim -> submit loop while Redis (the Celery broker) is killed and restarted (issue 14).

    .venv/bin/python -m bench.fault_load --workers 8 --seconds 30

Runs the real stack on a throwaway PostgreSQL database: gunicorn, a Celery worker, the outbox relay, and a
redis-server of the bench's own (AOF on, as a production broker should be). Two phases of the same loop
(bench.claim_load's simulated workers): a baseline with Redis up, then the same load during which Redis is
killed with SIGKILL at 1/3 of the phase and started again at 2/3. After the phase the bench waits for the
outbox to drain and reports, next to the baseline:
  - requests that failed (any claim answer but 201/204, any submit answer but 200, connection errors);
  - data lost: submits answered 200 without their judgment, judgments without their credit, completed
    tasks without their consensus, outbox events whose job never finished;
  - how long after Redis' return the last held consequence (consensus) arrived.
Both counts must be zero.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

from bench.claim_load import _free_port, _login, _phase, _report, _wait_for_port

ROOT = Path(__file__).resolve().parent.parent


def _state(db_url: str) -> dict:
    """Counts read straight from the database (psycopg, no Django)."""
    import psycopg

    with psycopg.connect(db_url) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "judgments": one("SELECT count(*) FROM tasks_judgment"),
            "submitted": one("SELECT count(*) FROM tasks_assignment WHERE status = 'submitted'"),
            "credited_cents": one("SELECT COALESCE(sum(balance_cents), 0) FROM payments_ledgeraccount "
                                  "WHERE kind = 'worker_payable'"),
            "reward_cents": one("SELECT COALESCE(sum(p.reward_cents), 0) FROM tasks_judgment j "
                                "JOIN tasks_project p ON p.id = j.project_id"),
            "complete": one("SELECT count(*) FROM tasks_task WHERE status = 'complete' AND NOT is_gold"),
            "without_consensus": one("SELECT count(*) FROM tasks_task t WHERE t.status = 'complete' AND NOT t.is_gold "
                                     "AND NOT EXISTS (SELECT 1 FROM quality_taskconsensus c WHERE c.task_id = t.id)"),
            "outbox_not_done": one("SELECT count(*) FROM marketplace_outboxevent WHERE done_at IS NULL"),
            "outbox_redelivered": one("SELECT count(*) FROM marketplace_outboxevent WHERE publishes > 1"),
        }


def main() -> None:
    from tests.marketplace.fault_support import OwnRedis

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30, help="duration of each phase")
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--gunicorn-workers", type=int, default=3)
    parser.add_argument("--gunicorn-threads", type=int, default=8)
    parser.add_argument("--client-procs", type=int, default=2)
    args = parser.parse_args()

    server = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    dbname = f"bench_fault_{os.getpid()}"
    db_url = urlparse(server)._replace(path=f"/{dbname}").geturl()
    import psycopg

    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    var = Path(tempfile.mkdtemp(prefix="bench-fault-"))
    redis = OwnRedis(var).start()
    env = dict(os.environ, DATABASE_URL=db_url, DJANGO_SETTINGS_MODULE="bench.claim_load_settings",
               SECRET_KEY="bench-secret-key-0123456789-abcdefghijklmnop", DEBUG="0", ALLOWED_HOSTS="127.0.0.1",
               VAR_DIR=str(var), PYTHONPATH=str(ROOT), QUEUE_MAX_LIVE_CLAIMS="100000000", LOG_LEVEL="WARNING",
               DB_CONN_MAX_AGE="600", ACCOUNT_RATE_LIMITS_OFF="1", REDIS_URL=redis.url, CELERY_BROKER_URL=redis.url,
               CELERY_QUEUE="bench-fault", STRIPE_WEBHOOK_SECRET=f"whsec_{os.urandom(16).hex()}",
               SECURE_SSL_REDIRECT="0")
    procs: list[subprocess.Popen] = []
    logs = []

    def start(name: str, argv: list[str]) -> subprocess.Popen:
        log = open(var / f"{name}.log", "a")  # noqa: SIM115 - closed at the end
        logs.append(log)
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(proc)
        return proc

    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        out = subprocess.run([sys.executable, "-m", "bench.claim_load", "--seed", str(args.workers), str(args.tasks)],
                             cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
        project = json.loads(out.strip().splitlines()[-1])["project"]
        port = _free_port()
        gunicorn = start("gunicorn", [str(Path(sys.executable).parent / "gunicorn"), "marketplace.wsgi",
                                      "-b", f"127.0.0.1:{port}", "-w", str(args.gunicorn_workers), "-k", "gthread",
                                      "--threads", str(args.gunicorn_threads), "--keep-alive", "30",
                                      "--log-level", "warning"])
        start("worker", [sys.executable, "-m", "celery", "-A", "marketplace", "worker", "-Q", "bench-fault", "-c", "2",
                         "-l", "warning", "--without-gossip", "--without-mingle"])
        start("relay", [sys.executable, "manage.py", "outbox_relay"])
        _wait_for_port(port)
        tokens = [_login(port, f"bench{i}@example.com") for i in range(args.workers)]
        n_procs = max(1, min(args.client_procs, args.workers))
        marks: dict[str, float] = {}

        def fault(seconds: float) -> None:
            time.sleep(seconds / 3)
            redis.kill()
            marks["killed"] = time.monotonic()
            time.sleep(seconds / 3)
            redis.start()
            marks["back"] = time.monotonic()
            back_wall = time.time()
            # When was everything committed during the outage published (the outbox's own latency)?
            with psycopg.connect(db_url) as conn:
                while time.monotonic() - marks["back"] < 120:
                    held = conn.execute("SELECT count(*) FROM marketplace_outboxevent WHERE sent_at IS NULL "
                                        "AND created_at <= to_timestamp(%s)", [back_wall]).fetchone()[0]
                    if held == 0:
                        marks["published"] = time.monotonic()
                        return
                    time.sleep(0.1)

        with multiprocessing.get_context("fork").Pool(n_procs) as pool:
            _phase(pool, "trivial", port, tokens, project, 2, n_procs, 0)  # warm-up
            baseline = _phase(pool, "loop", port, tokens, project, args.seconds, n_procs, 0, server_pid=gunicorn.pid)
            before = _state(db_url)
            chaos = threading.Thread(target=fault, args=(args.seconds,))
            chaos.start()
            faulted = _phase(pool, "loop", port, tokens, project, args.seconds, n_procs, 0, server_pid=gunicorn.pid)
            chaos.join()  # returns once the held jobs are published
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state = _state(db_url)
            if state["outbox_not_done"] == 0 and state["without_consensus"] == 0:
                break
            time.sleep(0.2)
        drained = time.monotonic()

        print(f"\nfault_load: {args.workers} workers, {args.seconds:g}s per phase, Redis killed at "
              f"{args.seconds / 3:.0f}s and back at {2 * args.seconds / 3:.0f}s of the second phase, {os.cpu_count()} cores")
        print(f"{'phase':22} {'claim/s':>8} {'submit/s':>9} {'claim p95':>10} {'submit p95':>11} {'failed':>7}")
        for name, result in (("baseline (Redis up)", baseline), ("Redis killed+restarted", faulted)):
            rows = _report(result)
            print(f"{name:22} {rows['claim']['per_s']:8.0f} {rows['submit']['per_s']:9.0f} "
                  f"{rows['claim']['p95']:10.1f} {rows['submit']['p95']:11.1f} {result['errors']:7d}")
        ok_submits = baseline["ok"] + faulted["ok"]
        lost = {
            "submits answered 200 without a judgment": max(0, ok_submits - state["judgments"]),
            "judgments without their credit (cents)": max(0, state["reward_cents"] - state["credited_cents"]),
            "completed tasks without consensus": state["without_consensus"],
            "outbox events whose job never finished": state["outbox_not_done"],
        }
        print(f"\nrequests failed: {baseline['errors'] + faulted['errors']}")
        print(f"data lost: {sum(lost.values())}  " + "; ".join(f"{k} {v}" for k, v in lost.items()))
        print(f"judgments {state['judgments']} (submits answered 200: {ok_submits}), credited "
              f"{state['credited_cents']} cents, completed tasks {state['complete']} "
              f"({state['complete'] - before['complete']} in the faulted phase), outbox events published "
              f"more than once {state['outbox_redelivered']}")
        if "back" in marks:
            print(f"Redis was down {marks['back'] - marks['killed']:.1f}s; every job held in the outbox was "
                  f"published {marks.get('published', float('nan')) - marks['back']:.1f}s after it returned; "
                  f"the worker had run every job of both phases {drained - marks['back']:.1f}s after it returned")
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
        for log in logs:
            log.close()
        redis.stop()
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


if __name__ == "__main__":
    main()
