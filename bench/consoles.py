"""Console speed: server time of the ops and finance console pages at scale, next to the naive queries
they avoid, measured in the same run on the same data.

    .venv/bin/python -m bench.consoles                       # 1M tasks, 10M judgments (issue 22)
    .venv/bin/python -m bench.consoles --tasks 100000 --judgments 1000000

Data (PostgreSQL, generated with generate_series in a throwaway database on BENCH_DATABASE_URL's server,
default postgres://postgres@127.0.0.1:5432/postgres, dropped at the end unless --keep): --projects active
projects sharing --tasks tasks, --judgments judgments (each with its assignment) by --workers workers,
created over the last 30 days in id order, 10% of them in the last 24 hours; open flags, pools, ledger
accounts and payout batches for the finance page. The scale bench's shape (issue 21): tasks, assignments
and judgments are the big tables.

Measured: each console's GET through Django (the test client, a signed-in staff user; rendering included),
--repeat times, median and worst; the baseline is the same figures computed the obvious way (COUNT over
the tasks table per project, judgments of the last 24 h by created_at, the median over all of a project's
judgments, as tasks.selectors.pay did before it sampled PAY_HOURLY_SAMPLE).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from bench.throwaway_db import recreate_db

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "bench_consoles"
CREDITED = 200_000  # the newest judgments that get a ledger credit (the hourly samples read them)


def _recreate_db(server_url: str, drop_only: bool = False) -> None:
    recreate_db(server_url, DB_NAME, drop_only=drop_only)


def seed(args) -> None:
    from django.db import connection

    from tests.conftest import make_user

    t0 = time.perf_counter()
    ops = make_user("ops-bench@example.com", groups=("ops",))
    fin = make_user("finance-bench@example.com", groups=("finance",))
    make_user("finance2-bench@example.com", groups=("finance",))
    P, T, J, W = args.projects, args.tasks, args.judgments, args.workers
    per_task = max(1, J // T)
    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = replica")  # no FK triggers during the bulk load
        cur.execute("INSERT INTO tasks_client (name, is_active, callback_url, webhook_secret, pseudonym_salt, "
                    "created_at) VALUES ('Bench client', true, '', 'x', 'x', now()) RETURNING id")
        (client_id,) = cur.fetchone()
        cur.execute("""INSERT INTO tasks_project (client_id, name, task_type, label_schema, instructions,
                       data_use_statement, reward_cents, currency, overlap, lease_seconds, gold_share, priority,
                       status, created_at, updated_at)
                       SELECT %s, 'bench project ' || g, 'pairwise', '{}', 'x', 'x', 25, 'usd', %s, 900, 0, 0,
                              'active', now(), now() FROM generate_series(1, %s) g""", [client_id, per_task, P])
        cur.execute("SELECT min(id) FROM tasks_project")
        (p0,) = cur.fetchone()
        cur.execute("""INSERT INTO marketplace_user (password, is_superuser, email, is_staff, is_active, date_joined)
                       SELECT '!', false, 'w' || g || '@bench.example', false, true, now()
                       FROM generate_series(1, %s) g""", [W])
        cur.execute("SELECT min(id) FROM marketplace_user WHERE email LIKE '%%@bench.example'")
        (w0,) = cur.fetchone()
        cur.execute("""INSERT INTO tasks_task (project_id, external_id, data, is_gold, overlap, n_active, n_submitted,
                       status, priority, age_boost, created_at)
                       SELECT %s + (g %% %s), 't' || g, '{"prompt": "x"}', false, %s,
                              CASE WHEN g %% 3 = 0 THEN %s ELSE 0 END, CASE WHEN g %% 3 = 0 THEN %s ELSE 0 END,
                              CASE WHEN g %% 3 = 0 THEN 'complete' ELSE 'open' END, 0, 0,
                              now() - interval '30 days'
                       FROM generate_series(1, %s) g""", [p0, P, per_task, per_task, per_task, T])
        cur.execute("SELECT min(id) FROM tasks_task")
        (t0_id,) = cur.fetchone()
        print(f"  projects, users, {T} tasks: {time.perf_counter() - t0:.0f}s", flush=True)
        # Judgment k (0-based): task k / per_task, worker (task * 7 + k % per_task) %% W: unique per task.
        # created_at grows with k over 30 days; the last 10%% fall in the last 24 h.
        cur.execute("""INSERT INTO tasks_assignment (task_id, worker_id, project_id, status, served_reason, claimed_at,
                       expires_at, finished_at)
                       SELECT %(t0)s + k / %(pt)s, %(w0)s + (((k / %(pt)s) * 7 + k %% %(pt)s) %% %(W)s),
                              %(p0)s + (((k / %(pt)s) + 1) %% %(P)s), 'submitted', '',
                              ts, ts + interval '15 minutes', ts
                       FROM (SELECT k, CASE WHEN k >= %(J)s * 0.9
                                            THEN now() - interval '24 hours' * (1 - (k - %(J)s * 0.9) / (%(J)s * 0.1))
                                            ELSE now() - interval '30 days' + interval '29 days' * (k / (%(J)s * 0.9))
                                       END AS ts
                             FROM generate_series(0, %(J)s - 1) k) s""",
                    {"t0": t0_id, "pt": per_task, "w0": w0, "W": W, "p0": p0, "P": P, "J": J})
        print(f"  {J} assignments: {time.perf_counter() - t0:.0f}s", flush=True)
        cur.execute("""INSERT INTO tasks_judgment (assignment_id, task_id, project_id, worker_id, answer, seconds_spent,
                       is_gold, status, created_at)
                       SELECT id, task_id, project_id, worker_id, '{"choice": "a"}', 5 + mod(id, 60), false,
                              'approved', finished_at FROM tasks_assignment ORDER BY id""")
        print(f"  {J} judgments: {time.perf_counter() - t0:.0f}s", flush=True)
        cur.execute("""INSERT INTO quality_flag (worker_id, project_id, rule, severity, evidence, status, actions, note,
                       created_at)
                       SELECT %s + g, %s + (g %% %s), 'too_fast', 'review', '{"median_seconds": 1.2}', 'open', '{}',
                              '', now() FROM generate_series(0, 199) g""", [w0, p0, P])
        cur.execute("""INSERT INTO payments_ledgeraccount (kind, worker_id, currency, balance_cents, created_at)
                       SELECT kind, %s + g, 'usd', 100 + g, now() FROM generate_series(0, %s - 1) g,
                       unnest(ARRAY['worker_payable', 'worker_pending', 'worker_held', 'payouts_in_transit',
                                    'paid_out']) kind""",
                    [w0, W])
        # The newest judgments' credits (every project's hourly sample reads them, tasks.selectors.pay): half
        # of them still pending, half payable, each balanced against the platform's funding account.
        cur.execute("""INSERT INTO payments_ledgeraccount (kind, worker_id, currency, balance_cents, created_at)
                       VALUES ('platform_funding', NULL, 'usd', 0, now()) RETURNING id""")
        funding = cur.fetchone()[0]
        cur.execute("""INSERT INTO payments_ledgertransaction (kind, source_ref, currency, memo, created_at)
                       SELECT 'judgment_credit', 'judgment:' || id, 'usd', '', created_at FROM tasks_judgment
                       ORDER BY id DESC LIMIT %s""", [min(J, CREDITED)])
        cur.execute("""INSERT INTO payments_ledgerentry (transaction_id, account_id, amount_cents, created_at)
                       SELECT t.id, a.id, 25, t.created_at FROM payments_ledgertransaction t
                       JOIN tasks_judgment j ON j.id = substr(t.source_ref, 10)::bigint
                       JOIN payments_ledgeraccount a ON a.worker_id = j.worker_id AND a.currency = 'usd'
                        AND a.kind = CASE WHEN j.id %% 2 = 0 THEN 'worker_pending' ELSE 'worker_payable' END
                       WHERE t.kind = 'judgment_credit'
                       UNION ALL
                       SELECT t.id, %s, -25, t.created_at FROM payments_ledgertransaction t
                       WHERE t.kind = 'judgment_credit'""", [funding])
        print(f"  {min(J, CREDITED)} judgment credits: {time.perf_counter() - t0:.0f}s", flush=True)
        cur.execute("SET session_replication_role = origin")
        # What autovacuum would have done by now on a live database: statistics and the visibility map.
        cur.execute("VACUUM ANALYZE")
    from django.utils import timezone

    from payments.models import PayoutBatch, PayoutLine

    for b in range(30):
        batch = PayoutBatch.objects.create(status="completed", currency="usd", cutoff=timezone.now(),
                                           minimum_cents=100, created_by=fin, approved_by=ops if b else None)
        PayoutLine.objects.bulk_create(
            [PayoutLine(batch=batch, worker_id=w0 + i, destination=f"acct_{i}", amount_cents=100 + i, currency="usd",
                        status="paid", stripe_transfer_id=f"tr_{b}_{i}") for i in range(min(W, 500))])
    print(f"seeded in {time.perf_counter() - t0:.0f}s", flush=True)


def timed(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def naive_ops():
    """The console's figures the obvious way: what the page would cost without its bounded queries."""
    from datetime import timedelta

    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from tasks.models import Judgment, Project, Task

    projects = list(Project.objects.filter(status="active"))
    dict(Task.objects.filter(project__in=projects).values("project_id", "status").annotate(n=Count("id"))
         .values_list("project_id", "n"))
    dict(Judgment.objects.filter(created_at__gte=timezone.now() - timedelta(hours=24)).values("project_id")
         .annotate(n=Count("id")).values_list("project_id", "n"))
    # The median over all of each project's timed judgments (what tasks.selectors.pay did before its sample).
    with connection.cursor() as cursor:
        cursor.execute("SELECT project_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds_spent) "
                       "FROM tasks_judgment WHERE project_id = ANY(%s) AND status = 'approved' "
                       "AND seconds_spent > 0 GROUP BY project_id", [[p.pk for p in projects]])
        cursor.fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--judgments", type=int, default=10_000_000)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--workers", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database (re-run with --reuse)")
    parser.add_argument("--reuse", action="store_true", help="measure on a database kept by --keep")
    args = parser.parse_args()

    server_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    db_url = urlparse(server_url)._replace(path=f"/{DB_NAME}").geturl()
    os.environ.update({"DATABASE_URL": db_url, "DEBUG": "1", "LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": "*",
                       "DJANGO_SETTINGS_MODULE": "marketplace.settings", "VAR_DIR": "/tmp/bench-consoles-var",
                       "LOCAL_ENV_FILE": "", "METRICS_DB_INSTRUMENTATION": "0"})
    sys.path.insert(0, str(ROOT))
    if not args.reuse:
        _recreate_db(server_url)
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test import Client

    from marketplace.models import User
    from marketplace.observability.gauges import judgments_per_hour_refresh, project_task_counts_refresh

    try:
        if not args.reuse:
            call_command("migrate", verbosity=0)
            print(f"seeding {args.tasks} tasks, {args.judgments} judgments ...", flush=True)
            seed(args)
        cache.clear()
        start = time.perf_counter()
        project_task_counts_refresh()
        print(f"beat's per-project task count (off the page path): {(time.perf_counter() - start) * 1000:.0f} ms")
        start = time.perf_counter()
        judgments_per_hour_refresh()
        print(f"beat's first judgments-per-hour rollup, one day (off the page path): "
              f"{(time.perf_counter() - start) * 1000:.0f} ms")
        start = time.perf_counter()
        judgments_per_hour_refresh()
        print(f"beat's next rollup run (nothing new): {(time.perf_counter() - start) * 1000:.0f} ms")
        ops, fin = Client(), Client()
        ops.force_login(User.objects.get(email="ops-bench@example.com"))
        fin.force_login(User.objects.get(email="finance-bench@example.com"))
        for client, path in ((ops, "/admin/ops/"), (fin, "/admin/finance/")):
            assert client.get(path).status_code == 200  # warm up: connections, templates
        ops_med, ops_max = timed(lambda: ops.get("/admin/ops/"), args.repeat)
        fin_med, fin_max = timed(lambda: fin.get("/admin/finance/"), args.repeat)
        naive_med, naive_max = timed(naive_ops, max(1, args.repeat // 3))
        print(f"{'what':46} {'median ms':>10} {'worst ms':>10}")
        print(f"{'ops console GET /admin/ops/':46} {ops_med:10.1f} {ops_max:10.1f}")
        print(f"{'finance console GET /admin/finance/':46} {fin_med:10.1f} {fin_max:10.1f}")
        print(f"{'baseline: the ops figures the obvious way':46} {naive_med:10.1f} {naive_max:10.1f}")
        print(f"target: each console <= 300 ms server time ({args.tasks} tasks, {args.judgments} judgments)")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _recreate_db(server_url, drop_only=True)


if __name__ == "__main__":
    main()
