"""The Python client (clients/python, `marketplace_client`) against a live `make run`: every call goes over HTTP
to the real web server, with the real Celery worker behind it."""

import csv
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from marketplace_client import (
    AuthenticationFailed,
    BadRequest,
    MarketplaceClient,
    NotFound,
    UploadRejected,
    WebhookVerificationError,
    verify_webhook,
)

pytestmark = pytest.mark.slow

PROJECT = {"name": "Live client project", "task_type": "pairwise", "instructions": "Pick the better completion.",
           "data_use_statement": "Trains a reward model.", "reward_cents": 25, "overlap": 3,
           "label_schema": {"allow_tie": True}}


def pair(i: int, **extra) -> dict:
    row = {"external_id": f"ex-{i}", "data": {"prompt": f"Write f{i}", "language": "python",
                                             "response_a": f"def f{i}(): return {i}",
                                             "response_b": f"def f{i}():\n    return {i} + 0"}}
    row.update(extra)
    return row


@pytest.fixture(scope="module")
def acme(live_stack):
    with MarketplaceClient(live_stack.url, live_stack.client_key("Acme Live")) as client:
        yield client


@pytest.fixture(scope="module")
def rival(live_stack):
    with MarketplaceClient(live_stack.url, live_stack.client_key("Rival Live")) as client:
        yield client


def test_whoami_and_a_wrong_key(live_stack, acme):
    me = acme.whoami()
    assert me["name"] == "Acme Live" and isinstance(me["id"], int)
    with MarketplaceClient(live_stack.url, "AbCdEfGh.not-a-real-key") as stranger, \
            pytest.raises(AuthenticationFailed) as caught:
        stranger.whoami()
    assert caught.value.status == 401 and caught.value.code and caught.value.message


def test_project_create_read_pause_resume_agreement(acme, rival):
    project = acme.create_project(**PROJECT)
    assert project["status"] == "active" and project["progress"] == {"tasks": 0, "complete": 0, "gold": 0}
    assert acme.get_project(project["id"])["name"] == PROJECT["name"]
    assert project["id"] in [p["id"] for p in acme.iter_projects()]
    assert acme.pause_project(project["id"])["status"] == "paused"
    assert acme.resume_project(project["id"])["status"] == "active"
    with pytest.raises(NotFound) as caught:
        acme.get_agreement(project["id"])
    assert caught.value.code == "agreement_not_computed"
    with pytest.raises(NotFound):  # another client's project does not exist for them
        rival.get_project(project["id"])
    with pytest.raises(NotFound):
        rival.pause_project(project["id"])
    assert acme.get_project(project["id"])["status"] == "active"


def test_a_refused_project_names_its_fields(acme):
    with pytest.raises(BadRequest) as caught:
        acme.create_project(**{**PROJECT, "reward_cents": 0, "task_type": "haiku"})
    error = caught.value
    assert error.status == 400 and error.code == "invalid"
    assert {"reward_cents", "task_type"} <= set(error.fields)


def test_upload_streams_chunks_with_progress_and_is_idempotent(acme):
    project = acme.create_project(**PROJECT)
    pulled = []

    def rows():
        for i in range(25):
            pulled.append(i)
            yield pair(i)

    seen = []
    report = acme.upload_tasks(project["id"], rows(), chunk_size=10,
                               progress=lambda p: seen.append((p.rows, p.created, len(pulled))))
    assert (report.rows, report.created, report.duplicates, report.chunks) == (25, 25, 0, 3)
    # Each chunk went out before the next row was read: one chunk in memory at a time.
    assert seen == [(10, 10, 10), (20, 20, 20), (25, 25, 25)]
    again = acme.upload_tasks(project["id"], (pair(i) for i in range(30)), chunk_size=10)
    assert (again.created, again.duplicates) == (5, 25)  # a rerun stores only what is new
    assert acme.get_project(project["id"])["progress"]["tasks"] == 30


def test_invalid_rows_raise_one_exception_listing_upload_line_numbers(acme):
    project = acme.create_project(**PROJECT)
    rows = [pair(i) for i in range(20)]
    rows[12] = {"external_id": "ex-12", "data": {"prompt": "x", "language": "python", "response_a": "a"}}
    rows[16] = {"data": pair(16)["data"]}  # no external_id
    with pytest.raises(UploadRejected) as caught:
        acme.upload_tasks(project["id"], rows, chunk_size=10)
    error = caught.value
    assert [line.line for line in error.lines] == [13, 17]  # over the whole upload, not the chunk
    assert error.lines[0].external_id == "ex-12" and "data.response_b" in error.lines[0].errors
    assert "external_id" in error.lines[1].errors
    assert (error.stored_rows, error.created, error.invalid_lines, error.code) == (10, 10, 2, "invalid_lines")
    assert "line 13 (ex-12): data.response_b" in str(error)
    stored = {r["external_id"] for r in acme.iter_results(project["id"])}
    assert stored == {f"ex-{i}" for i in range(10)}  # the refused chunk stored nothing


def test_results_stream_and_csv_export(acme, tmp_path):
    project = acme.create_project(**PROJECT)
    acme.upload_tasks(project["id"], [pair(i) for i in range(6)] + [pair(99, gold={"choice": "a"})])
    results = list(acme.iter_results(project["id"]))
    assert len(results) == 7 and {r["status"] for r in results} == {"open"}
    assert [r["external_id"] for r in acme.iter_results(project["id"], gold=True)] == ["ex-99"]
    assert len(list(acme.iter_results(project["id"], gold=False, status="open"))) == 6
    assert list(acme.iter_results(project["id"], status="complete")) == []

    path = tmp_path / "results.csv"
    written = acme.export_results_csv(project["id"], path, gold=False)
    table = list(csv.DictReader(io.StringIO(path.read_text())))
    assert written == path.stat().st_size and len(table) == 6 and table[0]["status"] == "open"
    assert not list(tmp_path.glob("*.part"))
    buffer = io.BytesIO()
    acme.export_results_csv(project["id"], buffer)
    assert buffer.getvalue().decode().count("\n") == 8  # header + 7 tasks


