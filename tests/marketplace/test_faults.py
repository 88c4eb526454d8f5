"""Real faults mid-flow (issue 14): a Redis of the test's own killed and restarted, PostgreSQL connections
terminated with pg_terminate_backend mid-request and mid-job, the Celery worker killed with SIGKILL while
it holds jobs. After each: every submit answered as committed, and no judgment, credit, consensus,
webhook or notification lost or doubled."""

import json
import time
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Sum

from marketplace.celery import app as celery_app
from marketplace.models import OutboxEvent
from tasks.models import Judgment, Project, Task, WebhookDelivery, WorkNotification
from tests.conftest import CeleryWorker, wait_until
from tests.marketplace.fault_support import (
    BackendTerminator,
    OwnRedis,
    reset_broker_connections,
    terminate_backends,
)
from tests.tasks.client_support import ClientSession, pair
from tests.tasks.test_queue_factories import make_project, make_tasks
from tests.tasks.test_webhooks import Receiver
from tests.workers.factories import complete_profile, qualify

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CLAIM = "/api/v1/assignments/claim/"
FAST = {"WEBHOOKS_BACKOFF_SECONDS": "1"}


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def world(transactional_db, person, receiver):
    """A client whose callback is the receiver, a project (overlap 1) of 12 tasks, two signed-in workers."""
    lab = ClientSession("Lab under faults")
    assert lab.patch("/api/v1/client/", {"callback_url": receiver.url}).status_code == 200
    project = make_project(overlap=1)
    Project.objects.filter(pk=project.pk).update(client=lab.client_row)
    make_tasks(project, 12)
    people = []
    for email in ("alice@example.com", "bob@example.com"):
        who = person(email)
        complete_profile(who.user)
        qualify(who.user)
        people.append(who)
    return {"lab": lab, "project": project, "workers": people}


def judge(who, n: int) -> list[int]:
    """n claim -> submit rounds; every answer must be the success it would be with all services up."""
    done = []
    for _ in range(n):
        claimed = who.post(CLAIM, {})
        assert claimed.status_code == 201, claimed.content
        submitted = who.post(f"/api/v1/assignments/{claimed.json()['id']}/submit/", {"answer": {"choice": "a"}})
        assert submitted.status_code == 200, submitted.content
        done.append(claimed.json()["task"]["id"])
    return done


def consequences(project) -> dict:
    from payments.models import LedgerAccount
    from quality.models import TaskConsensus

    complete = set(Task.objects.filter(project=project, status="complete").values_list("pk", flat=True))
    return {
        "complete": complete,
        "consensus": set(TaskConsensus.objects.filter(task__project=project).values_list("task_id", flat=True)),
        "delivered": Counter(WebhookDelivery.objects.filter(event="task.completed", status="delivered")
                             .values_list("event_key", flat=True)),
        # Credited to workers: payable, or pending until their work is checked (pay follows evidence).
        "payable": LedgerAccount.objects.filter(kind__in=["worker_payable", "worker_pending"])
        .aggregate(s=Sum("balance_cents"))["s"] or 0,
    }


def all_arrived(project, n: int):
    def check():
        c = consequences(project)
        return (len(c["complete"]) == n and c["consensus"] == c["complete"] and len(c["delivered"]) == n
                and not OutboxEvent.objects.filter(done_at__isnull=True).exists())  # every job finished
    return check


def assert_nothing_lost_or_doubled(project, task_ids: list[int], receiver, reposts_allowed: int = 0):
    n = len(task_ids)
    c = consequences(project)
    assert len(set(task_ids)) == n and c["complete"] == set(task_ids)
    assert Judgment.objects.filter(project=project).count() == n  # one judgment per submit
    assert c["payable"] == n * project.reward_cents  # one credit per judgment
    assert c["consensus"] == c["complete"]  # TaskConsensus is one per task (OneToOne): never doubled
    assert c["delivered"] == Counter({f"task.completed:{t}": 1 for t in task_ids})
    received = Counter(json.loads(r["body"])["id"] for r in receiver.requests
                       if json.loads(r["body"])["event"] == "task.completed")
    assert len(received) == n, received  # every event reached the client
    # Each posted once; a worker killed in the middle of a post makes that one attempt again (webhooks are
    # at least once; receivers dedupe by event id, as our docs say).
    assert sum(received.values()) - n <= reposts_allowed, received


