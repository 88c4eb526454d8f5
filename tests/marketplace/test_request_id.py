"""The request id: one per web request, echoed in X-Request-ID, on every log line (JSON or human), and
carried into the Celery jobs the request enqueues, on a real worker."""

import io
import json
import logging
import logging.config

import pytest
from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.test import Client, RequestFactory

from marketplace.jobs import heartbeat
from marketplace.models import Heartbeat
from marketplace.observability.requestid import RequestIdMiddleware, current_request_id
from tests.conftest import CeleryWorker, _purge_test_queue, wait_until


def _capture(fmt: str):
    """A handler built from settings.LOGGING's own formatter and filter, on the root logger."""
    config = json.loads(json.dumps(settings.LOGGING, default=str))
    stream = io.StringIO()
    config["handlers"] = {"capture": {"class": "logging.StreamHandler", "stream": stream, "formatter": fmt,
                                      "filters": ["request_id"]}}
    config["root"] = {"handlers": ["capture"], "level": "INFO"}
    config["formatters"]["json"]["()"] = settings.LOGGING["formatters"]["json"]["()"]
    config["handlers"]["capture"]["stream"] = stream
    logging.config.dictConfig(config)
    return stream


@pytest.fixture
def restore_logging():
    yield
    logging.config.dictConfig(settings.LOGGING)


@pytest.mark.django_db
def test_each_request_gets_an_id_on_its_log_lines_as_json(restore_logging):
    stream = _capture("json")
    response = Client().get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines, "django.request logs the 404"
    not_found = [line for line in lines if line["logger"] == "django.request"]
    assert not_found and all(line["request_id"] == request_id for line in not_found)
    assert {"time", "level", "message"} <= set(not_found[0])
    assert Client().get("/healthz")["X-Request-ID"] != request_id  # a new id per request


@pytest.mark.django_db
def test_a_proxys_id_is_kept_and_a_hostile_one_is_replaced(restore_logging):
    stream = _capture("human")
    given = "edge-7f3a9c2e1b"
    assert Client().get("/api/v1/no-such-thing/", HTTP_X_REQUEST_ID=given)["X-Request-ID"] == given
    assert f"[{given}]" in stream.getvalue()
    for hostile in ("short", "x" * 500, "abc\ninjected log line", "id with spaces and \"quotes\""):
        echoed = Client().get("/healthz", HTTP_X_REQUEST_ID=hostile)["X-Request-ID"]
        assert echoed != hostile and len(echoed) == 32
    assert "injected" not in stream.getvalue()
    assert current_request_id() == ""  # nothing leaks out of the request


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_the_id_travels_into_a_job_on_a_real_worker_as_json(tmp_path, monkeypatch):
    from tests import settings as test_settings

    if not (test_settings.HAS_REDIS and test_settings.HAS_POSTGRES):
        pytest.skip("a real Celery worker needs Redis and PostgreSQL")
    monkeypatch.setenv("LOG_FORMAT", "json")
    _purge_test_queue()
    worker = CeleryWorker(tmp_path, connection.settings_dict["NAME"]).start()
    try:
        def view(request):
            heartbeat.delay("request-id-probe")
            return HttpResponse("queued")

        response = RequestIdMiddleware(view)(RequestFactory().get("/anything"))
        request_id = response["X-Request-ID"]
        wait_until(lambda: Heartbeat.objects.filter(name="request-id-probe").exists(), message="the job")

        def job_line():
            for line in worker.log_path.read_text().splitlines():
                if line.startswith("{") and "heartbeat request-id-probe" in line:
                    return json.loads(line)
            return None

        record = wait_until(job_line, timeout=10, message="the job's log line")
        assert record["request_id"] == request_id
        assert record["logger"] == "marketplace.jobs" and record["level"] == "INFO"
        # A job nobody's request enqueued (beat) gets an id of its own, never another request's.
        heartbeat.delay("beat-probe")
        wait_until(lambda: Heartbeat.objects.filter(name="beat-probe").exists(), message="the second job")

        def beat_line():
            for line in worker.log_path.read_text().splitlines():
                if line.startswith("{") and "heartbeat beat-probe" in line:
                    return json.loads(line)
            return None

        assert wait_until(beat_line, timeout=10, message="the beat job's line")["request_id"].startswith("job-")
    finally:
        worker.stop()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_the_id_travels_through_the_outbox_into_the_job(tmp_path, monkeypatch):
    """A job a request records in the outbox is published later by the relay, another process: the row
    carries the request's id, and the job's log line says it."""
    from django.db import transaction

    from marketplace.models import OutboxEvent
    from marketplace.outbox import outbox_enqueue
    from tests import settings as test_settings

    if not (test_settings.HAS_REDIS and test_settings.HAS_POSTGRES):
        pytest.skip("a real Celery worker and relay need Redis and PostgreSQL")
    monkeypatch.setenv("LOG_FORMAT", "json")
    _purge_test_queue()
    worker = CeleryWorker(tmp_path, connection.settings_dict["NAME"]).start()
    try:
        def view(request):
            with transaction.atomic():
                outbox_enqueue(heartbeat, "outbox-request-id-probe")
            return HttpResponse("recorded")

        response = RequestIdMiddleware(view)(RequestFactory().get("/anything"))
        request_id = response["X-Request-ID"]
        assert OutboxEvent.objects.get(args=["outbox-request-id-probe"]).request_id == request_id
        wait_until(lambda: Heartbeat.objects.filter(name="outbox-request-id-probe").exists(), message="the job")

        def job_line():
            for line in worker.log_path.read_text().splitlines():
                if line.startswith("{") and "heartbeat outbox-request-id-probe" in line:
                    return json.loads(line)
            return None

        assert wait_until(job_line, timeout=10, message="the job's log line")["request_id"] == request_id
    finally:
        worker.stop()