def test_preference_export_to_file_and_datasets(live_stack, acme, tmp_path):
    project = acme.create_project(**PROJECT)
    acme.upload_tasks(project["id"], [pair(i) for i in range(5)])
    live_stack.manage("shell", "-c", "from tests.clients.stack_scripts import complete_pairwise; "
                      f"complete_pairwise({project['id']}, {{'ex-0': 'a', 'ex-1': 'b', 'ex-2': 'tie'}})")

    path = tmp_path / "prefs.jsonl"
    counts = acme.export_preferences(project["id"], path)
    pairs = [json.loads(line) for line in path.read_text().splitlines()]
    assert [p["external_id"] for p in pairs] == ["ex-0", "ex-1"]  # records only
    assert pairs[1]["chosen"] == pair(1)["data"]["response_b"] and pairs[1]["n_raters"] == 3
    assert counts == {"pairs": 2, "tasks_exported": 2, "ties": 1, "unresolved": 0, "filtered_out": 0,
                      "open_tasks": 2}
    summary = acme.preferences_summary(project["id"])
    assert {k: summary[k] for k in counts} == counts and summary["mean_confidence"] == pytest.approx(0.8)
    assert acme.preferences_summary(project["id"], min_confidence=0.9)["filtered_out"] == 3
    with acme.iter_preferences(project["id"], style="conversational", min_raters=3) as stream:
        assert stream.counts["pairs"] == 2  # known before the first record
        first = next(stream)
    assert first["chosen"] == [{"role": "assistant", "content": pair(0)["data"]["response_a"]}]
    assert acme.export_preferences(project["id"], tmp_path / "none.jsonl", min_confidence=0.9)["pairs"] == 0
    assert (tmp_path / "none.jsonl").read_bytes() == b""
    with pytest.raises(BadRequest) as caught:
        acme.preferences_summary(project["id"], min_confidence=1.5)
    assert "min_confidence" in caught.value.fields

    datasets = pytest.importorskip("datasets")
    dataset = acme.preferences_dataset(project["id"], cache_dir=str(tmp_path / "hf"))
    assert isinstance(dataset, datasets.Dataset) and dataset.num_rows == 2
    assert dataset[0]["chosen"] == pair(0)["data"]["response_a"] and dataset[0]["confidence"] == 0.8
    chat = acme.preferences_dataset(project["id"], style="conversational", cache_dir=str(tmp_path / "hf"))
    assert chat[1]["prompt"] == [{"role": "user", "content": pair(1)["data"]["prompt"]}]
    results = acme.results_dataset(project["id"], status="complete", cache_dir=str(tmp_path / "hf"))
    assert results.num_rows == 3 and results[0]["consensus"] == {"answer": {"choice": "a"}, "confidence": 0.8}
    assert results[2]["judgments"][0]["answer"] == {"choice": "tie"}
    assert len(results[0]["judgments"]) == 3

    # A second download sees new results, not a cached copy of the first.
    live_stack.manage("shell", "-c", "from tests.clients.stack_scripts import complete_pairwise; "
                      f"complete_pairwise({project['id']}, {{'ex-3': 'a'}})")
    assert acme.preferences_dataset(project["id"], cache_dir=str(tmp_path / "hf")).num_rows == 3


def test_preference_export_of_another_task_type_is_a_clear_error(acme, tmp_path):
    project = acme.create_project(**{**PROJECT, "task_type": "rating", "label_schema": {"min": 1, "max": 5}})
    with pytest.raises(BadRequest) as caught:
        acme.export_preferences(project["id"], tmp_path / "x.jsonl")
    assert caught.value.code == "wrong_task_type" and "task_type" in caught.value.fields
    assert list(tmp_path.iterdir()) == []  # no file, not even a partial one


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_from_the_stack_verifies_with_the_current_secret_only(live_stack, acme):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        first = acme.set_callback_url(f"http://127.0.0.1:{server.server_port}/hooks")["webhook_secret"]
        secret = acme.rotate_webhook_secret()
        assert secret and secret != first
        live_stack.manage("shell", "-c", "from tests.clients.stack_scripts import send_webhook; "
                          "send_webhook('Acme Live', 'live-hook-1')")
        deadline = time.monotonic() + 60
        while not _Receiver.received and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _Receiver.received, f"no delivery arrived:\n{live_stack.log_tail()}"
        headers, body = _Receiver.received[0]
        event = verify_webhook(secret, body, headers)
        assert event["event"] == "task.completed" and event["data"]["task"]["external_id"] == "live-hook-1"
        assert event["id"] == headers["X-Marketplace-Delivery"]
        with pytest.raises(WebhookVerificationError):
            verify_webhook(first, body, headers)  # the rotated-out secret no longer verifies
        with pytest.raises(WebhookVerificationError):
            verify_webhook(secret, body.replace(b"live-hook-1", b"live-hook-2"), headers)
        assert verify_webhook([first, secret], body, headers)["id"] == event["id"]
    finally:
        acme.set_callback_url("")
        server.shutdown()
