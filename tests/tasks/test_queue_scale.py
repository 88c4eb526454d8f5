"""A claim's cost follows the worker's projects and their own history there, never the number of open
tasks (issue 15), with the serving order unchanged: each queue backend the database can run reads a few
candidates per project in index order and merges them (tasks.selectors.queue_backends)."""

import json
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tasks.models import Assignment, Project, Task
from tasks.selectors.queue import _under_share_cap, project_share_cap
from tasks.selectors.queue_backends import available_backends, queue_backend
from tasks.services.queue import assignment_claim, assignment_submit
from tests.tasks.test_queue_factories import consistent, make_project, make_tasks, make_worker


@pytest.fixture(params=available_backends())
def backend(request, settings):
    settings.QUEUE_CLAIM_RAW_SQL = request.param == "postgres"
    settings.QUEUE_MAX_LIVE_CLAIMS = 1000
    assert queue_backend().name == request.param
    return request.param


def _expected_next(user) -> int | None:
    """The task the serving order picks for this worker, by brute force over every open task: closest to
    overlap, then project priority + task priority, then id (docs/queue.md), untouched by the worker."""
    touched = set(Assignment.objects.filter(worker=user).values_list("task_id", flat=True))
    touched |= set(Assignment.objects.filter(worker=user, passed_over_task__isnull=False)
                   .values_list("passed_over_task_id", flat=True))
    best = None
    for task in Task.objects.filter(status="open", is_gold=False, project__status="active").select_related("project"):
        if task.n_active >= task.overlap or task.pk in touched:
            continue
        key = (-task.n_active, -(task.project.priority + task.priority), task.pk)
        best = min(best, key) if best else key
    return best[2] if best else None


@pytest.mark.django_db
def test_order_across_many_projects_is_the_global_serving_order(backend):
    """Many projects with different priorities, tasks with their own priorities and fill levels, several
    workers claiming, submitting and releasing in turn: every claim takes exactly the task the global
    order (sorting every open task) would take."""
    rng = random.Random(15)
    projects = [make_project(overlap=rng.choice([2, 3]), priority=rng.choice([0, 0, 2, 5])) for _ in range(6)]
    projects.append(make_project(overlap=2, status="paused"))
    for project in projects:
        for task in make_tasks(project, rng.randint(3, 9)):
            Task.objects.filter(pk=task.pk).update(priority=rng.choice([0, 0, 1, 3, 6]))
    workers = [make_worker(f"order{i}@example.com") for i in range(4)]
    claims = 0
    for _ in range(60):
        user = rng.choice(workers)
        expected = _expected_next(user)
        claim = assignment_claim(user=user)
        assert (claim.task_id if claim else None) == expected
        if claim is None:
            continue
        claims += 1
        if rng.random() < 0.8:
            assignment_submit(user=user, assignment_id=claim.assignment_id, answer={"choice": "a"})
    assert claims > 30
    assert consistent() == []


def _bulk_tasks(project: Project, n: int, start: int) -> None:
    """n open real tasks for a project in one statement (generate_series on PostgreSQL, a recursive CTE
    elsewhere): the tests below need thousands of rows, not their ORM objects."""
    data = json.dumps({"prompt": "p", "language": "python", "response_a": "a", "response_b": "b"})
    with connection.cursor() as cursor:
        cursor.execute(
            """WITH RECURSIVE s(i) AS (SELECT CAST(%s AS integer) UNION ALL SELECT i + 1 FROM s WHERE i < %s)
               INSERT INTO tasks_task (project_id, external_id, data, is_gold, overlap, n_active, n_submitted,
                                       status, priority, age_boost, created_at)
               SELECT %s, 'bulk' || i, %s, %s, %s, 0, 0, 'open', 0, 0, CURRENT_TIMESTAMP FROM s""",
            [start, start + n - 1, project.pk, data, False, project.overlap])


def _claim_statements(user) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        claim = assignment_claim(user=user)
    assert claim is not None
    assignment_submit(user=user, assignment_id=claim.assignment_id, answer={"choice": "a"})
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]


