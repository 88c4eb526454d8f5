"""The Python client's retries and error mapping, against a real HTTP server on 127.0.0.1 that answers what
our stack rarely does on demand (429, 503, a dropped connection, a proxy's HTML page)."""

import json
import threading
from collections import deque
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from marketplace_client import (
    BadRequest,
    MarketplaceClient,
    RateLimited,
    RetryPolicy,
    ServerError,
    ServiceUnavailable,
    TransportError,
)
from marketplace_client._http import retry_after_seconds

CLIENT = {"id": 1, "name": "Acme", "callback_url": ""}


class Script(BaseHTTPRequestHandler):
    """Answers each request with the next scripted (status, headers, body); "drop" closes the connection."""

    protocol_version = "HTTP/1.1"
    answers: deque
    seen: list

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
        status, headers, payload = self.answers.popleft() if self.answers else (200, {}, CLIENT)
        if status == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        headers = {"Content-Type": "application/json", **headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _answer  # noqa: N815 - the http.server API

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    handler = type("Handler", (Script,), {"answers": deque(), "seen": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd, handler
    httpd.shutdown()
    httpd.server_close()


def client_for(httpd, waits: list, **retry) -> MarketplaceClient:
    policy = RetryPolicy(**{"max_retries": 3, "backoff": 0.01, "max_backoff": 0.05, **retry})
    return MarketplaceClient(f"http://127.0.0.1:{httpd.server_port}", "Key.secret", retry=policy,
                             sleep=waits.append, timeout=5)


def error(code, message, **fields):
    return {"error": {"code": code, "message": message, "fields": fields}}


def test_429_waits_what_retry_after_says_then_succeeds(server):
    httpd, handler = server
    handler.answers.extend([(429, {"Retry-After": "2"}, error("throttled", "Slow down.")),
                            (429, {"Retry-After": "1"}, error("throttled", "Slow down."))])
    waits = []
    assert client_for(httpd, waits).whoami() == CLIENT
    assert waits == [2.0, 1.0] and len(handler.seen) == 3
    assert all(s["headers"]["Authorization"] == "Api-Key Key.secret" for s in handler.seen)


def test_503_without_retry_after_backs_off_exponentially_with_a_cap(server):
    httpd, handler = server
    handler.answers.extend([(503, {}, error("unavailable", "Down."))] * 3)
    waits = []
    client_for(httpd, waits, max_retries=3, backoff=0.01, max_backoff=0.03).whoami()
    assert len(waits) == 3 and all(0 <= w <= cap for w, cap in zip(waits, [0.01, 0.02, 0.03], strict=True))


def test_retries_run_out_into_an_exception_with_the_servers_code(server):
    httpd, handler = server
    handler.answers.extend([(429, {"Retry-After": "0"}, error("throttled", "Slow down."))] * 4)
    with pytest.raises(RateLimited) as caught:
        client_for(httpd, [], max_retries=3).whoami()
    assert (caught.value.status, caught.value.code, caught.value.retry_after) == (429, "throttled", 0.0)
    assert len(handler.seen) == 4


def test_a_retry_after_beyond_the_limit_is_not_waited_for(server):
    httpd, handler = server
    handler.answers.append((503, {"Retry-After": "3600"}, error("maintenance", "Back in an hour.")))
    waits = []
    with pytest.raises(ServiceUnavailable) as caught:
        client_for(httpd, waits, max_retry_after=60).whoami()
    assert caught.value.retry_after == 3600 and waits == [] and len(handler.seen) == 1


def test_retry_after_as_an_http_date():
    assert retry_after_seconds(formatdate(1_000_030, usegmt=True), now=1_000_000) == pytest.approx(30)
    assert retry_after_seconds(formatdate(999_000, usegmt=True), now=1_000_000) == 0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_a_retried_create_sends_the_same_idempotency_key(server):
    httpd, handler = server
    handler.answers.extend([(503, {}, error("unavailable", "Down.")), (201, {}, {"id": 7})])
    project = client_for(httpd, []).create_project(name="p", task_type="pairwise", instructions="i",
                                                   data_use_statement="d", reward_cents=5)
    keys = [s["headers"].get("Idempotency-Key") for s in handler.seen]
    assert project == {"id": 7} and len(keys) == 2 and keys[0] and keys[0] == keys[1]
    client_for(httpd, []).create_project(name="p", task_type="pairwise", instructions="i",
                                         data_use_statement="d", reward_cents=5)
    assert handler.seen[-1]["headers"]["Idempotency-Key"] != keys[0]  # a new call is a new key


def test_a_dropped_connection_is_retried_for_reads_and_uploads_but_not_for_a_secret_rotation(server):
    httpd, handler = server
    handler.answers.extend([("drop", {}, b""), (200, {}, CLIENT)])
    waits = []
    assert client_for(httpd, waits).whoami() == CLIENT and len(waits) == 1

    handler.answers.extend([("drop", {}, b""), (201, {}, {"created": 2, "duplicates": 0})])
    rows = [{"external_id": "a", "data": {}}, {"external_id": "b", "data": {}}]
    report = client_for(httpd, []).upload_tasks(3, rows)
    uploads = [s for s in handler.seen if s["path"] == "/api/v1/projects/3/tasks/"]
    assert report.created == 2 and len(uploads) == 2 and uploads[0]["body"] == uploads[1]["body"]
    assert uploads[0]["headers"]["Content-Type"] == "application/x-ndjson"
    assert uploads[0]["body"].decode().splitlines() == [json.dumps(r, separators=(",", ":")) for r in rows]

    before = len(handler.seen)
    handler.answers.extend([("drop", {}, b""), (200, {}, {"webhook_secret": "new"})])
    with pytest.raises(TransportError):
        client_for(httpd, []).rotate_webhook_secret()  # it may have rotated: not repeated blindly
    assert len(handler.seen) == before + 1


def test_errors_carry_code_message_and_fields(server):
    httpd, handler = server
    handler.answers.append((400, {}, error("invalid", "reward_cents: too small", reward_cents=["too small"])))
    with pytest.raises(BadRequest) as caught:
        client_for(httpd, []).whoami()
    assert (caught.value.code, caught.value.message, caught.value.fields) == (
        "invalid", "reward_cents: too small", {"reward_cents": ["too small"]})
    assert str(caught.value) == "400 invalid: reward_cents: too small"

    handler.answers.append((502, {"Content-Type": "text/html"}, b"<html>Bad gateway</html>"))
    with pytest.raises(ServerError) as caught:
        client_for(httpd, []).whoami()
    assert caught.value.code == "http_502" and "Bad gateway" in caught.value.message


def test_deadlines_go_out_as_iso_8601_with_their_offset_and_a_naive_one_is_refused(server):
    """Issue 30 item 10: create_project(deadline=...) and set_project_deadline send ISO 8601; None clears."""
    from datetime import UTC, datetime

    httpd, handler = server
    due = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    handler.answers.extend([(201, {}, {"id": 7}), (200, {}, {"id": 7}), (200, {}, {"id": 7})])
    client = client_for(httpd, [])
    client.create_project(name="p", task_type="pairwise", instructions="i", data_use_statement="d",
                          reward_cents=5, deadline=due)
    client.set_project_deadline(7, due)
    client.set_project_deadline(7, None)
    sent = [(s["method"], s["path"], json.loads(s["body"])["deadline"]) for s in handler.seen]
    assert sent == [("POST", "/api/v1/projects/", "2030-05-01T12:00:00+00:00"),
                    ("PATCH", "/api/v1/projects/7/", "2030-05-01T12:00:00+00:00"),
                    ("PATCH", "/api/v1/projects/7/", None)]
    with pytest.raises(ValueError, match="deadline"):
        client.set_project_deadline(7, datetime(2030, 5, 1, 12, 0))  # noqa: DTZ001 - the naive one refused
    assert len(handler.seen) == 3
