"""Hostile input against every write operation in the OpenAPI schema: only 4xx in the one error format, and
nothing stored.

Given the role matrix's world and, for each POST/PUT/PATCH/DELETE under /api/v1/, a request that
schemathesis generates from the schema (a valid body where the operation takes one, sent as the role that
may call it, at real objects), when hypothesis puts one hostile thing into it (a lone surrogate, NUL,
nesting past the limit, an integer past 64 bits, NaN, Infinity, a body past the size limit, a value of
the wrong type, an id past 64 bits in the path), then the answer is a 4xx in {"error": {code, message,
fields}}; the JSON faults are a 400 naming where they are; and no row of the apps' tables changed.

The rest of each body is valid, so a gap would be stored, not refused for some other reason.
"""

import json

import pytest
import schemathesis
from django.apps import apps
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.core import NOT_SET

from marketplace import json_limits
from marketplace.wsgi import application
from tests.e2e.matrix_expect import EXPECT
from tests.e2e.matrix_world import world_fixture  # noqa: F401 - the module-scoped fixture
from tests.e2e.test_schemathesis import REAL_IDS  # which world object a path parameter names

SCHEMA = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application,
                                        config=SchemathesisConfig.from_dict({}))
WRITES = ("POST", "PUT", "PATCH", "DELETE")
OPERATIONS = sorted(
    (op for op in (result.ok() for result in SCHEMA.get_all_operations())
     if op.method.upper() in WRITES and op.path.startswith("/api/v1/")),
    key=lambda op: (op.path, op.method))
APPS = ("marketplace", "workers", "tasks", "quality", "payments", "account", "mfa")
# Columns a request may touch before it is refused (who called, when), not what it asked to store.
VOLATILE = {"last_login", "last_used_at", "last_seen_at"}
BIG = 1 << 63


def _deep(levels: int):
    value: object = 1
    for _ in range(levels):
        value = {"a": value}
    return value


# name -> (raw JSON text of the value, what the error must say)
HOSTILE_JSON = {
    "lone surrogate": ('"x\\ud800y"', "surrogate"),
    "NUL": ('"x\\u0000y"', "NUL"),
    "deep": (json.dumps(_deep(80)), "nested more than"),
    "very deep": ("[" * 3000 + "]" * 3000, "nested more than"),
    "int past 64 bits": (str(BIG), "out of range"),
    "negative int past 64 bits": (str(-BIG - 1), "out of range"),
    "int past 128 bits": (str(1 << 130), "out of range"),
    "NaN": ("NaN", "NaN"),
    "Infinity": ("-Infinity", "NaN and Infinity"),
    "1e999": ("1e999", "NaN and Infinity"),
}
KINDS = [*HOSTILE_JSON, "huge body", "wrong type", "path id past 64 bits", "NUL in the query"]
_ROLES = ("worker_a", "ops", "finance", "finance2", "client1")
def _owner(op) -> str:
    expect = EXPECT.get((op.method.upper(), op.path))
    for role in _ROLES:
        codes = expect.expect[role] if expect else 0
        codes = codes if isinstance(codes, tuple) else (codes,)
        if expect and all(200 <= c < 300 for c in codes):
            return role
    return "worker_a"


def _client(world, role: str) -> Client:
    client = Client()
    if role in world.tokens:
        client.defaults["HTTP_X_SESSION_TOKEN"] = world.tokens[role]
    elif role in world.keys:
        client.defaults["HTTP_AUTHORIZATION"] = f"Api-Key {world.keys[role]}"
    return client


def _path(op, case, world) -> str:
    params = dict(case.path_parameters or {})
    for name in params:
        if name == "slug":
            params[name] = "sql"
        elif "/workers/" in op.path:
            params[name] = world.users["worker_c"].pk
        else:  # an operation the table does not know yet keeps its generated id (a 404 after the guard)
            key = next((key for fragment, key in REAL_IDS if fragment in op.path), None)
            params[name] = world.ids[key] if key else params[name]
    return op.path.format(**params)


