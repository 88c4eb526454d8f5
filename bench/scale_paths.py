"""The paths other than the claim that could grow with the tables (issue 15), each at scale next to a
baseline measured in the same run.

    .venv/bin/python -m bench.scale_paths                                   # every section, defaults below
    .venv/bin/python -m bench.scale_paths --only exports --judgments 1000000
    .venv/bin/python -m bench.scale_paths --only quality --history 0,100000,1000000
    .venv/bin/python -m bench.scale_paths --only notify --workers 100000
    .venv/bin/python -m bench.scale_paths --only me --me-judgments 20000
    .venv/bin/python -m bench.scale_paths --only admin --judgments 10000000

Data: a throwaway PostgreSQL database (bench_scale_paths on BENCH_DATABASE_URL's server, default
postgres://postgres@127.0.0.1:5432/postgres, dropped at the end). Every big table is made with SQL
generate_series, with foreign-key triggers off during the load, then VACUUM ANALYZE (what autovacuum does on
a live database): the big pairwise project's tasks (3 approved judgments each, with their assignments,
consensus, and one earnings transaction with two ledger entries per judgment), the quality projects'
judgments, the notified workers (users, verified emails, profiles, skills, qualifications), and the
20k-judgment worker's judgments and ledger. Only the staff user and the client's API key go through Django.

Sections (--only picks some):
- exports: GET results.jsonl, results.csv and preferences.jsonl through the real views (test client), body
  read to the end; the process's RSS growth over the stream; baseline: a bare cursor read of the same rows.
- quality: project_quality_recompute (the beat's amortised run) after 10k new judgments on projects with H judgments of history
  (--history), next to the same 10k on an empty project, each its own project.
- notify: work_available_notify (the "there is work" job) with 10% of --workers eligible, then all of them;
  per-worker cost of each run (mails to the dummy backend).
- me: GET /api/v1/me/ and /api/v1/me/earnings/ for a worker with --me-judgments judgments and one with 10:
  time and statement counts.
- admin: changelists of tasks, assignments, judgments and ledger entries (first page, and a filtered one);
  baseline: the same page with Django's own paginator and full count (what the admin did before).
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
DB_NAME = "bench_scale_paths"
SECTIONS = ("exports", "quality", "notify", "me", "admin")


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    """Median milliseconds over `repeat` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def sql(statement: str, params=None) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(statement, params)


def scalar(statement: str, params=None):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchone()[0]


def new_client_and_project(name: str, *, overlap: int = 3):
    from tasks.services.clients import client_api_key_create, client_create
    from tasks.services.projects import project_create

    client = client_create(name=f"{name} lab")
    _, key = client_api_key_create(client=client)
    project = project_create(client=client, name=name, task_type="pairwise", instructions="i",
                             data_use_statement="d", reward_cents=10, overlap=overlap)
    return project, key


def bulk_workers(n: int, prefix: str) -> int:
    """n plain users; returns the first id (ids are consecutive)."""
    sql("""INSERT INTO marketplace_user (password, is_superuser, email, is_staff, is_active, date_joined)
           SELECT '!', false, %s || g || '@bench.example', false, true, now() FROM generate_series(1, %s) g""",
        [prefix, n])
    return scalar("SELECT min(id) FROM marketplace_user WHERE email LIKE %s", [f"{prefix}%"])


