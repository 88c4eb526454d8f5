"""A claim's cost against the number of open tasks (issue 15): median and p95 of claim+submit pairs at
10k, 100k and 1M open tasks, with 1, 10 and 100 active projects the workers may claim from, in one run.

    .venv/bin/python -m bench.claim_scale
    .venv/bin/python -m bench.claim_scale --sizes 10000,100000 --pairs 100    # a quicker look

How: a throwaway PostgreSQL database on BENCH_DATABASE_URL's server (created and dropped here), migrated,
with 3 ready workers (ORM). A cell (open tasks, projects) is that many projects (priorities 0-2,
gold_share 0.05, 10 gold tasks each, the default share cap; ORM) holding that many open real tasks
spread evenly over them, made with INSERT ... SELECT FROM generate_series: the only rows not made
through the code are those tasks. Stages grow one database: stage 1 makes the three 10k cells, stage 2
the 100k ones, stage 3 the 1M ones (3.3M open real tasks in the table at the end); after each, the task
table is ANALYZEd, as the ingest job (tasks.jobs.queue.analyze_tasks) does after an upload that large.

After each stage every cell made so far is measured, in turns (--rounds), so load from elsewhere on the
machine falls on all cells alike: only the cell's projects are active (the others paused: their tasks
stay open rows in the same table), and the 3 workers take turns: claim (no project named, as in the
issue's report) then submit, through the API with Django's test client in this process (authentication,
the claim, the submit with its ledger credit: the real code path, no HTTP server), after 20 warm-up
pairs per cell. The baseline is the 10k cell with the same number of projects in the same stage; the
target (issue 15): the 1M median within 1.2x of the 10k median, for 10 and for 100 projects.

Also printed per cell: the rows the claim's candidate statement reads from the task table (EXPLAIN
ANALYZE), and the execution time of the candidate statement as it was before issue 15 (one ORDER BY over
every open candidate of every project), for comparison, cancelled past OLD_TIMEOUT_MS (15 s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from bench.throwaway_db import claim_load_database

PROJECTS = (1, 10, 100)
DATA = json.dumps({"prompt": "Reverse a list", "language": "python", "response_a": "x[::-1]",
                   "response_b": "x.reverse()"})

# The candidate statement before issue 15 (tasks/services/queue.py then): one ORDER BY across the join
# and across projects, over every open candidate.
OLD_CANDIDATES = """
    SELECT t.id FROM tasks_task t JOIN tasks_project p ON p.id = t.project_id
    WHERE t.project_id = ANY(%(projects)s) AND p.status = 'active' AND t.status = 'open' AND NOT t.is_gold
      AND t.n_active < t.overlap
      AND NOT EXISTS (SELECT 1 FROM tasks_assignment a WHERE a.task_id = t.id AND a.worker_id = %(worker)s)
      AND NOT EXISTS (SELECT 1 FROM tasks_assignment s WHERE s.passed_over_task_id = t.id AND s.worker_id = %(worker)s)
    ORDER BY t.n_active DESC, (p.priority + t.priority) DESC, t.id LIMIT 1"""
OLD_TIMEOUT_MS = 15_000  # it took 41 s at 100k open tasks in 10 projects: cancelled past this, to keep the run short


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="open real tasks per group, ascending")
    parser.add_argument("--pairs", type=int, default=150, help="timed claim+submit pairs per cell and stage")
    parser.add_argument("--rounds", type=int, default=5, help="turns the cells take (pairs are split over them)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.perf_counter()
    with claim_load_database("claim_scale"):
        _run(sizes, args.pairs, args.rounds)
    print(f"total run time {time.perf_counter() - started:.0f} s; load average (1 min) {os.getloadavg()[0]:.1f}")


def _setup():
    """3 ready workers, signed in. Returns their session tokens."""
    from django.test import Client as HttpClient

    from bench.claim_load import PASSWORD, seed_workers

    seed_workers(3)
    http = HttpClient()
    return [http.post("/_allauth/app/v1/auth/login", {"email": f"bench{i}@example.com", "password": PASSWORD},
                      content_type="application/json").json()["meta"]["session_token"] for i in range(3)]


def _grow(size: int) -> tuple[dict[int, list[int]], float]:
    """The cells of one size: for 1, 10 and 100 projects, that many new (paused) projects with priorities
    0-2, gold_share 0.05, 10 gold tasks each (ORM) and `size` open real tasks spread evenly over them
    (generate_series); then ANALYZE, as the ingest job does after a large upload. Returns ({projects:
    [ids]}, seconds)."""
    from django.db import connection

    from tasks.models import Client, Project, Task
    from workers.models import Skill

    began = time.perf_counter()
    client = Client.objects.get_or_create(name="bench client")[0]
    python = Skill.objects.get(slug="python")
    cells = {}
    for n_projects in PROJECTS:
        ids = []
        for j in range(n_projects):
            project = Project.objects.create(
                client=client, name=f"bench {size}/{n_projects}/{j}", task_type="pairwise", label_schema={},
                instructions="Pick one.", data_use_statement="Benchmark data.", reward_cents=10, overlap=3,
                priority=j % 3, gold_share=0.05, status="paused")
            project.required_qualifications.set([python])
            Task.objects.bulk_create([Task(project=project, external_id=f"gold{k}", data=json.loads(DATA),
                                           gold={"choice": "a"}, is_gold=True, overlap=Task.GOLD_OVERLAP)
                                      for k in range(10)])
            ids.append(project.pk)
        with connection.cursor() as cursor:
            cursor.execute(
                """INSERT INTO tasks_task (project_id, external_id, data, is_gold, overlap, n_active, n_submitted,
                                           status, priority, age_boost, created_at)
                   SELECT (%(ids)s::bigint[])[1 + i %% %(n)s], 't' || i, %(data)s::jsonb, false, 3, 0, 0, 'open',
                          0, 0, now()
                   FROM generate_series(0, %(size)s - 1) AS i""",
                {"ids": ids, "n": len(ids), "data": DATA, "size": size})
        cells[n_projects] = ids
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tasks_task")
    return cells, time.perf_counter() - began


def _activate(ids: list[int]) -> None:
    from tasks.models import Project

    Project.objects.filter(status="active").exclude(pk__in=ids).update(status="paused")
    Project.objects.filter(pk__in=ids).update(status="active")


def _pairs(http, tokens: list[str], n: int) -> list[float]:
    """n claim+submit pairs, the workers taking turns; seconds per pair."""
    seconds = []
    for i in range(n):
        token = tokens[i % len(tokens)]
        began = time.perf_counter()
        claimed = http.post("/api/v1/assignments/claim/", {}, content_type="application/json",
                            HTTP_X_SESSION_TOKEN=token)
        assert claimed.status_code == 201, claimed.content
        done = http.post(f"/api/v1/assignments/{claimed.json()['id']}/submit/",
                         {"answer": {"choice": "a"}, "seconds_spent": 3}, content_type="application/json",
                         HTTP_X_SESSION_TOKEN=token)
        assert done.status_code == 200, done.content
        seconds.append(time.perf_counter() - began)
    return seconds


def _rows_read(plan: dict) -> float:
    own = plan["Actual Rows"] * plan["Actual Loops"] if plan.get("Relation Name") == "tasks_task" else 0
    return own + sum(_rows_read(child) for child in plan.get("Plans", []))


def _candidate_figures() -> tuple[float, float | str | None]:
    """(rows the claim's candidate statement reads from tasks_task, ms the pre-issue-15 statement takes or
    None past OLD_TIMEOUT_MS), for worker bench0 over the active projects."""
    from django.db import OperationalError, connection, transaction

    from marketplace.models import User
    from tasks.selectors.queue import projects_claimable_for
    from tasks.selectors.queue_backends import postgres

    user = User.objects.get(email="bench0@example.com")
    claimable = projects_claimable_for(user=user)
    params = {"projects": [p.id for p in claimable], "project": claimable[0].id, "worker": user.pk}
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + postgres.candidates_sql(claimable, gold=False, per_project=4),
                       params)
        raw = cursor.fetchone()[0]
        rows = _rows_read((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"])
    if len(claimable) == 1:
        return rows, "same"  # one project: the statement before issue 15 was this one (its index, in order)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = {OLD_TIMEOUT_MS}")
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + OLD_CANDIDATES, params)
            raw = cursor.fetchone()[0]
            old_ms = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Execution Time"]
    except OperationalError:  # cancelled at the timeout: reported as "> OLD_TIMEOUT_MS"
        old_ms = None
    return rows, old_ms


def _ms(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def _run(sizes: list[int], pairs: int, rounds: int) -> None:
    import django

    django.setup()
    from django.test import Client as HttpClient

    tokens = _setup()
    http = HttpClient()
    cells: dict[tuple[int, int], list[int]] = {}
    results = {}
    for stage, size in enumerate(sizes):
        new, took = _grow(size)
        cells.update({(size, n): ids for n, ids in new.items()})
        table = sum(s for s, _ in cells)  # open real tasks in the whole table, paused projects' included
        print(f"stage {stage + 1}: {size:,} open real tasks in each of 3 new cells, {table:,} in the table: "
              f"generate_series + ANALYZE {took:.1f} s", flush=True)
        # Every cell made so far, in turns (rounds x pairs/rounds each), so load from elsewhere on the
        # machine falls on all of them alike.
        timed = {cell: [] for cell in cells}
        for ids in cells.values():  # warm-up: plans, prepared statements, caches
            _activate(ids)
            _pairs(http, tokens, 20)
        for _ in range(rounds):
            for cell, ids in cells.items():
                _activate(ids)
                timed[cell] += _pairs(http, tokens, max(1, pairs // rounds))
        for cell, ids in cells.items():
            _activate(ids)
            rows, old_ms = _candidate_figures()
            results[(table, *cell)] = (statistics.median(timed[cell]) * 1000, _ms(timed[cell], 0.95), rows, old_ms)
        _print_stage(results, table, sizes[0])
    print("\nall stages (table = open real tasks in the whole table; open tasks = in the active projects):")
    _print_stage(results, None, sizes[0])


def _print_stage(results: dict, table: int | None, base: int) -> None:
    print(f"| table | open tasks | active projects | median ms | p95 ms | median / {base:,} (same stage) "
          f"| candidate rows read | old candidate statement ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (t, size, n_projects), (median, p95, rows, old_ms) in sorted(results.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1])):
        if table is not None and t != table:
            continue
        ratio = median / results[(t, base, n_projects)][0]
        old = f"> {OLD_TIMEOUT_MS:,}" if old_ms is None else old_ms if isinstance(old_ms, str) else f"{old_ms:,.1f}"
        print(f"| {t:,} | {size:,} | {n_projects} | {median:.2f} | {p95:.2f} | {ratio:.2f}x | {rows:.0f} | {old} |")
    last = max(t for t, _, _ in results) if table is None else table
    sizes = sorted({s for t, s, _ in results if t == last})
    for n_projects in (10, 100):
        if len(sizes) > 1 and (last, sizes[-1], n_projects) in results:
            ratio = results[(last, sizes[-1], n_projects)][0] / results[(last, base, n_projects)][0]
            print(f"target: {sizes[-1]:,} median within 1.2x of {base:,} median at {n_projects} projects "
                  f"(table {last:,}): {ratio:.2f}x {'met' if ratio <= 1.2 else 'NOT met'}", flush=True)


if __name__ == "__main__":
    main()
