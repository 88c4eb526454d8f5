"""Gold by side channel, the work behind the statements (issue 31): a gold and a real claim, and a gold and
a real submit, of one project write the same number of rows to the same tables (inserts, updates,
deletes: PostgreSQL's pg_stat_xact_user_tables counters, which count what the statements did rather than
what they said), send the same number of NOTIFYs at commit and leave the same number of on_commit callbacks,
at overlap 1 (every real submit completes its task) and 3.

test_gold_side_channel.py compares the statements' text; a statement that writes a row for one kind and
none for the other (the outbox row of a completion) or moves a row out of an index for one kind only (a
completed task's status) passes that test and still costs differently. Counters, not timings: a timed
assertion is flaky; bench/gold_side_channel.py measures the timing.

Every request runs inside one outer transaction of the test's, so the counters can be read before it
commits; the commit then delivers the NOTIFYs to a listening connection of the test's own.
"""

import psycopg
import pytest
from django.db import connection, transaction

from marketplace.outbox import CHANNEL
from tests.tasks.test_gold_side_channel import Forced, _twins

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's counters")

# Not n_tup_hot_upd: whether an update is HOT depends on the page's free space too, not only on the
# statement. The one known difference there is the residual of docs/security.md's gold row: a completing
# submit changes the task's status, an indexed column, so its update is never HOT.
COUNTERS = ("n_tup_ins", "n_tup_upd", "n_tup_del")


def _writes() -> dict:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT relname, {', '.join(COUNTERS)} FROM pg_stat_xact_user_tables")  # noqa: S608
        return {name: counts for name, *counts in cursor.fetchall()}


def _delta(before: dict, after: dict) -> dict:
    out = {}
    for table, counts in after.items():
        was = before.get(table, (0,) * len(COUNTERS))
        diff = {c: now - then for c, now, then in zip(COUNTERS, counts, was, strict=True) if now != then}
        if diff:
            out[table] = diff
    return out


class Listener:
    def __init__(self):
        params = connection.get_connection_params()
        for key in ("cursor_factory", "server_side_binding", "prepare_threshold", "context"):
            params.pop(key, None)
        self.conn = psycopg.connect(**params, autocommit=True)
        self.conn.execute(f"LISTEN {CHANNEL}")

    def count(self) -> int:
        # A NOTIFY is delivered when its transaction commits; the commit has returned before this runs, and a
        # round trip on the listener's connection brings what the server queued for it.
        self.conn.execute("SELECT 1")
        return sum(1 for _ in self.conn.notifies(timeout=0.2, stop_after=1000))

    def close(self):
        self.conn.close()


def _measured(call, listener: Listener) -> dict:
    """What one request did: rows written per table, NOTIFYs delivered at its commit, on_commit callbacks."""
    listener.count()
    with transaction.atomic():
        callbacks = len(connection.run_on_commit)
        before = _writes()
        response = call()
        after = _writes()
        callbacks = len(connection.run_on_commit) - callbacks
    assert response.status_code in (200, 201), response.content
    return {"writes": _delta(before, after), "notifies": listener.count(), "on_commit": callbacks,
            "response": response}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("overlap", [1, 3])
def test_gold_and_real_claims_and_submits_write_alike(person, monkeypatch, overlap, settings):
    settings.QUEUE_CLAIM_RAW_SQL = True
    settings.QUEUE_MAX_LIVE_CLAIMS = 100
    forced = Forced()
    monkeypatch.setattr("tasks.services.queue.random", forced)
    twins = _twins(person, forced, overlap=overlap, n_real=8, n_gold=8)
    listener = Listener()
    seen = {True: [], False: []}
    try:
        for round_ in range(4):
            for project, twin in twins:
                forced.value = 0.0 if twin.gold else 1.0
                try:
                    claim = _measured(lambda p=project, t=twin: t.who.post("/api/v1/assignments/claim/",
                                                                             {"project": p.pk}), listener)
                finally:
                    forced.value = 1.0
                assignment_id = claim.pop("response").json()["id"]
                submit = _measured(lambda a=assignment_id, t=twin: t.who.post(
                    f"/api/v1/assignments/{a}/submit/", {"answer": {"choice": "a"}, "seconds_spent": 12}), listener)
                submit.pop("response")
                if round_:  # the first round warms up (first-use rows: the worker's ledger accounts)
                    seen[twin.gold].append({"claim": claim, "submit": submit})
    finally:
        listener.close()
    (gold_project, _), (real_project, _) = twins
    assert not gold_project.tasks.filter(status="complete").exists()
    if overlap == 1:
        assert real_project.tasks.filter(status="complete").count() == 4  # every real submit completed its task
    for step, (gold, real) in enumerate(zip(seen[True], seen[False], strict=True)):
        for kind in ("claim", "submit"):
            assert gold[kind] == real[kind], f"round {step + 1}, {kind}: gold {gold[kind]} vs real {real[kind]}"
            assert gold[kind]["notifies"] == (1 if kind == "submit" else 0)  # one outbox row per submit