def bulk_judgments(*, project_id: int, n_tasks: int, per_task: int, w0: int, n_workers: int, status: str,
                   tag: str, complete: bool = True) -> tuple[int, int]:
    """n_tasks tasks of the project with per_task judgments each and their assignments, made by SQL. Each
    task has a planted answer (a for 60% of tasks, b otherwise, by a hash of its id) that each judgment gives
    with probability 0.85 (by a hash of its id): honest raters, so no quality rule fires. Returns (first task id, first judgment id)."""
    sql("SET session_replication_role = replica")
    sql("""INSERT INTO tasks_task (project_id, external_id, data, is_gold, overlap, n_active, n_submitted, status,
           priority, age_boost, created_at, completed_at)
           SELECT %s, %s || g, jsonb_build_object('prompt', 'Write fib ' || g, 'language', 'python',
                  'response_a', 'def fib(n): return n  # ' || g, 'response_b', 'def fib(n): pass  # ' || g),
                  false, %s, %s, %s, %s, 0, 0, now(), CASE WHEN %s THEN now() END
           FROM generate_series(1, %s) g""",
        [project_id, tag, per_task, per_task if complete else 0, per_task if complete else 0,
         "complete" if complete else "open", complete, n_tasks])
    t0 = scalar("SELECT min(id) FROM tasks_task WHERE project_id = %s AND external_id LIKE %s", [project_id, f"{tag}%"])
    a0 = scalar("SELECT coalesce(max(id), 0) + 1 FROM tasks_assignment")
    sql("""INSERT INTO tasks_assignment (task_id, worker_id, project_id, status, served_reason, claimed_at,
           expires_at, finished_at)
           SELECT %(t0)s + k / %(pt)s, %(w0)s + (((k / %(pt)s) * 7 + k %% %(pt)s) %% %(W)s), %(p)s, 'submitted', '',
                  now(), now() + interval '15 minutes', now()
           FROM generate_series(0, %(J)s - 1) k""",
        {"t0": t0, "pt": per_task, "w0": w0, "W": n_workers, "p": project_id, "J": n_tasks * per_task})
    j0 = scalar("SELECT coalesce(max(id), 0) + 1 FROM tasks_judgment")
    sql("""INSERT INTO tasks_judgment (assignment_id, task_id, project_id, worker_id, answer, seconds_spent, is_gold,
           status, created_at)
           SELECT id, task_id, project_id, worker_id,
                  CASE WHEN (abs(hashtext('t' || task_id)) %% 10 < 6) = (abs(hashtext('j' || id)) %% 100 >= 15)
                       THEN '{"choice": "a"}'::jsonb ELSE '{"choice": "b"}'::jsonb END,
                  5 + mod(id, 60), false, %s, now()
           FROM tasks_assignment WHERE id >= %s ORDER BY id""", [status, a0])
    sql("SET session_replication_role = origin")
    return t0, j0


def bulk_ledger(*, first_judgment: int, currency: str = "usd") -> None:
    """One earnings transaction per judgment from first_judgment on: +10 on the worker's payable account,
    -10 on the platform's funding account (accounts made here when missing)."""
    sql("SET session_replication_role = replica")
    sql("""INSERT INTO payments_ledgeraccount (kind, worker_id, currency, balance_cents, created_at)
           SELECT DISTINCT 'worker_payable', worker_id, %s, 0, now() FROM tasks_judgment j WHERE j.id >= %s
           AND NOT EXISTS (SELECT 1 FROM payments_ledgeraccount a WHERE a.worker_id = j.worker_id
                           AND a.kind = 'worker_payable' AND a.currency = %s)""", [currency, first_judgment, currency])
    sql("""INSERT INTO payments_ledgeraccount (kind, worker_id, currency, balance_cents, created_at)
           SELECT 'platform_funding', NULL, %s, 0, now() WHERE NOT EXISTS (
               SELECT 1 FROM payments_ledgeraccount WHERE kind = 'platform_funding' AND currency = %s)""",
        [currency, currency])
    x0 = scalar("SELECT coalesce(max(id), 0) + 1 FROM payments_ledgertransaction")
    sql("""INSERT INTO payments_ledgertransaction (kind, source_ref, currency, memo, created_at)
           SELECT 'judgment_earned', 'judgment:' || id, %s, '', now() FROM tasks_judgment WHERE id >= %s ORDER BY id""",
        [currency, first_judgment])
    funding = scalar("SELECT id FROM payments_ledgeraccount WHERE kind = 'platform_funding' AND currency = %s",
                     [currency])
    sql("""INSERT INTO payments_ledgerentry (transaction_id, account_id, amount_cents, created_at)
           SELECT x.id, side.account_id, side.amount, now()
           FROM payments_ledgertransaction x
           JOIN tasks_judgment j ON j.id = substr(x.source_ref, 10)::bigint
           JOIN payments_ledgeraccount a ON a.worker_id = j.worker_id AND a.kind = 'worker_payable'
                                        AND a.currency = %s
           CROSS JOIN LATERAL (VALUES (a.id, 10), (%s, -10)) side(account_id, amount)
           WHERE x.id >= %s ORDER BY x.id""", [currency, funding, x0])
    sql("""UPDATE payments_ledgeraccount a SET balance_cents = s.total FROM (
               SELECT account_id, sum(amount_cents) total FROM payments_ledgerentry GROUP BY account_id) s
           WHERE a.id = s.account_id AND a.kind <> 'platform_funding'""")
    sql("SET session_replication_role = origin")


