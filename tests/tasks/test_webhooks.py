"""Webhooks to clients: signed (checked by an independent receiver), retried with backoff, bounded,
logged, recorded once per event, and sent by a real Celery worker after commit. The SSRF guard has its
own file, test_webhook_ssrf.py."""

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from tasks.models import Task, WebhookAttempt, WebhookDelivery
from tasks.services.completion import task_completed, task_completed_notify
from tasks.services.webhooks import webhook_attempt, webhook_delivery_create
from tests.conftest import make_user, wait_until
from tests.tasks.client_support import ClientSession, add_judgment, make_project, pair


class Receiver:
    """A real HTTP server on 127.0.0.1 in a thread. Answers with the queued status codes (then 200)."""

    def __init__(self, statuses=(), delay: float = 0.0):
        self.requests: list[dict] = []
        self.statuses = list(statuses)
        self.delay = delay
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if receiver.delay:
                    time.sleep(receiver.delay)
                code = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok" if code < 300 else b"nope")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/marketplace"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def independent_verify(secret: str, body: bytes, header: str, tolerance: int = 300) -> bool:
    """What a client writes from our docs, without our code: t=...,v1=HMAC-SHA256(secret, "{t}.{body}")."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    if abs(time.time() - int(parts["t"])) > tolerance:
        return False
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def lab(db):
    return ClientSession("Lab A")


def _register(lab, url) -> str:
    response = lab.patch("/api/v1/client/", {"callback_url": url})
    assert response.status_code == 200, response.content
    return response.json()["webhook_secret"]


def _delivery(lab, key="task.completed:1"):
    return webhook_delivery_create(client_id=lab.client_row.pk, event="task.completed", event_key=key,
                                   data={"project": 1, "task": {"external_id": "ex-1"}})


def test_signed_delivery_verified_by_an_independent_receiver(lab, receiver):
    secret = _register(lab, receiver.url)
    assert "webhook_secret" not in lab.get("/api/v1/client/").json()  # shown once
    delivery = _delivery(lab)
    assert webhook_attempt(delivery_id=delivery.pk) == ("delivered", None)
    (request,) = receiver.requests
    header = request["headers"]["X-Marketplace-Signature"]
    assert independent_verify(secret, request["body"], header)
    assert not independent_verify(secret, request["body"] + b" ", header)  # tampered body
    assert not independent_verify("whsec_wrong", request["body"], header)  # forged with another secret
    payload = json.loads(request["body"])
    assert payload["event"] == "task.completed" and payload["id"] == str(delivery.event_id)
    assert request["headers"]["X-Marketplace-Event"] == "task.completed"
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 1
    assert WebhookAttempt.objects.get(delivery=delivery).status_code == 200
    # Delivered is final: another job run sends nothing.
    assert webhook_attempt(delivery_id=delivery.pk) == ("skipped", None)
    assert len(receiver.requests) == 1


def test_rotated_secret_signs_from_then_on(lab, receiver):
    old = _register(lab, receiver.url)
    new = lab.post("/api/v1/client/webhook-secret/").json()["webhook_secret"]
    assert new != old
    webhook_attempt(delivery_id=_delivery(lab).pk)
    request = receiver.requests[0]
    assert independent_verify(new, request["body"], request["headers"]["X-Marketplace-Signature"])
    assert not independent_verify(old, request["body"], request["headers"]["X-Marketplace-Signature"])


def test_retry_after_receiver_failure_with_backoff(lab, settings):
    settings.WEBHOOKS_BACKOFF_SECONDS = 30
    failing = Receiver(statuses=[500, 503])
    try:
        _register(lab, failing.url)
        delivery = _delivery(lab)
        assert webhook_attempt(delivery_id=delivery.pk) == ("retry", 30)
        # The backoff holds: a job arriving early does not post.
        assert webhook_attempt(delivery_id=delivery.pk) == ("skipped", None)
        assert len(failing.requests) == 1
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        assert webhook_attempt(delivery_id=delivery.pk) == ("retry", 60)  # doubled
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        assert webhook_attempt(delivery_id=delivery.pk) == ("delivered", None)
        log = list(WebhookAttempt.objects.filter(delivery=delivery).values_list("number", "status_code"))
        assert log == [(1, 500), (2, 503), (3, 200)]
        # Every attempt carried the same event id, so the client can deduplicate.
        assert len({json.loads(r["body"])["id"] for r in failing.requests}) == 1
    finally:
        failing.close()


def test_attempts_are_bounded(lab, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 3
    failing = Receiver(statuses=[500] * 10)
    try:
        _register(lab, failing.url)
        delivery = _delivery(lab)
        outcomes = []
        for _ in range(5):
            WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=None)
            outcomes.append(webhook_attempt(delivery_id=delivery.pk)[0])
        assert outcomes == ["retry", "retry", "failed", "skipped", "skipped"]
        assert len(failing.requests) == 3
        delivery.refresh_from_db()
        assert delivery.status == "failed" and delivery.last_status_code == 500
    finally:
        failing.close()


def test_timeout_is_a_failed_attempt(lab, settings):
    settings.WEBHOOKS_TIMEOUT_SECONDS = 1
    slow = Receiver(delay=2.5)
    try:
        _register(lab, slow.url)
        delivery = _delivery(lab)
        assert webhook_attempt(delivery_id=delivery.pk)[0] == "retry"
        attempt = WebhookAttempt.objects.get(delivery=delivery)
        assert attempt.status_code is None and "timed out" in attempt.error.lower()
    finally:
        slow.close()


def test_no_callback_url_records_nothing(lab):
    assert _delivery(lab) is None
    assert not WebhookDelivery.objects.exists()


def test_completion_records_each_event_once_and_closes_the_project(lab, receiver):
    _register(lab, receiver.url)
    project = make_project(lab.client_row, overlap=1)
    lab.upload_jsonl(project.pk, [pair(1), pair(2), pair(3, gold={"choice": "a"})])
    t1, t2 = Task.objects.filter(project=project, is_gold=False).order_by("id")
    Task.objects.filter(pk=t1.pk).update(status="complete", completed_at=timezone.now())
    ids = task_completed_notify(task_id=t1.pk, consensus={"answer": {"choice": "a"}, "confidence": 1.0})
    assert len(ids) == 1
    # Twice (a redelivered job): the same pending delivery, not a second event.
    assert task_completed_notify(task_id=t1.pk, consensus=None) == ids
    assert WebhookDelivery.objects.count() == 1
    project.refresh_from_db()
    assert project.status == "active"  # t2 is still open (the gold task never completes)
    Task.objects.filter(pk=t2.pk).update(status="complete", completed_at=timezone.now())
    ids = task_completed_notify(task_id=t2.pk, consensus=None)
    events = list(WebhookDelivery.objects.filter(pk__in=ids).values_list("event", flat=True))
    assert sorted(events) == ["project.completed", "task.completed"]
    project.refresh_from_db()
    assert project.status == "completed" and project.completed_at
    again = task_completed_notify(task_id=t2.pk, consensus=None)
    assert set(again) <= set(ids) and WebhookDelivery.objects.count() == 3
    first = WebhookDelivery.objects.get(event_key=f"task.completed:{t1.pk}")
    assert first.payload["data"]["consensus"] == {"answer": {"choice": "a"}, "confidence": 1.0}
    assert first.payload["data"]["task"]["external_id"] == "ex-1"


def test_task_completed_records_its_jobs_in_the_callers_transaction(lab):
    """The jobs are outbox rows of the caller's transaction: committed with it, gone with a rollback (a
    rolled-back submit never notifies anyone), and no broker call in the request."""
    from django.db import transaction

    from marketplace.models import OutboxEvent

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        task_completed(task_id=123)
        raise Boom
    assert not OutboxEvent.objects.exists()
    task_completed(task_id=123)
    # Only quality's consensus job: it hands the consensus down and records task.completed then (no polling).
    assert list(OutboxEvent.objects.values_list("job", "args")) == [("quality.jobs.task_consensus_compute", [123])]


@pytest.fixture
def fast_webhook_env(monkeypatch):
    # Read by the Celery worker subprocess at start (settings come from the environment).
    monkeypatch.setenv("WEBHOOKS_BACKOFF_SECONDS", "1")


@pytest.mark.postgres
@pytest.mark.redis
def test_real_celery_worker_delivers_signed_events_after_a_failure(fast_webhook_env, celery_worker):
    failing_once = Receiver(statuses=[502])
    try:
        lab = ClientSession("Lab E2E")
        secret = _register(lab, failing_once.url)
        project = make_project(lab.client_row, overlap=1)
        lab.upload_jsonl(project.pk, [pair(1)])
        task = Task.objects.get(project=project)
        add_judgment(task, make_user("r@example.com"), {"choice": "b"})
        Task.objects.filter(pk=task.pk).update(status="complete", completed_at=timezone.now(), n_submitted=0)
        task_completed(task_id=task.pk)  # no transaction open: enqueued at once

        def delivered():
            return WebhookDelivery.objects.filter(client=lab.client_row, status="delivered").count() == 2

        wait_until(delivered, timeout=60, message="both events delivered")
        ok = [r for r in failing_once.requests if r is not failing_once.requests[0]]
        events = sorted(json.loads(r["body"])["event"] for r in ok)
        assert "task.completed" in events and "project.completed" in events
        for request in failing_once.requests:
            assert independent_verify(secret, request["body"], request["headers"]["X-Marketplace-Signature"])
        retried = WebhookDelivery.objects.get(client=lab.client_row, attempts=2)
        assert list(retried.attempt_log.values_list("status_code", flat=True)) == [502, 200]
    finally:
        failing_once.close()


def test_the_consensus_job_hands_its_consensus_down_and_task_completed_carries_it(lab, receiver):
    """Completion tells quality (the task_completed hook); quality's job computes the consensus and hands it
    to tasks (task_consensus_ready), which records task.completed with it at once: nothing polls."""
    from marketplace.models import OutboxEvent
    from quality.jobs import task_consensus_compute

    _register(lab, receiver.url)
    project = make_project(lab.client_row, overlap=2)
    lab.upload_jsonl(project.pk, [pair(1), pair(2)])
    task = Task.objects.filter(project=project).first()
    for n in range(2):
        add_judgment(task, make_user(f"c{n}@example.com"), {"choice": "a"})
    Task.objects.filter(pk=task.pk).update(status="complete", completed_at=timezone.now())
    task_completed(task_id=task.pk)
    assert list(OutboxEvent.objects.filter(job="quality.jobs.task_consensus_compute")
                .values_list("args", flat=True)) == [[task.pk]]
    assert not OutboxEvent.objects.filter(job="tasks.jobs.clients.webhook_task_completed").exists()
    task_consensus_compute.apply(args=(task.pk,))
    sent = [args[0] for args in OutboxEvent.objects.filter(job="tasks.jobs.clients.webhook_deliver")
            .values_list("args", flat=True)]
    (delivery,) = WebhookDelivery.objects.filter(pk__in=sent)
    assert delivery.event == "task.completed"
    assert delivery.payload["data"]["consensus"]["answer"] == {"choice": "a"}


def test_a_failing_consensus_still_tells_the_client_with_consensus_null(lab, receiver, monkeypatch):
    """The consensus job hands None down when its computation raises (and the error still surfaces), so a
    client hears of its completed task as it did after the old bounded wait."""
    from marketplace.models import OutboxEvent
    from quality import services
    from quality.jobs import task_consensus_compute

    _register(lab, receiver.url)
    project = make_project(lab.client_row, overlap=1)
    lab.upload_jsonl(project.pk, [pair(1), pair(2)])
    task = Task.objects.filter(project=project).first()
    Task.objects.filter(pk=task.pk).update(status="complete", completed_at=timezone.now())

    def boom(**kwargs):
        raise RuntimeError("consensus failed")

    monkeypatch.setattr(services, "task_consensus_compute", boom)
    with pytest.raises(RuntimeError):
        task_consensus_compute.apply(args=(task.pk,), throw=True)
    sent = [args[0] for args in OutboxEvent.objects.filter(job="tasks.jobs.clients.webhook_deliver")
            .values_list("args", flat=True)]
    (delivery,) = WebhookDelivery.objects.filter(pk__in=sent)
    assert delivery.event == "task.completed" and delivery.payload["data"]["consensus"] is None


def test_an_old_outbox_row_of_the_polling_job_sends_at_once(lab, receiver):
    """tasks.jobs.clients.webhook_task_completed rows recorded before the upgrade still deliver: with the
    consensus as it stands, without waiting (nothing enqueues that job any more)."""
    from tasks.jobs import clients as jobs

    _register(lab, receiver.url)
    project = make_project(lab.client_row, overlap=1)
    lab.upload_jsonl(project.pk, [pair(1), pair(2)])
    task = Task.objects.filter(project=project).first()
    Task.objects.filter(pk=task.pk).update(status="complete", completed_at=timezone.now())
    jobs.webhook_task_completed.apply(args=(task.pk,), throw=True)
    delivery = WebhookDelivery.objects.get(client=lab.client_row, event="task.completed")
    assert delivery.payload["data"]["consensus"] is None
