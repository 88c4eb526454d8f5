"""The OpenAPI schema keeps serving generated clients: openapi-python-client (pinned in requirements-dev.txt)
generates every operation of the live /api/schema/ without a warning, and the generated client uploads JSONL
and reads the exports of the live stack."""

import importlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from marketplace_client import MarketplaceClient

pytestmark = pytest.mark.slow
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def generated(live_stack, tmp_path_factory):
    if not GENERATOR.exists():
        pytest.fail("openapi-python-client is not installed: pip install -r requirements-dev.txt")
    out = tmp_path_factory.mktemp("openapi")
    schema = requests.get(f"{live_stack.url}/api/schema/?format=json", timeout=30).json()
    (out / "schema.json").write_text(json.dumps(schema))
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # its ruff hook
    done = subprocess.run([str(GENERATOR), "generate", "--path", str(out / "schema.json"), "--output-path",
                           str(out / "gen"), "--meta", "none"], capture_output=True, text=True, env=env,
                          timeout=300)
    sys.path.insert(0, str(out))
    yield schema, out / "gen", done
    sys.path.remove(str(out))
    for name in [m for m in sys.modules if m == "gen" or m.startswith("gen.")]:
        del sys.modules[name]


def test_every_operation_is_generated_without_a_warning(generated):
    schema, package, done = generated
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert not re.search(r"warning|unsupported|skipping|unable", output, re.IGNORECASE), output
    operations = {re.sub(r"\W", "_", op["operationId"]) for item in schema["paths"].values() for method, op in item.items()
                  if method in METHODS}
    modules = {p.stem for p in (package / "api").glob("*/*.py") if p.stem != "__init__"}
    assert operations == modules


def test_the_generated_client_uploads_jsonl_and_reads_the_exports(generated, live_stack):
    key = live_stack.client_key("Generated Client Co")
    project = MarketplaceClient(live_stack.url, key).create_project(
        name="Generated", task_type="pairwise", instructions="Pick one.", data_use_statement="Reward model.",
        reward_cents=10)
    client_module = importlib.import_module("gen.client")
    types = importlib.import_module("gen.types")
    upload = importlib.import_module("gen.api.client_tasks.api_v1_projects_tasks_create")
    preferences = importlib.import_module("gen.api.client_results.api_v1_projects_export_preferences_jsonl_retrieve")
    results_csv = importlib.import_module("gen.api.client_results.api_v1_projects_export_results_csv_retrieve")
    summary = importlib.import_module("gen.api.client_results.api_v1_projects_export_preferences_summary_retrieve")
    client = client_module.AuthenticatedClient(base_url=live_stack.url, token=key, prefix="Api-Key")

    rows = b"".join(json.dumps({"external_id": f"g{i}", "data": {
        "prompt": "p", "language": "python", "response_a": "a", "response_b": "b"}}).encode() + b"\n" for i in range(3))
    answer = upload.sync(project["id"], client=client, body=types.File(payload=io.BytesIO(rows)))
    assert (answer.created, answer.duplicates) == (3, 0)  # the JSONL form, parsed into the typed answer
    bad = upload.sync(project["id"], client=client, body=types.File(payload=io.BytesIO(b'{"external_id": "x"}\n')))
    assert bad.error.code == "invalid_lines"  # the error shape, parsed too

    exported = preferences.sync(project["id"], client=client)
    assert isinstance(exported, types.File) and exported.payload.read() == b""  # records only: none complete yet
    assert summary.sync(project["id"], client=client).open_tasks == 3
    table = results_csv.sync(project["id"], client=client)
    assert table.splitlines()[0].startswith("external_id,status") and len(table.splitlines()) == 4
