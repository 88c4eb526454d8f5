"""Gold secrecy, the general test: nothing a worker can read tells a gold check from real work.

Two twin worlds, identical except for one thing: in world "gold" every claim of the worker under test is
served a gold task, in world "real" a real one (the queue's gold draw is forced; everything else is the
queue's own code). Each world is its own project, behind its own pool, with its own worker and its own
crowd worker, the same tasks (same data) and the same clock. The worker claims, submits, releases and
runs into the share cap, and after every step reads every GET endpoint of the API schema (so a new
endpoint is covered the day it is added) plus the session endpoint. Both transcripts, with ids renumbered
in order of appearance, must be equal, headers included: any field that differs between gold and real
is a tell. The gold share is a parameter (adaptive gold will vary it per worker): the test holds for any.

What is not compared: Date and Expires (the wall clock), Content-Length (ids of different lengths), and the order of statements and
their timing (see docs/queue.md, "What a worker can learn about gold").
"""

import re
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from tasks.models import Task
from tests.tasks.test_queue_factories import make_project
from tests.workers.factories import complete_profile, qualify
from workers.models import Pool, PoolMembership

CLAIM = "/api/v1/assignments/claim/"
DATA = {"prompt": "Sort a list", "language": "python", "response_a": "sorted(x)", "response_b": "x.sort()"}
UNCOMPARED_HEADERS = {"date", "expires", "content-length", "x-request-id"}  # wall clock; id digits; a fresh random id per request
ID_KEY = re.compile(r"(^|_)(id|pk)$|^(task|project|assignment|judgment|worker|user|transaction|entry|batch)$")
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


class Clock:
    """timezone.now for both worlds: frozen, moved by hand, and reset to the same start for each world."""

    def __init__(self):
        self.at = timezone.now()

    def __call__(self):
        return self.at


class Forced:
    """Stands in for the queue's random module: the gold draw gives `value` (0: gold, 1: real)."""

    def __init__(self):
        self.value = 1.0

    def random(self):
        return self.value


def _worker_gets(schema_paths, assignment_id) -> list[tuple[str, str]]:
    """(template, path) of every GET path of the API schema, path parameters filled with the worker's
    latest assignment id (another object's id gives 403/404: compared too), plus the session endpoint."""
    paths = []
    for path, operations in sorted(schema_paths.items()):
        if "get" in operations:
            paths.append((path, re.sub(r"\{[^}]+\}", str(assignment_id or 0), path)))
    return [*paths, ("/_allauth/app/v1/auth/session",) * 2]