def _snapshot() -> dict:
    """Every row of the apps' tables (the world is small), without the columns a refused request may touch."""
    out = {}
    for model in apps.get_models():
        if model._meta.app_label not in APPS:
            continue
        names = [f.attname for f in model._meta.concrete_fields if f.attname not in VOLATILE]
        out[model._meta.label] = sorted(map(repr, model.objects.values_list(*names)))
    return out


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SCHEMA.raw_schema["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


# The task upload's body is rows (a JSON array, or JSONL), described to generated clients as bytes.
UPLOADS = {"/api/v1/projects/{project_id}/tasks/": {
    "external_id": {"type": "string"}, "data": {"type": "object"}, "priority": {"type": "integer"}}}


def _properties(op) -> dict:
    if op.path in UPLOADS:
        return UPLOADS[op.path]
    body = (op.definition.raw.get("requestBody") or {}).get("content", {}).get("application/json")
    schema = _resolve(body["schema"]) if body else {}
    if schema.get("type") == "array":
        schema = _resolve(schema.get("items", {}))
    return {name: _resolve(p) for name, p in schema.get("properties", {}).items()}


def _wrong(prop: dict):
    """A value of a type the property does not take (None when the schema does not say a type)."""
    kind = prop.get("type")
    return {"string": {"x": 1}, "integer": "not a number", "number": "not a number", "boolean": {"x": 1},
            "array": {"x": 1}, "object": "not an object"}.get(kind)


def _body_text(body, key: str, raw_value: str) -> str:
    """body (a dict, a list of rows or nothing) with raw_value at key, as JSON text (raw_value is already JSON)."""
    marker = "\u2603HOSTILE\u2603"
    if isinstance(body, list):
        rows = [row for row in body if isinstance(row, dict)] or [{}]
        rows[0] = {**rows[0], key: marker}
        text = json.dumps(rows)
    else:
        text = json.dumps({**(body if isinstance(body, dict) else {}), key: marker})
    return text.replace(json.dumps(marker), raw_value, 1)


def _clean(case) -> bool:
    """The generated body holds nothing hostile itself (schemathesis may put NUL in a key), so the one
    hostile thing the test adds is what the answer must name."""
    if case.body is NOT_SET:
        return True
    try:
        json_limits.check_value(case.body)
    except json_limits.HostileJSON:
        return False
    return True


def _error(response) -> dict:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:600])
    error = response.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str), error
    assert isinstance(error["fields"], dict | list), error
    return error


fuzz = settings(max_examples=10, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.method.upper()} {op.path}")
@fuzz
@given(data=st.data())
def test_hostile_input_to_every_write_operation_is_a_4xx_and_stores_nothing(db, world, op, data):
    takes_json = any(body.media_type == "application/json" for body in op.body)
    strategy = op.as_strategy(media_type="application/json") if takes_json else op.as_strategy()
    case = data.draw(strategy.filter(_clean), label="case")
    kind = data.draw(st.sampled_from(KINDS), label="kind")
    props = _properties(op)
    body = case.body if takes_json and case.body is not NOT_SET else None
    if op.path in UPLOADS and not isinstance(body, list):
        body = [{"external_id": "hostile-1", "data": {"prompt": "p", "language": "python", "response_a": "a",
                                                      "response_b": "b"}}]
    key = data.draw(st.sampled_from(sorted(props) or ["x"]), label="key")
    path, query = _path(op, case, world), ""
    id_params = [n for n in (case.path_parameters or {}) if n != "slug"]
    if kind == "path id past 64 bits" and not id_params:
        kind = "NUL in the query"
    if kind == "wrong type" and _wrong(props.get(key, {})) is None:
        kind = "NaN"
    if kind == "path id past 64 bits":
        path = op.path.format(**{n: (BIG if n in id_params else "sql") for n in case.path_parameters})
        text = json.dumps(body) if body is not None else ""
    elif kind == "NUL in the query":
        query, text = "?status=a%00b", json.dumps(body) if body is not None else ""
    elif kind == "huge body":
        text = _body_text(body, key, json.dumps("x" * (3 << 20)))
    elif kind == "wrong type":
        text = _body_text(body, key, json.dumps(_wrong(props[key])))
    else:
        text = _body_text(body, key, HOSTILE_JSON[kind][0])

    savepoint = transaction.savepoint()
    try:
        before = _snapshot()
        client = _client(world, _owner(op))
        response = client.generic(op.method.upper(), path + query, text.encode("utf-8"),
                                  content_type="application/json")
        error = _error(response)
        assert _snapshot() == before, f"{kind}: a refused request changed rows"
    finally:
        transaction.savepoint_rollback(savepoint)

    if kind == "path id past 64 bits":
        assert response.status_code == 404, response.content
    elif kind == "NUL in the query":
        assert response.status_code == 400 and "status" in error["fields"], error
    elif kind in HOSTILE_JSON:
        assert response.status_code == 400, (kind, response.content[:600])
        said = json.dumps(error)
        assert HOSTILE_JSON[kind][1] in said, (kind, error)
        if kind != "very deep":  # past orjson's own limit the place is a line and column
            assert key in said, (kind, key, error)