def analyze() -> None:
    sql("VACUUM ANALYZE")


# --- exports ---------------------------------------------------------------------------------------------

def section_exports(args) -> None:
    from rest_framework.test import APIClient

    n_tasks = args.judgments // 3
    project, key = new_client_and_project("export")
    workers = bulk_workers(300, "exp")
    started = time.perf_counter()
    _, j0 = bulk_judgments(project_id=project.pk, n_tasks=n_tasks, per_task=3, w0=workers, n_workers=300,
                           status="approved", tag="e")
    sql("""INSERT INTO quality_taskconsensus (task_id, project_id, answer, confidence, method, n_judgments, computed_at)
           SELECT id, project_id, CASE WHEN id %% 20 = 0 THEN '{"choice": "tie"}'::jsonb
                                       WHEN id %% 2 = 0 THEN '{"choice": "a"}'::jsonb ELSE '{"choice": "b"}'::jsonb END,
                  0.5 + (id %% 50) / 100.0, 'dawid_skene', 3, now() FROM tasks_task WHERE project_id = %s""",
        [project.pk])
    analyze()
    print(f"exports: {n_tasks:,} tasks, {n_tasks * 3:,} judgments made by SQL in {time.perf_counter() - started:.0f} s")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    base = f"/api/v1/projects/{project.pk}"
    rows = []
    for label, path in (("results.jsonl", f"{base}/results/?format=jsonl"), ("results.csv", f"{base}/export/results.csv"),
                        ("preferences.jsonl", f"{base}/export/preferences.jsonl")):
        before = rss_mb()
        peak = before
        start = time.perf_counter()
        response = api.get(path)
        assert response.status_code == 200, (path, response.status_code)
        size = 0
        for i, chunk in enumerate(response.streaming_content):
            size += len(chunk)
            if i % 200 == 0:
                peak = max(peak, rss_mb())
        elapsed = time.perf_counter() - start
        peak = max(peak, rss_mb())
        rows.append((label, elapsed, size, peak - before))

    def bare():
        from tasks.models import Judgment

        qs = (Judgment.objects.filter(project=project, status="approved").order_by("id")
              .values_list("task_id", "worker_id", "answer", "seconds_spent"))
        return sum(1 for _ in qs.iterator(chunk_size=2000))

    start = time.perf_counter()
    n = bare()
    base_s = time.perf_counter() - start
    print(f"{'stream':20} {'seconds':>8} {'MB body':>8} {'RSS growth MB':>14} {'x bare read':>12}")
    for label, elapsed, size, growth in rows:
        print(f"{label:20} {elapsed:8.1f} {size / 1e6:8.1f} {growth:14.1f} {elapsed / base_s:12.1f}")
    print(f"{'baseline: bare read':20} {base_s:8.1f} {'':>8} {'':>14} {'1.0':>12}  ({n:,} judgment rows, iterator)")
    print(f"target: RSS growth < 100 MB over {n_tasks * 3:,} judgments")


# --- quality ---------------------------------------------------------------------------------------------

