"""schemathesis against the OpenAPI schema, through the WSGI app: no operation answers 500, for any role.

Given the schema served at /api/schema/ and the role matrix's world (real workers, staff, clients, projects,
batches), when schemathesis generates a bounded, seeded set of requests for every operation under /api/v1/
(valid and invalid bodies, query strings and ids) and sends them as a worker, as ops, as finance, as a client
and anonymously, then no answer is a server error. Each role's run shares one database savepoint per
operation, rolled back afterwards.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from marketplace.wsgi import application
from tests.e2e.matrix_world import world_fixture  # noqa: F401 - the module-scoped fixture

MAX_EXAMPLES = 12
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application).include(path_regex=r"^/api/v1/")
session_ops = schema.include(func=lambda ctx: "ClientApiKey" not in str(ctx.operation.definition.raw.get("security")))
client_ops = schema.include(func=lambda ctx: "ClientApiKey" in str(ctx.operation.definition.raw.get("security")))

fuzz = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module", autouse=True)
def _keep_the_connection(world):
    """Django's WSGI handler closes the database connection around each request (request_started/finished),
    which would end the transaction the world lives in; the test client disconnects the same handlers (and
    reconnects them after each of its requests: hence after the world is built)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _check(case, world, role: str | None) -> None:
    headers = {}
    if role in world.tokens:
        headers["X-Session-Token"] = world.tokens[role]
    elif role in world.keys:
        headers["Authorization"] = f"Api-Key {world.keys[role]}"
    case.call_and_validate(headers=headers, checks=[not_a_server_error])


@session_ops.parametrize()
@fuzz
def test_no_server_error_as_worker(db, world, case):
    _check(case, world, "worker_a")


@session_ops.parametrize()
@fuzz
def test_no_server_error_as_ops(db, world, case):
    _check(case, world, "ops")


@session_ops.parametrize()
@fuzz
def test_no_server_error_as_finance(db, world, case):
    _check(case, world, "finance")


@client_ops.parametrize()
@fuzz
def test_no_server_error_as_client(db, world, case):
    _check(case, world, "client1")


@schema.parametrize()
@settings(max_examples=3, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_anonymous(db, world, case):
    _check(case, world, None)


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
