"""Helpers for the client-API tests: a client with a key, an API client sending it, rows to upload."""

import json
from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from tasks.models import Assignment, Judgment, Task
from tasks.services.clients import client_api_key_create, client_create
from tasks.services.projects import project_create


class ClientSession:
    """A task source: the Client row, its plain key, and an APIClient sending `Authorization: Api-Key`."""

    def __init__(self, name: str):
        self.client_row = client_create(name=name)
        self.key_row, self.key = client_api_key_create(client=self.client_row, name="test")
        self.api = APIClient()
        self.api.credentials(HTTP_AUTHORIZATION=f"Api-Key {self.key}")

    def get(self, path, **kw):
        return self.api.get(path, **kw)

    def post(self, path, data=None, **kw):
        kw.setdefault("format", "json")
        return self.api.post(path, data, **kw)

    def patch(self, path, data=None, **kw):
        kw.setdefault("format", "json")
        return self.api.patch(path, data, **kw)

    def upload_jsonl(self, project_id: int, rows: list, **kw):
        body = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n"
        return self.api.post(f"/api/v1/projects/{project_id}/tasks/", body, content_type="application/x-ndjson", **kw)

    def upload_array(self, project_id: int, body):
        text = body if isinstance(body, str) else json.dumps(body)
        return self.api.post(f"/api/v1/projects/{project_id}/tasks/", text, content_type="application/json")


PROJECT = {
    "name": "Python completions, round 1",
    "task_type": "pairwise",
    "label_schema": {"require_reason": False},
    "instructions": "Pick the completion that is correct and idiomatic.",
    "data_use_statement": "Used to train a code assistant's reward model.",
    "reward_cents": 25,
    "overlap": 3,
}


def pair(i, **extra) -> dict:
    row = {"external_id": f"ex-{i}", "data": {"prompt": f"Write function {i}", "language": "python",
                                             "response_a": f"def f{i}(): return {i}",
                                             "response_b": f"def f{i}():\n    return {i}"}}
    row.update(extra)
    return row


def make_project(client_row, **overrides):
    fields = dict(PROJECT, **overrides)
    return project_create(client=client_row, **fields)


def add_judgment(task: Task, worker, answer: dict, *, seconds: float = 12.5,
                 status: str = Judgment.Status.APPROVED) -> Judgment:
    now = timezone.now()
    assignment = Assignment.objects.create(task=task, worker=worker, project=task.project,
                                           status=Assignment.Status.SUBMITTED, claimed_at=now,
                                           expires_at=now + timedelta(minutes=15), finished_at=now)
    return Judgment.objects.create(assignment=assignment, task=task, project=task.project, worker=worker,
                                   answer=answer, seconds_spent=seconds, status=status, is_gold=task.is_gold)