def _normalize(value, world, key="", where=""):
    """Ids renumbered per place (parent key and key: ids of different tables may be equal numbers),
    datetimes and the world's own names replaced, numbers in URL paths renumbered."""
    if isinstance(value, dict):
        return {k: _normalize(v, world, k, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v, world, key, where) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and ID_KEY.search(key):
        return world.id_token(where, value)
    if isinstance(value, float) and where.endswith("methods.at"):  # allauth: when the person signed in (epoch)
        return "<epoch>"
    if isinstance(value, str):
        if DATETIME.match(value):
            return "<datetime>"
        for own, token in world.names.items():
            value = value.replace(own, token)
        value = re.sub(r"\b(task|judgment|assignment|project) (\d+)",  # e.g. a ledger memo "Project (task 7)"
                       lambda m: f"{m[1]} {world.id_token(m[1], int(m[2]))}", value)
        return re.sub(r"(?<=/)\d+(?=/)", lambda m: world.id_token("path", int(m.group())), value)
    return value


def _world(name, person, gold_share):
    pool = Pool.objects.create(name=f"Twin pool {name}")
    project = make_project(overlap=3, gold_share=gold_share, pool=pool, max_judgments_per_worker=3)
    project.name = "Twin project"
    project.save(update_fields=["name"])
    Task.objects.bulk_create(
        [Task(project=project, external_id=f"t{i}", data=DATA, overlap=3) for i in range(6)]
        + [Task(project=project, external_id=f"g{i}", data=DATA, overlap=Task.GOLD_OVERLAP, is_gold=True,
                gold={"choice": "a"}) for i in range(4)])
    people = {}
    for role in ("worker", "crowd"):
        who = person(f"{role}-{name}@example.com")
        complete_profile(who.user)
        qualify(who.user)
        PoolMembership.objects.create(pool=pool, worker=who.user)
        people[role] = who
    ids: dict = {}

    def id_token(where, value):
        return f"<{where}:{ids.setdefault((where, value), len([k for k in ids if k[0] == where]))}>"

    return SimpleNamespace(name=name, project=project, transcript=[], id_token=id_token,
                           names={f"worker-{name}@example.com": "<worker>", f"crowd-{name}@example.com": "<crowd>",
                                  f"Twin pool {name}": "<pool>"}, **people)


def _play(world, *, gold: bool, clock: Clock, forced: Forced, start: datetime, schema_paths):
    """One world's story; every answer the worker reads goes to world.transcript."""
    w, latest = world.worker, {"id": None}

    def record(label, response):
        body = response.json() if response.content and "json" in response.get("Content-Type", "") else None
        headers = {k.lower(): (v if k.lower() not in UNCOMPARED_HEADERS else "<uncompared>")
                   for k, v in response.items()}
        # Ids are renumbered per endpoint as well as per key: ids of different tables under the same key (the
        # user's "id" in /me/, an assignment's "id" in a claim) may be equal numbers in one world and not in
        # the other, depending only on where the sequences stand (an earlier test file moves them).
        where = re.sub(r"\d+", "#", label)
        world.transcript.append((label, response.status_code, _normalize(headers, world, where=where),
                                 _normalize(body, world, where=where)))

    def look(after):
        for template, path in _worker_gets(schema_paths, latest["id"]):
            record(f"{after}: GET {template}", w.get(path))

    def claim(label):
        forced.value = 0.0 if gold else 1.0
        response = w.post(CLAIM, {})
        forced.value = 1.0
        record(label, response)
        if response.status_code == 201:
            latest["id"] = response.json()["id"]
        clock.at += timedelta(seconds=20)
        return latest["id"]

    clock.at = start
    # The crowd (real work only, the same in both worlds) has answered one task, so the served reason is
    # "closest to completion" rather than "oldest open task".
    crowd = world.crowd.post(CLAIM, {}).json()["id"]
    assert world.crowd.post(f"/api/v1/assignments/{crowd}/submit/", {"answer": {"choice": "b"}}).status_code == 200
    look("start")

    first = claim("claim 1")
    look("after claim 1")
    clock.at += timedelta(seconds=41)
    record("submit 1", w.post(f"/api/v1/assignments/{first}/submit/",
                              {"answer": {"choice": "a"}, "seconds_spent": 42}))
    look("after submit 1")

    second = claim("claim 2")
    record("release 2", w.post(f"/api/v1/assignments/{second}/release/"))
    look("after release 2")

    third = claim("claim 3")
    clock.at += timedelta(seconds=5)
    record("submit 3 (wrong answer)", w.post(f"/api/v1/assignments/{third}/submit/",
                                             {"answer": {"choice": "b"}}))
    claim("claim 4")  # the share cap (3) is reached: live + submitted, gold included
    look("after claim 4")
    claim("claim 5 at the cap")
    look("at the cap")


@pytest.mark.django_db
@pytest.mark.parametrize("gold_share", [0.05, 0.5, 1.0])
def test_nothing_a_worker_reads_differs_between_gold_and_real_work(person, monkeypatch, settings, gold_share):
    from drf_spectacular.generators import SchemaGenerator

    settings.QUEUE_MAX_LIVE_CLAIMS = 10
    schema_paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    clock, forced = Clock(), Forced()
    monkeypatch.setattr("django.utils.timezone.now", clock)
    monkeypatch.setattr("tasks.services.queue.random", forced)
    start = clock.at
    gold_world, real_world = _world("g", person, gold_share), _world("r", person, gold_share)

    from marketplace.models import OutboxEvent

    for world, gold in ((gold_world, True), (real_world, False)):
        # GET /healthz counts the outbox's unsent rows, the whole site's: each world starts from an empty one
        # (the relay's work), as the two worlds play one after the other (every submit records one row).
        OutboxEvent.objects.all().delete()
        _play(world, gold=gold, clock=clock, forced=forced, start=start, schema_paths=schema_paths)

    assert len(gold_world.transcript) == len(real_world.transcript) > 50
    for seen_gold, seen_real in zip(gold_world.transcript, real_world.transcript, strict=True):
        assert seen_gold == seen_real, f"gold and real differ at {seen_gold[0]}"
    # The story did what it says: gold served in one world, real in the other.
    served = {w.name: set(w.worker.user.assignments.values_list("task__is_gold", flat=True))
              for w in (gold_world, real_world)}
    assert served == {"g": {True}, "r": {False}}
