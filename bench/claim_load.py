"""Load benchmark of the assignment queue over HTTP: gunicorn on a throwaway PostgreSQL database.

    .venv/bin/python -m bench.claim_load --workers 8 --seconds 10
    .venv/bin/python -m bench.claim_load --workers 64 --seconds 10

N simulated workers (each a real account, signed in through allauth) run, one phase after the other on
the same server:
  1. trivial: GET /bench/ping/ (authenticated DRF view, no work beyond authentication): the ceiling;
  2. claim:   POST /api/v1/assignments/claim/ only (live-claim cap lifted for the bench);
  3. loop:    claim -> submit, the way a worker works.
Each phase prints requests/s and p50/p95/p99 latency. Targets (issue 5): loop >= 400 claim+submit/s with
8 workers; claim >= 40% of trivial; p95 <= 50 ms with 64 workers. The database is created and dropped
by the run (BENCH_DATABASE_URL names the server, default postgres://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-not-secret-1"


def _wait_for_port(port: int, seconds: float = 20.0) -> None:
    """Until something accepts connections on 127.0.0.1:port (a server starting), at most `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- seeding (runs in a child process with the bench database configured) ----------------------

def seed_workers(n_workers: int):
    """n ready workers bench0@example.com ... (verified, current terms, qualified in python), each able to
    claim; returns the python skill. Django must be set up."""
    from allauth.account.models import EmailAddress
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from marketplace.models import User
    from workers.models import Qualification, Skill, WorkerProfile

    python = Skill.objects.get_or_create(slug="python", defaults={"name": "Python"})[0]
    now, password = timezone.now(), make_password(PASSWORD)
    for i in range(n_workers):
        user = User.objects.create(email=f"bench{i}@example.com", password=password)
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        profile = WorkerProfile.objects.create(user=user, display_name=f"Bench {i}", country="DE",
                                               timezone="Europe/Berlin", accepted_terms_version=settings.TERMS_VERSION,
                                               accepted_terms_at=now, notify_new_work=False)
        profile.skills.set([python])
        Qualification.objects.create(worker=user, skill=python, score=1.0, granted_at=now)
    return python


def seed(n_workers: int, n_tasks: int) -> None:
    import django

    django.setup()
    from django.db import connection

    from tasks.models import Client, Project, Task

    python = seed_workers(n_workers)
    client = Client.objects.create(name="bench client")
    project = Project.objects.create(
        client=client, name="bench project", task_type="pairwise", label_schema={}, instructions="Pick one.",
        data_use_statement="Benchmark data.", reward_cents=10, overlap=3, max_judgments_per_worker=10**6)
    project.required_qualifications.set([python])
    data = {"prompt": "Reverse a list", "language": "python", "response_a": "x[::-1]", "response_b": "x.reverse()"}
    Task.objects.bulk_create([Task(project=project, external_id=str(i), data=data, overlap=3)
                              for i in range(n_tasks)], batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # plans made on empty tables stay bad (NOTES.md)
    print(json.dumps({"project": project.pk}))


# --- the simulated workers ------------------------------------------------------------------------

class Http:
    """One keep-alive connection; request() returns (status, body bytes, seconds)."""

    def __init__(self, port: int, token: str | None = None):
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: dict | None = None):
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["X-Session-Token"] = self.token
        payload = json.dumps(body).encode() if body is not None else None
        for attempt in range(2):
            start = time.perf_counter()
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                return response.status, data, time.perf_counter() - start
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def _login(port: int, email: str) -> str:
    status, body, _ = Http(port).request("POST", "/_allauth/app/v1/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200, body
    return json.loads(body)["meta"]["session_token"]


def _client(args) -> dict:
    """One process of simulated workers (one thread each) running one phase until the deadline."""
    phase, port, tokens, project, deadline, think = args
    lat: dict[str, list[float]] = {"claim": [], "submit": [], "ping": []}
    counts = {"ok": 0, "empty": 0, "errors": 0}
    lock = threading.Lock()

    def run(token: str) -> None:
        conn = Http(port, token)
        pause = random.Random(token)
        if think:  # people do not start in step: a random start within one think time
            time.sleep(pause.uniform(0, think))
        mine: dict[str, list[float]] = {"claim": [], "submit": [], "ping": []}
        ok = empty = errors = 0
        while time.time() < deadline:
            if phase == "trivial":
                status, _, seconds = conn.request("GET", "/bench/ping/")
                mine["ping"].append(seconds)
                ok, errors = ok + (status == 200), errors + (status != 200)
                continue
            status, body, seconds = conn.request("POST", "/api/v1/assignments/claim/", {"project": project})
            mine["claim"].append(seconds)
            if status == 204:
                empty += 1
                continue
            if status != 201:
                errors += 1
                continue
            if phase == "claim":
                ok += 1
                continue
            if think:
                # Think times vary from task to task: exponential with the given mean, so the workforce's
                # requests arrive like independent people's rather than in lockstep.
                time.sleep(pause.expovariate(1 / think))
            assignment = json.loads(body)["id"]
            status, _, seconds = conn.request("POST", f"/api/v1/assignments/{assignment}/submit/",
                                              {"answer": {"choice": "a"}, "seconds_spent": 3})
            mine["submit"].append(seconds)
            ok, errors = ok + (status == 200), errors + (status != 200)
        with lock:
            for key in lat:
                lat[key].extend(mine[key])
            counts["ok"] += ok
            counts["empty"] += empty
            counts["errors"] += errors

    threads = [threading.Thread(target=run, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"lat": lat, "counts": counts}


def _cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the gunicorn processes (the server's process group), by PostgreSQL's
    processes, and by everything else (the load generator, other sessions), from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {"server": 0.0, "postgres": 0.0, "other": 0.0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        group = "server" if int(fields[2]) == server_pid else "postgres" if name.startswith("postgres") else "other"
        used[group] += seconds
    return used


def _phase(pool, phase: str, port: int, tokens: list[str], project: int, seconds: float, procs: int,
           think: float, server_pid: int = 0) -> dict:
    deadline = time.time() + seconds
    chunks = [tokens[i::procs] for i in range(procs)]
    cpu_before = _cpu_seconds(server_pid) if server_pid else None
    start = time.perf_counter()
    results = pool.map(_client, [(phase, port, chunk, project, deadline, think) for chunk in chunks if chunk])
    elapsed = time.perf_counter() - start
    cpu = ({k: v - cpu_before[k] for k, v in _cpu_seconds(server_pid).items()} if cpu_before else None)
    lat = {k: [x for r in results for x in r["lat"][k]] for k in ("claim", "submit", "ping")}
    counts = {k: sum(r["counts"][k] for r in results) for k in ("ok", "empty", "errors")}
    return {"phase": phase, "elapsed": elapsed, "lat": lat, "cpu": cpu, **counts}


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def _report(result: dict) -> dict:
    rows = {}
    for key, values in result["lat"].items():
        if values:
            rows[key] = {"per_s": len(values) / result["elapsed"], "p50": _pct(values, 0.5), "p95": _pct(values, 0.95),
                         "p99": _pct(values, 0.99), "mean": statistics.fmean(values) * 1000, "n": len(values)}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=8, help="simulated workers (accounts, one thread each)")
    parser.add_argument("--seconds", type=float, default=10, help="duration of each phase")
    parser.add_argument("--tasks", type=int, default=40000, help="tasks in the project (overlap 3)")
    parser.add_argument("--gunicorn-workers", type=int, default=3)
    parser.add_argument("--gunicorn-threads", type=int, default=8)
    parser.add_argument("--client-procs", type=int, default=2, help="client processes the workers are spread over")
    parser.add_argument("--phases", default="trivial,claim,loop",
                        help="which phases to run, in order (a profiler attached to the server may want only the loop)")
    parser.add_argument("--think-ms", type=float, default=0,
                        help="mean pause between claim and submit (a worker thinking; exponential, random start)")
    args = parser.parse_args()

    server = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    dbname = f"bench_claim_{os.getpid()}"
    url = urlparse(server)
    db_url = url._replace(path=f"/{dbname}").geturl()
    import psycopg

    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    var = tempfile.mkdtemp(prefix="bench-claim-")
    env = dict(os.environ, DATABASE_URL=db_url, DJANGO_SETTINGS_MODULE="bench.claim_load_settings",
               SECRET_KEY="bench-secret-key-0123456789-abcdefghijklmnop", DEBUG="0", ALLOWED_HOSTS="127.0.0.1",
               VAR_DIR=var, PYTHONPATH=str(ROOT), QUEUE_MAX_LIVE_CLAIMS="100000000", LOG_LEVEL="WARNING",
               DB_CONN_MAX_AGE="600", ACCOUNT_RATE_LIMITS_OFF="1",
               # Production settings (DEBUG=0) over plain http on loopback: a secret of its own, no https redirect.
               STRIPE_WEBHOOK_SECRET=f"whsec_{os.urandom(16).hex()}", SECURE_SSL_REDIRECT="0")
    env.pop("REDIS_URL", None)
    for sub in ("broker/out", "broker/processed", "mail", "static"):
        Path(var, sub).mkdir(parents=True, exist_ok=True)
    gunicorn = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        out = subprocess.run([sys.executable, "-m", "bench.claim_load", "--seed", str(args.workers), str(args.tasks)],
                             cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
        project = json.loads(out.strip().splitlines()[-1])["project"]
        port = _free_port()
        gunicorn = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "marketplace.wsgi", "-b", f"127.0.0.1:{port}",
             "-w", str(args.gunicorn_workers), "-k", "gthread", "--threads", str(args.gunicorn_threads),
             "--keep-alive", "30", "--log-level", "warning"],
            cwd=ROOT, env=env, start_new_session=True)
        _wait_for_port(port)
        tokens = [_login(port, f"bench{i}@example.com") for i in range(args.workers)]
        procs = max(1, min(args.client_procs, args.workers))
        with multiprocessing.get_context("fork").Pool(procs) as pool:
            _phase(pool, "trivial", port, tokens, project, 2, procs, 0)  # warm-up: connections, imports, plans
            results = [_phase(pool, phase, port, tokens, project, args.seconds, procs, args.think_ms / 1000,
                              server_pid=gunicorn.pid)
                       for phase in args.phases.split(",")]
        print(f"\nclaim_load: {args.workers} workers, {args.seconds:g}s per phase, gunicorn "
              f"{args.gunicorn_workers}x{args.gunicorn_threads} gthread, think {args.think_ms:g} ms, "
              f"{os.cpu_count()} cores (client and server share them)")
        print(f"{'phase':8} {'endpoint':8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
        summary = {}
        for result in results:
            for key, row in _report(result).items():
                summary[(result["phase"], key)] = row
                print(f"{result['phase']:8} {key:8} {row['per_s']:8.0f} {row['p50']:8.1f} {row['p95']:8.1f} "
                      f"{row['p99']:8.1f} {result['errors']:7d}")
        print("\nCPU per request (per pair in the loop), ms: server = gunicorn's processes, postgres = all of "
              "PostgreSQL's, other = the load generator and anything else on the machine")
        for result in results:
            n = len(result["lat"]["ping"] or result["lat"]["submit"] or result["lat"]["claim"])
            if result["cpu"] and n:
                per = {k: v / n * 1000 for k, v in result["cpu"].items()}
                print(f"{result['phase']:8} server {per['server']:6.2f}  postgres {per['postgres']:6.2f}  "
                      f"other {per['other']:6.2f}  total {sum(per.values()):6.2f}")
        if not {("trivial", "ping"), ("claim", "claim"), ("loop", "claim")} <= set(summary):
            return
        trivial = summary[("trivial", "ping")]["per_s"]
        claim = summary[("claim", "claim")]["per_s"]
        loop = summary.get(("loop", "submit"), {"per_s": 0})["per_s"]
        print(f"\nclaim / trivial = {claim / trivial:.0%} (target >= 40%); claim+submit loop = {loop:.0f}/s "
              f"(target >= 400 with 8 workers); loop claim p95 = {summary[('loop', 'claim')]['p95']:.1f} ms, "
              f"submit p95 = {summary.get(('loop', 'submit'), {'p95': float('nan')})['p95']:.1f} ms")
        trivial_run = next(r for r in results if r["phase"] == "trivial")
        if trivial_run["cpu"]:
            # The best any claim+submit pair could do here: two requests that each cost no more CPU (server,
            # PostgreSQL, load generator together) than the trivial endpoint, on all of the machine's cores.
            per_request = sum(trivial_run["cpu"].values()) / len(trivial_run["lat"]["ping"])
            print(f"bounds in this run: a pair of two trivial requests costs {2 * per_request * 1000:.2f} ms of CPU, "
                  f"so {os.cpu_count()} cores fit at most {os.cpu_count() / (2 * per_request):.0f} such pairs/s; "
                  f"the trivial endpoint's own p95 at {args.workers} workers is "
                  f"{summary[('trivial', 'ping')]['p95']:.1f} ms")
    finally:
        if gunicorn is not None:
            os.killpg(gunicorn.pid, 15)
            gunicorn.wait(timeout=30)
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--seed":
        seed(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