def test_redis_killed_mid_flow_loses_nothing_and_misleads_nobody(world, receiver, tmp_path, monkeypatch):
    """The issue's scenario: claims and submits go on while Redis is dead, every one answered as if it were
    up; /healthz says degraded; within seconds of Redis' return every consensus, webhook and "work
    available" notification has arrived, none twice."""
    redis = OwnRedis(tmp_path).start()
    env = {"REDIS_URL": redis.url, "CELERY_BROKER_URL": redis.url, **FAST}
    monkeypatch.setattr(celery_app.conf, "broker_url", redis.url)  # /healthz in this process probes it too
    reset_broker_connections()
    worker = CeleryWorker(tmp_path, connection.settings_dict["NAME"], env=env).start()
    alice, bob = world["workers"]
    project = world["project"]
    try:
        done = judge(alice, 4)
        wait_until(all_arrived(project, 4), timeout=60, message="the first consequences")

        redis.kill()
        reset_broker_connections()
        health = world["lab"].api.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "degraded", health.content
        done += judge(alice, 3) + judge(bob, 3)  # all 2xx with the broker dead
        other = make_project(overlap=1)  # an upload while the broker is dead: "work available" is held too
        Project.objects.filter(pk=other.pk).update(client=world["lab"].client_row)
        assert world["lab"].upload_jsonl(other.pk, [pair(1)]).status_code == 201
        held = OutboxEvent.objects.filter(sent_at__isnull=True)
        # Each completed task's consensus job (it records the task.completed webhook once it has run).
        assert held.filter(job="quality.jobs.task_consensus_compute").count() == 6
        assert held.filter(job="tasks.jobs.queue.notify_work_available").count() == 1
        assert world["lab"].api.get("/healthz").json()["outbox"]["pending"] >= 7

        redis.start()  # same port, its AOF replayed
        reset_broker_connections()
        back = time.monotonic()
        wait_until(all_arrived(project, 10), timeout=60, message="every held consequence after Redis' return")
        wait_until(lambda: WorkNotification.objects.filter(project=other).exists(), timeout=30,
                   message="the work-available notification")
        print(f"\nall consequences of the outage arrived {time.monotonic() - back:.1f}s after Redis returned")
        assert world["lab"].api.get("/healthz").json()["status"] == "ok"
        assert_nothing_lost_or_doubled(project, done, receiver)
        assert WorkNotification.objects.filter(project=other).count() == 2  # alice and bob, once each (idle)
    finally:
        worker.stop()
        redis.stop()
        monkeypatch.undo()
        reset_broker_connections()


def test_database_connection_terminated_mid_submit_is_a_503_that_changed_nothing(world, monkeypatch):
    """pg_terminate_backend on the request's own connection between the judgment and the credit: 503 in
    the one error shape with Retry-After (never a 500), nothing of the submit committed, and the retry on
    a fresh connection (recovered by itself) succeeds once."""
    from tasks.services import queue_leases

    alice = world["workers"][0]
    claimed = alice.post(CLAIM, {}).json()
    real_credit = queue_leases._credit
    connection.ensure_connection()
    own_pid = connection.connection.info.backend_pid

    def credit_after_the_database_went_away(judgment):
        terminate_backends(connection.settings_dict["NAME"], except_pids=())  # includes this request's
        monkeypatch.setattr(queue_leases, "_credit", real_credit)
        return real_credit(judgment)

    monkeypatch.setattr(queue_leases, "_credit", credit_after_the_database_went_away)
    url = f"/api/v1/assignments/{claimed['id']}/submit/"
    failed = alice.post(url, {"answer": {"choice": "a"}})
    assert failed.status_code == 503, failed.content
    assert failed["Retry-After"].isdigit()
    assert failed.json()["error"]["code"] == "database_unavailable" and "Traceback" not in failed.content.decode()
    # What Django does at the end of every request (the test client skips it to keep the test's
    # connection): a connection that raised is checked and closed, so the next request opens a new one.
    connection.close_if_unusable_or_obsolete()
    assert connection.connection is None or connection.connection.info.backend_pid != own_pid
    assert Judgment.objects.count() == 0
    assert Task.objects.filter(pk=claimed["task"]["id"]).values_list("n_submitted", flat=True).get() == 0
    again = alice.post(url, {"answer": {"choice": "a"}})
    assert again.status_code == 200, again.content
    assert Judgment.objects.count() == 1 and consequences(world["project"])["payable"] == world["project"].reward_cents


