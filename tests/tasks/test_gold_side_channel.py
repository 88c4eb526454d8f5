"""Gold by side channel: a worker's claim and submit answers for gold and real tasks of one project have
the same shape (keys, types, headers), the same sizes, and run the same SQL statements, so their timing
has nothing to differ by.

Statements rather than timings (timed assertions are flaky, and the statements are what the time is made
of): the number, order and text of every statement a request runs, with literals, savepoint names and
the kind-specific fragments of the pick (`is_gold` or `NOT is_gold`, each kind's index order) blanked.
test_gold_secrecy.py compares everything a worker reads over GET; this file the writes' answers and their cost.

One project, two workers with the same history: the queue's gold draw is forced (gold for one, real for
the other), everything else is the queue's own code, on each claim backend.
"""

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tasks.models import Assignment
from tasks.selectors.queue_backends import queue_backend
from tests.tasks.test_queue_factories import make_project, make_tasks
from tests.workers.factories import complete_profile, qualify

CLAIM = "/api/v1/assignments/claim/"
UNCOMPARED_HEADERS = {"date", "expires", "x-request-id", "content-length"}  # clock; a random id; sizes: below
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


class Forced:
    """Stands in for the queue's random module: the gold draw gives `value` (0: gold, 1: real)."""

    value = 1.0

    def random(self):
        return self.value


@pytest.fixture(params=["postgres", "portable"])
def backend(request, settings):
    if request.param == "postgres" and connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    settings.QUEUE_CLAIM_RAW_SQL = request.param == "postgres"
    settings.QUEUE_MAX_LIVE_CLAIMS = 100
    assert queue_backend().name == request.param
    return request.param


def statement_shape(sql: str) -> str:
    """A statement with what may differ between two equal requests blanked: literals (ids, times, the
    worker's answer), savepoint names, and the two spellings of the pick (gold or real candidates, each
    read in its own partial index's order)."""
    sql = re.sub(r'"s\d+_x\d+"', "<savepoint>", sql)
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)  # one placeholder for every literal: a string, a number or null
    sql = re.sub(r"\b(true|false|NULL)\b", "?", sql, flags=re.IGNORECASE)
    sql = re.sub(r"(?<![\w\"])-?\d+(\.\d+)?(e-?\d+)?\b", "?", sql)
    sql = re.sub(r"NOT \(?(\"?\w+\"?\.\"?is_gold\"?)\)?", r"\1", sql)
    sql = re.sub(r"(\"?\w+\"?\.\"?is_gold\"?)( = \?)?", r"\1", sql)
    sql = re.sub(r"ORDER BY .*?(?=\)|LIMIT|FOR UPDATE|$)", "ORDER BY <order> ", sql, flags=re.DOTALL)
    return re.sub(r"\s+", " ", sql).strip()


