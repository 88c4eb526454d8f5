"""CPU and wall time per request of the trivial endpoint, the claim and claim+submit, in this process
through Django's test client (no HTTP, no load generator), with the SQL of one claim and one submit.

    .venv/bin/python -m bench.claim_profile 300
    CPROFILE=1|claim|trivial [CPROFILE_SORT=cumulative] [CPROFILE_FILTER=regex] [CPROFILE_LINES=40] .venv/bin/python -m bench.claim_profile 300   # plus a cProfile of the pairs

Same database content and settings as bench/claim_load.py (8 workers, 5,000 tasks, overlap 3), on a
throwaway database on BENCH_DATABASE_URL's server, created and dropped here.
"""

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.throwaway_db import claim_load_database

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-not-secret-1"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with claim_load_database("claim_profile") as env:
        out = subprocess.run([sys.executable, "-m", "bench.claim_load", "--seed", "8", "5000"], cwd=ROOT, env=env,
                             check=True, capture_output=True, text=True).stdout
        project = json.loads(out.strip().splitlines()[-1])["project"]
        _measure(n, project)


def _measure(n: int, project: int) -> None:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    tokens = [client.post("/_allauth/app/v1/auth/login", {"email": f"bench{i}@example.com", "password": PASSWORD},
                          content_type="application/json").json()["meta"]["session_token"] for i in range(8)]
    turn = itertools.cycle(tokens)

    def ping():
        return client.get("/bench/ping/", HTTP_X_SESSION_TOKEN=tokens[0])

    def claim():
        token = next(turn)
        response = client.post("/api/v1/assignments/claim/", {"project": project}, content_type="application/json",
                               HTTP_X_SESSION_TOKEN=token)
        return response, token

    def submit(response, token):
        return client.post(f"/api/v1/assignments/{response.json()['id']}/submit/",
                           {"answer": {"choice": "a"}, "seconds_spent": 3}, content_type="application/json",
                           HTTP_X_SESSION_TOKEN=token)

    def pair():
        return submit(*claim())

    for _ in range(20):  # warm-up: connections, plans, caches (and every worker's ledger accounts)
        ping()
        pair()
    for name in ("claim", "submit"):
        claimed = claim() if name == "submit" else None
        with CaptureQueriesContext(connection) as queries:
            submit(*claimed) if claimed else claim()
        print(f"{len(queries.captured_queries)} statements in one {name}:")
        for query in queries.captured_queries:
            print(f"  {query['time']}  {' '.join(query['sql'].split())[:130]}")
    for name, call in (("trivial", ping), ("claim", claim), ("claim+submit", pair)):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            call()
        print(f"{name:13} {(time.perf_counter() - wall) / n * 1000:7.2f} ms wall {(time.process_time() - cpu) / n * 1000:7.2f}"
              f" ms CPU per request (pair)")
    print(f"load average (1 min): {os.getloadavg()[0]:.1f}")
    with connection.cursor() as cursor:  # which prepared statements PostgreSQL re-plans every time (custom plans)
        cursor.execute("SELECT generic_plans, custom_plans, left(regexp_replace(statement, '\\s+', ' ', 'g'), 70) "
                       "FROM pg_prepared_statements ORDER BY custom_plans DESC, generic_plans DESC LIMIT 12")
        print("prepared statements (generic plans, custom plans, statement):")
        for generic, custom, statement in cursor.fetchall():
            print(f"  {generic:6} {custom:6}  {statement}")
    if os.environ.get("EXPLAIN"):  # EXPLAIN=1: PostgreSQL's own time per statement of one claim and one submit
        _explain(claim, submit, connection)
    if os.environ.get("CPROFILE"):  # CPROFILE=1: where a claim+submit pair's Python time goes
        import cProfile
        import pstats

        profile = cProfile.Profile()
        call = {"claim": claim, "trivial": ping}.get(os.environ["CPROFILE"], pair)  # CPROFILE=claim|trivial|1
        profile.runcall(lambda: [call() for _ in range(n)])
        stats = pstats.Stats(profile).sort_stats(os.environ.get("CPROFILE_SORT", "tottime"))
        restrictions = [os.environ["CPROFILE_FILTER"]] if os.environ.get("CPROFILE_FILTER") else []
        stats.print_stats(*restrictions, int(os.environ.get("CPROFILE_LINES", "40")))
        if os.environ.get("CPROFILE_CALLEES"):  # e.g. CPROFILE_CALLEES=assignment_submit
            stats.print_callees(os.environ["CPROFILE_CALLEES"])


def _explain(claim, submit, connection) -> None:
    """EXPLAIN ANALYZE of each statement one claim and one submit ran, as they ran (with their values), each
    in a transaction rolled back, after the history the timing loops above left behind."""
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as claimed:
        response, token = claim()
    with CaptureQueriesContext(connection) as submitted:
        submit(response, token)
    for name, queries in (("claim", claimed), ("submit", submitted)):
        for query in queries.captured_queries:
            sql = query["sql"]
            if sql.split()[0].upper() in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"):
                continue
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, SUMMARY ON) {sql}")
                    plan = [row[0] for row in cursor.fetchall()]
                    transaction.set_rollback(True)
            except Exception as error:  # noqa: BLE001 - a statement that cannot be replayed is reported, not fatal
                plan = [f"(not replayable: {error})"]
            print(f"{name}: {' '.join(sql.split())[:110]}")
            timings = [line.strip() for line in plan if "Execution Time" in line or "Planning Time" in line]
            print("   " + " | ".join(timings or plan))  # a statement that could not be replayed says why
            if os.environ.get("EXPLAIN") == "full":
                print("\n".join("      " + line for line in plan))


if __name__ == "__main__":
    main()