def test_database_connections_terminated_mid_job_lose_nothing(world, receiver, tmp_path):
    """Every connection of the worker and the relay is terminated again and again while they run the
    consensus, webhook and notification jobs of 8 completed tasks: jobs retry with backoff, connections
    come back by themselves, and every consequence arrives once."""
    # A job whose "done" mark was cut off is published again after OUTBOX_REDELIVER_SECONDS: short here.
    worker = CeleryWorker(tmp_path, connection.settings_dict["NAME"], env={**FAST, "OUTBOX_REDELIVER_SECONDS": "10"}).start()
    alice, bob = world["workers"]
    project = world["project"]
    connection.ensure_connection()
    own_pid = connection.connection.info.backend_pid
    try:
        with BackendTerminator(connection.settings_dict["NAME"], keep_pid=own_pid, seconds=4) as terminator:
            done = judge(alice, 4) + judge(bob, 4)
        assert terminator.terminated > 0
        wait_until(all_arrived(project, 8), timeout=120, message="every consequence after the terminations")
        # A connection cut between the POST to the client and the row that records it makes that attempt
        # again (webhooks are at least once, deduplicated by event id): the record is still once per event.
        assert_nothing_lost_or_doubled(project, done, receiver, reposts_allowed=2)
    finally:
        worker.stop()


def test_worker_killed_with_sigkill_while_holding_jobs_loses_nothing(world, receiver, tmp_path):
    """The worker dies (SIGKILL, the whole process group) while it holds jobs (task.completed jobs waiting
    for the consensus with a countdown, unacknowledged): a new worker gets them again after the broker's
    visibility timeout (acks_late); a message the worker had popped but not yet recorded as unacknowledged
    (kombu's Redis transport has that window) is published again by the relay, because its job never
    finished (OUTBOX_REDELIVER_SECONDS). Nothing is lost or doubled."""
    from tasks.jobs.clients import webhooks_sweep

    env = {**FAST, "CELERY_VISIBILITY_TIMEOUT": "5", "CELERY_UNACKED_RESTORE_SECONDS": "1",
           "OUTBOX_REDELIVER_SECONDS": "8"}
    db_name = connection.settings_dict["NAME"]
    worker = CeleryWorker(tmp_path, db_name, env=env).start()
    project = world["project"]
    replacement = None
    try:
        done = judge(world["workers"][0], 3) + judge(world["workers"][1], 3)
        # Kill once the worker holds a job it has postponed (waiting for a consensus), or after 10 s.
        try:
            wait_until(lambda: "Retry in" in worker.log_path.read_text(), timeout=10, message="a held job")
        except AssertionError:
            pass
        worker.kill()  # the relay (its own process) stays up
        held = OutboxEvent.objects.count()
        replacement = CeleryWorker(tmp_path, db_name, env=env, with_relay=False).start()
        started = time.monotonic()

        def arrived():
            # What beat does every minute: a delivery whose attempt died with the worker is found again.
            if time.monotonic() - started > 45:
                webhooks_sweep.delay()
            return all_arrived(project, 6)()

        wait_until(arrived, timeout=120, interval=1, message="every consequence after the crash")
        assert held > 0
        assert_nothing_lost_or_doubled(project, done, receiver, reposts_allowed=2)
    finally:
        if replacement is not None:
            replacement.stop()
        worker.stop()
