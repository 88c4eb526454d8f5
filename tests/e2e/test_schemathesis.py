"""schemathesis against the OpenAPI schema, through the WSGI app: no operation under /api/v1/ answers 500.

Given the schema served at /api/schema/ and the role matrix's world (real workers, staff, clients, projects,
batches), when schemathesis generates a bounded, seeded set of requests for every operation under /api/v1/
(its coverage phase: boundary and invalid values, missing and unexpected fields; then a few random
examples), then no answer is a server error.

Each operation is fuzzed in depth as the role that gets past its permission check (the owner in
matrix_expect.EXPECT: worker A, ops, finance or client 1), which is where bodies reach validation and
services; workers, the untrusted side, also get a shallow pass over every staff operation, and anonymous a
shallow pass over everything. Every operation's examples share one savepoint, rolled back afterwards.
"""

import itertools
import json
import logging

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from marketplace.wsgi import application
from tests.e2e.matrix_expect import EXPECT
from tests.e2e.matrix_world import world_fixture  # noqa: F401 - the module-scoped fixture

DEEP_EXAMPLES = 8  # random examples per operation after the coverage phase
SHALLOW_EXAMPLES = 3
SCHEMA_URL = "/api/schema/?format=json"


def _owner(method: str, path: str) -> str | None:
    """The role that gets a 2xx from the operation (the matrix knows): that role's requests reach the service."""
    op = EXPECT.get((method.upper(), path))
    if op is None:
        return None  # not in the matrix yet: test_role_matrix fails for it; fuzz it as a worker meanwhile
    for role in ("worker_a", "ops", "finance", "finance2", "client1"):
        codes = op.expect[role] if isinstance(op.expect[role], tuple) else (op.expect[role],)
        if all(200 <= c < 300 for c in codes):
            return role
    return None


def _loaded(config: dict):
    return schemathesis.openapi.from_wsgi(SCHEMA_URL, application, config=SchemathesisConfig.from_dict(config))


deep = _loaded({})
shallow = _loaded({"phases": {"coverage": {"enabled": False}}})


def _owned_by(*roles):
    """A filter (schemathesis ORs several include() calls, and a filter sees only method and path: one func)."""
    return lambda ctx: ctx.operation.path.startswith("/api/v1/") and (
        _owner(ctx.operation.method, ctx.operation.path) or "worker_a") in roles