@pytest.mark.django_db
def test_a_claims_statements_do_not_grow_with_open_tasks(backend):
    """The same claim, over twelve projects of different priorities, runs the same statements with 30 open
    tasks per project as with 400: nothing runs once per open task."""
    projects = [make_project(overlap=2, priority=i % 3) for i in range(12)]
    for project in projects:
        _bulk_tasks(project, 30, 0)
    alice = make_worker("alice@example.com")
    _claim_statements(alice)  # warm-up (first-use queries)
    small = _claim_statements(alice)
    for project in projects:
        _bulk_tasks(project, 370, 30)
    large = _claim_statements(alice)
    assert len(small) == len(large), (small, large)


def _rows_read_from_tasks(plan: dict) -> float:
    """Rows every node reading tasks_task produced (actual rows x loops), over the whole plan."""
    total = 0.0
    if plan.get("Relation Name") == "tasks_task":
        total += plan["Actual Rows"] * plan["Actual Loops"]
    for child in plan.get("Plans", []):
        total += _rows_read_from_tasks(child)
    return total


def _task_scans(plan: dict) -> list[tuple[str, str | None]]:
    """(node type, index name) of every node reading tasks_task."""
    found = [(plan["Node Type"], plan.get("Index Name"))] if plan.get("Relation Name") == "tasks_task" else []
    for child in plan.get("Plans", []):
        found += _task_scans(child)
    return found


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_candidate_query_reads_a_few_rows_per_project_however_many_are_open(settings):
    """EXPLAIN ANALYZE of the claim's candidate statement over 20 projects: the rows it reads from the task
    table (through task_claimable_order, never a scan that sorts a project's backlog) are the same with
    100 open tasks per project as with 3,000 (60,000 in all), and the worker's own history in a project
    adds only what it holds."""
    from tasks.selectors.queue import projects_claimable_for
    from tasks.selectors.queue_backends import postgres

    settings.QUEUE_CLAIM_RAW_SQL, settings.QUEUE_MAX_LIVE_CLAIMS = True, 1000
    projects = [make_project(overlap=3, priority=i % 4) for i in range(20)]
    for project in projects:
        _bulk_tasks(project, 100, 0)
    alice = make_worker("alice@example.com")
    for _ in range(5):  # a little history of her own
        claim = assignment_claim(user=alice)
        assignment_submit(user=alice, assignment_id=claim.assignment_id, answer={"choice": "a"})

    def rows_read() -> tuple[float, str]:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE tasks_task; ANALYZE tasks_assignment")  # as the ingest job does
            claimable = projects_claimable_for(user=alice)
            assert len(claimable) == 20
            sql = postgres.candidates_sql(claimable, gold=False, per_project=4)
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql,
                           {"projects": [p.id for p in claimable], "project": claimable[0].id, "worker": alice.pk})
            raw = cursor.fetchone()[0]
        plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
        return _rows_read_from_tasks(plan), json.dumps(plan)

    small, small_plan = rows_read()
    for project in projects:
        _bulk_tasks(project, 2900, 100)
    large, large_plan = rows_read()
    assert small == large, (small_plan, large_plan)
    assert large <= 20 * (4 + 5) * 2, large_plan  # per project: 4 candidates + what she touched, read and joined
    task_scans = _task_scans(json.loads(large_plan))
    assert {"Index Only Scan", "Index Scan"} >= {kind for kind, _ in task_scans}, large_plan
    assert "task_claimable_order" in {index for _, index in task_scans}, large_plan


@pytest.mark.django_db
def test_the_bounded_share_count_decides_as_the_full_count(settings):
    """The default share cap is decided from a count that stops where the answer can no longer change:
    for every percent, held and project size, the same projects are under the cap as with the full count."""
    project = make_project(overlap=2, max_judgments_per_worker=None)
    make_tasks(project, 9)
    make_tasks(project, 3, gold=True)  # gold is not counted in the project's size
    for size in (9, 37, 61):
        if size > 9:
            make_tasks(project, size - Task.objects.filter(project=project, is_gold=False).count(), start=size * 100)
        for percent in (7, 20, 30, 100):
            settings.QUEUE_DEFAULT_SHARE_PERCENT = percent
            for held in range(0, 40):
                project.held = held
                expected = held < project_share_cap(project=project, n_tasks=size)
                assert bool(_under_share_cap([project])) == expected, (size, percent, held)