def section_quality(args) -> None:
    from quality.services import project_quality_recompute

    new = args.quality_new
    workers = bulk_workers(args.quality_workers, "q")
    print(f"quality: {new:,} new judgments (3 per task, {args.quality_workers} workers) on projects with H judgments "
          f"of history; every judgment made by SQL")
    print(f"{'history H':>12} {'recompute ms':>13} {'x empty':>8} {'history recompute ms':>21}")
    empty_ms = None
    for history in [0, *[h for h in args.history if h]]:
        project, _ = new_client_and_project(f"quality-{history}")
        hist_ms = None
        if history:
            bulk_judgments(project_id=project.pk, n_tasks=history // 3, per_task=3, w0=workers,
                           n_workers=args.quality_workers, status="approved", tag=f"h{history}-")
            analyze()
            start = time.perf_counter()
            project_quality_recompute(project_id=project.pk)  # the history's own run, before the new judgments
            hist_ms = (time.perf_counter() - start) * 1000
        bulk_judgments(project_id=project.pk, n_tasks=new // 3, per_task=3, w0=workers,
                       n_workers=args.quality_workers, status="approved", tag=f"n{history}-")
        sql("ANALYZE tasks_judgment")
        sql("ANALYZE tasks_task")
        start = time.perf_counter()
        assert project_quality_recompute(project_id=project.pk)
        ms = (time.perf_counter() - start) * 1000
        empty_ms = empty_ms or ms
        print(f"{history:12,} {ms:13.0f} {ms / empty_ms:8.2f} {'' if hist_ms is None else f'{hist_ms:21.0f}'}",
              flush=True)
    print("target: 10k new on a 10M history <= 2x the same 10k on an empty project")


# --- notify ----------------------------------------------------------------------------------------------

def eligible_workers(n: int, prefix: str, skill_id: int) -> int:
    from django.conf import settings

    w0 = bulk_workers(n, prefix)
    sql("SET session_replication_role = replica")
    sql("""INSERT INTO account_emailaddress (user_id, email, verified, "primary")
           SELECT id, email, true, true FROM marketplace_user WHERE id >= %s AND email LIKE %s""", [w0, f"{prefix}%"])
    sql("""INSERT INTO workers_workerprofile (user_id, display_name, country, timezone, accepted_terms_version,
           accepted_terms_at, status, status_reason, payouts_enabled, notify_new_work, created_at, updated_at)
           SELECT id, 'W' || id, 'DE', 'Europe/Berlin', %s, now(), 'active', '', true, true, now(), now()
           FROM marketplace_user WHERE id >= %s AND email LIKE %s""", [settings.TERMS_VERSION, w0, f"{prefix}%"])
    sql("""INSERT INTO workers_workerprofile_skills (workerprofile_id, skill_id)
           SELECT p.id, %s FROM workers_workerprofile p JOIN marketplace_user u ON u.id = p.user_id
           WHERE u.id >= %s AND u.email LIKE %s""", [skill_id, w0, f"{prefix}%"])
    sql("""INSERT INTO workers_qualification (worker_id, skill_id, score, granted_at, expires_at)
           SELECT id, %s, 0.9, now(), NULL FROM marketplace_user WHERE id >= %s AND email LIKE %s""",
        [skill_id, w0, f"{prefix}%"])
    sql("SET session_replication_role = origin")
    return w0