def skeleton(value):
    """The answer's shape and size: keys, types, string lengths (datetimes as one type: their length is
    the format's), the values of booleans and null. Numbers as their type only: ids and measured seconds
    differ between any two answers."""
    if isinstance(value, dict):
        return {key: skeleton(item) for key, item in value.items()}
    if isinstance(value, list):
        return [skeleton(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return type(value).__name__
    if isinstance(value, str) and DATETIME.match(value):
        return "datetime"
    return ("str", len(value))


def numbers_blanked_length(body: bytes) -> int:
    """The body's size with every number written as one digit: what is left of a size difference once ids
    and measured seconds (which differ between any two answers, gold or not) are set aside."""
    return len(re.sub(rb"-?\d+(\.\d+)?(e-?\d+)?", b"0", body))


def _headers(response) -> dict:
    return {k.lower(): v for k, v in response.items() if k.lower() not in UNCOMPARED_HEADERS}


class Recorder:
    """One worker's requests, each with its answer and its statements."""

    def __init__(self, who, forced: Forced, gold: bool):
        self.who, self.forced, self.gold = who, forced, gold
        self.seen: list[dict] = []

    def _record(self, label: str, call):
        with CaptureQueriesContext(connection) as queries:
            response = call()
        self.seen.append({"label": label, "status": response.status_code, "headers": _headers(response),
                          "body": response.content, "statements": [statement_shape(q["sql"])
                                                                    for q in queries.captured_queries]})
        return response

    def claim(self, project):
        self.forced.value = 0.0 if self.gold else 1.0
        try:
            response = self._record("claim", lambda: self.who.post(CLAIM, {"project": project.pk}))
        finally:
            self.forced.value = 1.0
        assert response.status_code == 201, response.content
        return response.json()["id"]

    def submit(self, assignment_id, answer):
        response = self._record("submit", lambda: self.who.post(f"/api/v1/assignments/{assignment_id}/submit/",
                                                                {"answer": answer, "seconds_spent": 12}))
        assert response.status_code == 200, response.content
        return response


def _twins(person, forced, *, n_real=12, n_gold=12, overlap=3, gold_share=0.3):
    """Two twin worlds: each its own project (same tasks, same settings) and worker, so one twin's claims
    never move the other's queue. Returns [(project, recorder) for gold, for real]."""
    twins = []
    for name, gold in (("gold", True), ("real", False)):
        project = make_project(overlap=overlap, gold_share=gold_share)
        project.name = "Twin project"  # the factory numbers its names: 9 and 10 differ in size
        project.save(update_fields=["name"])
        make_tasks(project, n_real)
        make_tasks(project, n_gold, gold=True)
        who = person(f"{name}@example.com")
        complete_profile(who.user)
        qualify(who.user)
        twins.append((project, Recorder(who, forced, gold)))
    return twins


def _assert_alike(gold: dict, real: dict):
    where = f"{gold['label']} (gold) vs {real['label']} (real)"
    assert gold["status"] == real["status"], where
    assert gold["headers"] == real["headers"], where
    gold_body, real_body = json.loads(gold["body"]), json.loads(real["body"])
    assert skeleton(gold_body) == skeleton(real_body), where
    assert numbers_blanked_length(gold["body"]) == numbers_blanked_length(real["body"]), where
    assert gold["statements"] == real["statements"], (
        f"{where}: statements differ\n" + "\n".join(
            f"{'=' if a == b else '!'} gold: {a[:220]}\n  real: {b[:220]}"
            for a, b in zip(gold["statements"], real["statements"], strict=False))
        + f"\n({len(gold['statements'])} vs {len(real['statements'])} statements)")


@pytest.mark.django_db
def test_gold_and_real_claims_and_submits_answer_alike_and_run_the_same_statements(person, monkeypatch, backend):
    forced = Forced()
    monkeypatch.setattr("tasks.services.queue.random", forced)
    twins = _twins(person, forced)
    for project, twin in twins:  # warm-up: first-use statements (the worker's ledger accounts, prepared statements)
        twin.submit(twin.claim(project), {"choice": "a"})
        twin.seen.clear()
    for round_ in range(6):
        for project, twin in twins:
            # Half the gold answers are wrong (graded), and the real twin answers alike.
            twin.submit(twin.claim(project), {"choice": "a" if round_ % 2 else "b"})
    (_, gold), (_, real) = twins
    assert set(Assignment.objects.filter(worker=gold.who.user).values_list("task__is_gold", flat=True)) == {True}
    assert set(Assignment.objects.filter(worker=real.who.user).values_list("task__is_gold", flat=True)) == {False}
    assert len(gold.seen) == len(real.seen) == 12
    for seen_gold, seen_real in zip(gold.seen, real.seen, strict=True):
        _assert_alike(seen_gold, seen_real)


@pytest.mark.django_db
def test_a_gold_draw_with_no_gold_left_costs_what_a_real_claim_costs(person, monkeypatch, backend):
    """Once the worker has seen every gold task, a claim whose draw says gold serves real work: it must
    run what any real claim runs, or the worker could time the draws and learn that gold has run out."""
    forced = Forced()
    monkeypatch.setattr("tasks.services.queue.random", forced)
    twins = _twins(person, forced, n_gold=1)
    for project, twin in twins:
        twin.submit(twin.claim(project), {"choice": "a"})  # the gold twin's one gold task
        twin.seen.clear()
    for _ in range(3):
        for project, twin in twins:
            twin.submit(twin.claim(project), {"choice": "a"})
    (_, gold), (_, real) = twins
    assert Assignment.objects.filter(worker=gold.who.user, task__is_gold=True).count() == 1
    for seen_gold, seen_real in zip(gold.seen, real.seen, strict=True):
        _assert_alike(seen_gold, seen_real)


def test_the_statement_shape_keeps_what_can_differ_in_cost():
    """The normaliser blanks literals and the pick's two spellings, not a statement's tables or columns."""
    assert statement_shape("SELECT 1 FROM t WHERE id = 7 AND NOT t.is_gold ORDER BY t.id LIMIT 1") == (
        statement_shape("SELECT 1 FROM t WHERE id = 12 AND t.is_gold ORDER BY t.n_active DESC, t.id LIMIT 1"))
    assert statement_shape("SELECT a FROM x") != statement_shape("SELECT a FROM x JOIN y ON y.id = x.id")
    assert statement_shape("SELECT 1 FROM t") != statement_shape("SELECT 1 FROM u")


@pytest.mark.django_db
def test_a_submit_that_completes_a_real_task_runs_what_a_gold_submit_runs(person, monkeypatch, backend):
    """Overlap 1: every real submit completes its task, no gold submit ever does. Every submit, gold or
    real, records the consensus job (it acts on completed tasks only) in the statement every submit runs,
    so completing costs nothing a worker could time (before, it was one more INSERT: a slow submit said
    "that task was real"; then one more row and NOTIFY, test_gold_side_channel_writes.py)."""
    from marketplace.models import OutboxEvent

    if connection.vendor != "postgresql":
        pytest.skip("elsewhere a completion's job is a second statement (docs/queue.md)")
    forced = Forced()
    monkeypatch.setattr("tasks.services.queue.random", forced)
    twins = _twins(person, forced, overlap=1, n_real=8, n_gold=8)
    for project, twin in twins:
        twin.submit(twin.claim(project), {"choice": "a"})
        twin.seen.clear()
    before = OutboxEvent.objects.filter(job="quality.jobs.task_consensus_compute").count()
    for _ in range(4):
        for project, twin in twins:
            twin.submit(twin.claim(project), {"choice": "a"})
    (gold_project, gold), (real_project, real) = twins
    assert not gold_project.tasks.filter(status="complete").exists()
    assert real_project.tasks.filter(status="complete", is_gold=False).count() == 5
    consensus_jobs = OutboxEvent.objects.filter(job="quality.jobs.task_consensus_compute")
    assert consensus_jobs.count() - before == 8  # one per submit, gold or real
    recorded = {args[0] for args in consensus_jobs.values_list("args", flat=True)}
    assert set(real_project.tasks.filter(status="complete").values_list("id", flat=True)) <= recorded
    assert set(Assignment.objects.filter(worker=gold.who.user).values_list("task_id", flat=True)) <= recorded
    for seen_gold, seen_real in zip(gold.seen, real.seen, strict=True):
        _assert_alike(seen_gold, seen_real)
