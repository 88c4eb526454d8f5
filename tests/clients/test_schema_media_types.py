"""What the OpenAPI schema promises generated clients, the server keeps: JSONL uploads as
application/octet-stream, and the preference export answered to `Accept: application/octet-stream`."""

import json

import pytest

from tasks.models import Task
from tests.tasks.client_support import ClientSession, make_project, pair

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab():
    return ClientSession("Lab Generated")


def test_jsonl_sent_as_octet_stream_is_ingested_with_the_same_checks(lab):
    project = make_project(lab.client_row)
    url = f"/api/v1/projects/{project.pk}/tasks/"
    body = "".join(json.dumps(pair(i)) + "\n" for i in range(3))
    response = lab.api.post(url, body, content_type="application/octet-stream")
    assert response.status_code == 201 and response.json() == {"created": 3, "duplicates": 0}
    bad = lab.api.post(url, body + '{"external_id": "x"}\n', content_type="application/octet-stream")
    assert bad.status_code == 400 and bad.json()["error"]["lines"][0]["line"] == 4
    assert Task.objects.filter(project=project).count() == 3


def test_the_preference_export_answers_octet_stream(lab):
    project = make_project(lab.client_row)
    lab.upload_jsonl(project.pk, [pair(0)])
    url = f"/api/v1/projects/{project.pk}/export/preferences.jsonl"
    response = lab.get(url, HTTP_ACCEPT="application/octet-stream")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/x-ndjson")
    assert b"".join(response.streaming_content) == b"" and response["X-Export-Open-Tasks"] == "1"
    refused = lab.get(url, HTTP_ACCEPT="text/html")
    assert refused.status_code == 406 and refused.json()["error"]["code"] == "not_acceptable"


def test_the_schema_lists_the_media_types(lab):
    schema = lab.api.get("/api/schema/?format=json").json()
    upload = schema["paths"]["/api/v1/projects/{project_id}/tasks/"]["post"]
    assert list(upload["requestBody"]["content"]) == ["application/octet-stream"]
    export = schema["paths"]["/api/v1/projects/{project_id}/export/preferences.jsonl"]["get"]
    assert set(export["responses"]["200"]["content"]) == {"application/x-ndjson", "application/octet-stream"}
    csv_export = schema["paths"]["/api/v1/projects/{project_id}/export/results.csv"]["get"]
    assert list(csv_export["responses"]["200"]["content"]) == ["text/csv"]