fuzz = settings(max_examples=DEEP_EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
brief = settings(fuzz, max_examples=SHALLOW_EXAMPLES)


class _IntegrityLog(logging.Handler):
    """Collects what the API's error handler logs when it answers a database IntegrityError with 409."""

    def __init__(self):
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


INTEGRITY = _IntegrityLog()
# A CHECK or NOT NULL constraint is the last line of defence: reaching it means the input was not validated,
# and the client got a bare 409 "conflict" instead of a 400 naming the field. (Unique constraints answering
# 409 are races and duplicates: fine.)
VALIDATION_GAPS = ("violates check constraint", "violates not-null constraint")
# Known, reported to the owner app; strict: the test fails once the owner fixes it, so the entry goes.
KNOWN: dict = {}


def no_constraint_violation(ctx, response, case):
    gaps = [m for m in INTEGRITY.messages if any(gap in m for gap in VALIDATION_GAPS)]
    INTEGRITY.messages.clear()
    if gaps:
        raise AssertionError(f"unvalidated input reached a database constraint (answered {response.status_code}, "
                             f"no field named): {gaps[0][:400]}")


@pytest.fixture(scope="module", autouse=True)
def _keep_the_connection(world):
    """Django's WSGI handler closes the database connection around each request (request_started/finished),
    which would end the transaction the world lives in; the test client disconnects the same handlers (and
    reconnects them after each of its requests: hence after the world is built)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    logging.getLogger("marketplace.api.errors").addHandler(INTEGRITY)
    yield
    logging.getLogger("marketplace.api.errors").removeHandler(INTEGRITY)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx, value) -> bytes:
    """Task uploads also take JSON Lines: one generated row per line (schemathesis has no built-in for it)."""
    rows = value if isinstance(value, list) else [value]
    return b"\n".join(json.dumps(row).encode() for row in rows)


# Which real object a path parameter names when a generated case is pointed at one (see _check).
REAL_IDS = (("/ledger-adjustments/", "pending_adjustment"), ("/assignments/", "worker_a_live_assignment"), ("/quiz-attempts/", "worker_a_attempt"),
            ("/quiz-questions/", "question"), ("/pools/", "pool"), ("/flags/", "flag"),
            ("/approve/", "draft_batch"), ("/payout-batches/", "approved_batch"), ("/projects/", "project"))
_calls = itertools.count()


def _point_at_real_objects(case, world) -> None:
    """Every other case names real objects instead of the generated ids (which are nearly always 404), so
    the generated bodies and query strings reach the services with something to act on."""
    if not case.path_parameters or next(_calls) % 2:
        return
    for name in case.path_parameters:
        if name == "slug":
            case.path_parameters[name] = "sql"
        elif "/workers/" in case.operation.path:
            case.path_parameters[name] = world.users["worker_c"].pk
        else:
            key = next(key for fragment, key in REAL_IDS if fragment in case.operation.path)
            case.path_parameters[name] = world.ids[key]


def _check(request, case, world, role: str | None) -> None:
    if (role, case.operation.label) in KNOWN:
        request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN[(role, case.operation.label)]))
    _point_at_real_objects(case, world)
    headers = {}
    if role in world.tokens:
        headers["X-Session-Token"] = world.tokens[role]
    elif role in world.keys:
        headers["Authorization"] = f"Api-Key {world.keys[role]}"
    # Each case in its own savepoint: a constraint error the app answers 409 (in autocommit in production)
    # marks the enclosing transaction for rollback here; undoing the case clears it for the next one.
    savepoint = transaction.savepoint()
    INTEGRITY.messages.clear()
    try:
        case.call_and_validate(headers=headers, checks=[not_a_server_error, no_constraint_violation])
    finally:
        transaction.set_rollback(False)
        transaction.savepoint_rollback(savepoint)


@deep.include(func=_owned_by("worker_a")).parametrize()
@fuzz
def test_no_server_error_as_worker(request, db, world, case):
    _check(request, case, world, "worker_a")


@deep.include(func=_owned_by("ops")).parametrize()
@fuzz
def test_no_server_error_as_ops(request, db, world, case):
    _check(request, case, world, "ops")


@deep.include(func=_owned_by("finance", "finance2")).parametrize()
@fuzz
def test_no_server_error_as_finance(request, db, world, case):
    _check(request, case, world, _owner(case.operation.method, case.operation.path))


@deep.include(func=_owned_by("client1")).parametrize()
@fuzz
def test_no_server_error_as_client(request, db, world, case):
    _check(request, case, world, "client1")


@shallow.include(func=_owned_by("ops", "finance", "finance2")).parametrize()
@brief
def test_no_server_error_worker_on_staff_operations(request, db, world, case):
    _check(request, case, world, "worker_b")


@shallow.include(path_regex=r"^/api/v1/").parametrize()
@brief
def test_no_server_error_anonymous(request, db, world, case):
    _check(request, case, world, None)


def test_the_credentials_used_above_are_accepted(db, world):
    """Guards the fuzzing above against silently running unauthenticated (every answer a 401)."""
    for label, role in (("GET /api/v1/me/", "worker_a"), ("GET /api/v1/pools/", "ops"),
                        ("GET /api/v1/payout-batches/", "finance"), ("GET /api/v1/client/", "client1")):
        method, path = label.split()
        case = deep[path][method].Case()
        headers = ({"X-Session-Token": world.tokens[role]} if role in world.tokens
                   else {"Authorization": f"Api-Key {world.keys[role]}"})
        assert case.call(headers=headers).status_code == 200, label