def section_notify(args) -> None:
    from tasks.models import WorkNotification
    from tasks.services.queue_notify import work_available_notify
    from workers.models import Skill

    skill = Skill.objects.create(slug="python-bench", name="Python")
    project, _ = new_client_and_project("notify", overlap=3)
    project.required_qualifications.add(skill)
    w = bulk_workers(50, "notify-old")
    bulk_judgments(project_id=project.pk, n_tasks=1000, per_task=3, w0=w, n_workers=50, status="approved",
                   tag="nt", complete=False)
    sql("UPDATE tasks_task SET n_active = 0, n_submitted = 0 WHERE project_id = %s", [project.pk])
    print(f"notify: {args.workers:,} eligible workers (users, emails, profiles, skills, qualifications by SQL)")
    print(f"{'eligible workers':>17} {'mailed':>8} {'seconds':>8} {'ms per 1k workers':>18} {'x first':>8}")
    first = None
    made = 0
    for target in (args.workers // 10, args.workers):
        eligible_workers(target - made, f"n{target}-", skill.pk)
        made = target
        analyze()
        WorkNotification.objects.all().delete()
        start = time.perf_counter()
        mailed = work_available_notify(project_id=project.pk)
        elapsed = time.perf_counter() - start
        per_k = elapsed * 1000 / (mailed / 1000) if mailed else float("nan")
        first = first or per_k
        print(f"{target:17,} {mailed:8,} {elapsed:8.1f} {per_k:18.1f} {per_k / first:8.2f}", flush=True)
    print("target: cost per worker flat from 10% to 100% of the workers (batched, keyset)")


# --- me --------------------------------------------------------------------------------------------------

def section_me(args) -> None:
    from django.db import connection
    from rest_framework.test import APIClient

    from marketplace.models import User
    from tests.conftest import make_user
    from workers.models import WorkerProfile

    heavy = make_user("heavy-me@bench.example")
    light = make_user("light-me@bench.example")
    for user in (heavy, light):
        WorkerProfile.objects.update_or_create(user=user, defaults={"display_name": "W", "country": "DE",
                                                                    "timezone": "Europe/Berlin"})
    others = bulk_workers(2000, "me-others")
    project, _ = new_client_and_project("me")
    j_start = scalar("SELECT coalesce(max(id), 0) + 1 FROM tasks_judgment")
    # The ledger around them is big: every other worker's judgments too (args.me_background of them).
    bulk_judgments(project_id=project.pk, n_tasks=args.me_background // 3, per_task=3, w0=others, n_workers=2000,
                   status="approved", tag="bg")
    for user, n in ((heavy, args.me_judgments), (light, 10)):
        bulk_judgments(project_id=project.pk, n_tasks=n, per_task=1, w0=user.pk, n_workers=1, status="approved",
                       tag=f"me{user.pk}-")
    bulk_ledger(first_judgment=j_start)
    analyze()
    print(f"me: a worker with {args.me_judgments:,} judgments and one with 10, among {args.me_background:,} other "
          f"judgments; judgments, transactions and ledger entries made by SQL")
    print(f"{'GET':28} {'heavy ms':>9} {'light ms':>9} {'statements heavy/light':>23}")
    for path in ("/api/v1/me/", "/api/v1/me/earnings/", f"/api/v1/me/earnings/?page={args.me_judgments // 100}"):
        figures = []
        for user in (heavy, light):
            api = APIClient()
            api.force_authenticate(User.objects.get(pk=user.pk))
            status = api.get(path).status_code
            statements = []
            with connection.execute_wrapper(lambda run, sql_, params, many, context:
                                            statements.append(sql_) or run(sql_, params, many, context)):
                api.get(path)
            ms, _ = timed(lambda: api.get(path), 5)
            figures.append((ms, len(statements), status))
        (hm, hq, hs), (lm, lq, ls) = figures
        print(f"{path:28} {hm:9.1f} {lm:9.1f} {f'{hq}/{lq}':>23}  (status {hs}/{ls})")


# --- admin -----------------------------------------------------------------------------------------------

def section_admin(args) -> None:
    from django.contrib import admin
    from django.core.paginator import Paginator
    from django.test import Client

    from tests.conftest import make_user

    if not scalar("SELECT count(*) FROM (SELECT 1 FROM tasks_judgment LIMIT %s) s", [args.judgments // 2]) \
            >= args.judgments // 2:
        project, _ = new_client_and_project("admin")
        workers = bulk_workers(1000, "adm")
        started = time.perf_counter()
        _, j0 = bulk_judgments(project_id=project.pk, n_tasks=args.judgments // 3, per_task=3, w0=workers,
                               n_workers=1000, status="approved", tag="a")
        bulk_ledger(first_judgment=j0)
        analyze()
        print(f"admin: {args.judgments // 3:,} tasks, {args.judgments:,} assignments and judgments, "
              f"{args.judgments * 2:,} ledger entries made by SQL in {time.perf_counter() - started:.0f} s")
    from marketplace.models import User

    root = User.objects.filter(email="root-admin@bench.example").first() or make_user("root-admin@bench.example")
    root.is_staff = root.is_superuser = True
    root.save()
    client = Client()
    client.force_login(root)
    sizes = {t: scalar("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [t])
             for t in ("tasks_task", "tasks_assignment", "tasks_judgment", "payments_ledgerentry")}
    from django.db import connection

    def page(path):
        """(total ms, SQL ms) of one GET: the SQL part is what grows with the table, rendering does not."""
        spent = []

        def clock(run, sql_, params, many, context):
            start = time.perf_counter()
            try:
                return run(sql_, params, many, context)
            finally:
                spent.append(time.perf_counter() - start)

        start = time.perf_counter()
        with connection.execute_wrapper(clock):
            assert client.get(path).status_code == 200
        return (time.perf_counter() - start) * 1000, sum(spent) * 1000

    def median_page(path, repeat):
        runs = [page(path) for _ in range(repeat)]
        return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)

    print(f"{'changelist':48} {'rows':>11} {'ms':>7} {'SQL ms':>7} {'base ms':>8} {'base SQL':>9} {'SQL x':>6}")
    pages = [("/admin/tasks/task/", "tasks_task"), ("/admin/tasks/task/?status__exact=complete", "tasks_task"),
             ("/admin/tasks/assignment/", "tasks_assignment"), ("/admin/tasks/judgment/", "tasks_judgment"),
             ("/admin/tasks/judgment/?status__exact=approved", "tasks_judgment"),
             ("/admin/payments/ledgerentry/", "payments_ledgerentry")]
    for path, table in pages:
        page(path)
        ms, sql_ms = median_page(path, 3)
        model_admin = next(a for m, a in admin.site._registry.items() if m._meta.db_table == table)
        saved = (model_admin.paginator, model_admin.show_full_result_count, model_admin.ordering)
        model_admin.paginator, model_admin.show_full_result_count = Paginator, True
        model_admin.ordering = type(model_admin).__mro__[-2].ordering  # ModelAdmin's: the model's Meta ordering
        try:
            base_ms, base_sql = median_page(path, 1)
        finally:
            model_admin.paginator, model_admin.show_full_result_count, model_admin.ordering = saved
        print(f"{path:48} {sizes[table]:11,} {ms:7.0f} {sql_ms:7.0f} {base_ms:8.0f} {base_sql:9.0f} "
              f"{base_sql / sql_ms:6.1f}", flush=True)
    print("baseline: Django's paginator (COUNT(*) of the list), the full-table count, the model's own ordering; "
          "SQL ms: the statements' time, the rest is rendering")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated: {', '.join(SECTIONS)}")
    parser.add_argument("--judgments", type=int, default=1_000_000, help="exports and admin: judgments")
    parser.add_argument("--history", default="100000,1000000",
                        help="quality: judgments of history, comma-separated (0 is always measured)")
    parser.add_argument("--quality-new", type=int, default=10_000)
    parser.add_argument("--quality-workers", type=int, default=200)
    parser.add_argument("--workers", type=int, default=100_000, help="notify: eligible workers")
    parser.add_argument("--me-judgments", type=int, default=20_000)
    parser.add_argument("--me-background", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--db", default=DB_NAME, help="the throwaway database's name (two runs at once)")
    parser.add_argument("--reuse", action="store_true", help="measure on a database kept by --keep (admin)")
    args = parser.parse_args()
    args.history = [int(h) for h in args.history.split(",") if h.strip()]
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")

    server_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    db_url = urlparse(server_url)._replace(path=f"/{args.db}").geturl()
    os.environ.update({"DATABASE_URL": db_url, "DEBUG": "0", "LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": "*",
                       "DJANGO_SETTINGS_MODULE": "marketplace.settings", "VAR_DIR": "/tmp/bench-scale-paths-var",
                       "LOCAL_ENV_FILE": "", "METRICS_DB_INSTRUMENTATION": "0", "SECRET_KEY": "bench-" + "x" * 50,
                       "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
                       "STRIPE_WEBHOOK_SECRET": "whsec_" + os.urandom(16).hex(), "SECURE_SSL_REDIRECT": "0",
                       "CELERY_TASK_ALWAYS_EAGER": "0"})
    sys.path.insert(0, str(ROOT))
    if not args.reuse:
        recreate_db(server_url, args.db)
    import django

    django.setup()
    from django.core.management import call_command

    try:
        call_command("migrate", verbosity=0)
        print(f"load average (1 min) at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
        for name in SECTIONS:
            if name in only:
                started = time.perf_counter()
                globals()[f"section_{name}"](args)
                print(f"({name}: {time.perf_counter() - started:.0f} s, load {os.getloadavg()[0]:.1f})\n", flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            recreate_db(server_url, args.db, drop_only=True)


if __name__ == "__main__":
    main()
