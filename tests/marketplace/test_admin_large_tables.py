"""The admin changelists of the big tables (tasks, assignments, judgments, ledger entries and transactions,
work notifications) never COUNT(*) a whole table, and their statements do not grow with the table.

Given rows made through the payments builders (each credit is a task, an assignment, a judgment and a
ledger transaction with its entries), when a superuser opens each changelist (plain, filtered, searched,
and past the count cap), then every COUNT in the page's SQL reads a LIMITed subquery, the statement count
is the same with 3 and with 9 rows, and the page says how many rows there are: exactly below the cap,
at least the cap above it.
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace import admin_paging
from tests.admin_support import admin_client
from tests.conftest import make_user
from tests.payments.factories import credit, make_project

PAGES = ["/admin/tasks/task/", "/admin/tasks/assignment/", "/admin/tasks/judgment/",
         "/admin/payments/ledgerentry/", "/admin/payments/ledgertransaction/", "/admin/tasks/worknotification/"]
FILTERED = ["/admin/tasks/judgment/?status__exact=approved", "/admin/tasks/assignment/?status__exact=submitted",
            "/admin/tasks/task/?status__exact=open", "/admin/tasks/judgment/?q=w-large%40example.com"]
COUNT = re.compile(r"\bCOUNT\(", re.IGNORECASE)


def _unbounded_counts(queries) -> list[str]:
    """COUNTs that are not over a LIMITed subquery: what a full-table count looks like."""
    return [q["sql"] for q in queries if COUNT.search(q["sql"]) and not re.search(r"\bLIMIT\b", q["sql"], re.I)]


def _get(client, path):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response, ctx.captured_queries


@pytest.fixture
def superuser(db):
    return admin_client("root-large@example.com", staff=True, superuser=True)


def _rows(n: int):
    worker = make_user("w-large@example.com")
    project = make_project()
    credit(worker, n=n, project=project)
    return worker, project


@pytest.mark.django_db
def test_no_changelist_counts_a_whole_table_and_statements_do_not_grow(superuser):
    _rows(3)
    small = {path: len(_get(superuser, path)[1]) for path in PAGES + FILTERED}
    worker = make_user("w-large2@example.com")
    credit(worker, n=6, project=make_project())
    for path in PAGES + FILTERED:
        response, queries = _get(superuser, path)
        assert _unbounded_counts(queries) == [], path
        assert len(queries) == small[path], (path, [q["sql"] for q in queries])


@pytest.mark.django_db
def test_count_is_exact_below_the_cap(superuser):
    _rows(4)
    response, _ = _get(superuser, "/admin/tasks/judgment/")
    assert re.search(r"4\s+judgments", response.content.decode()), "the exact count is shown below the cap"


@pytest.mark.django_db
def test_past_the_cap_the_page_shows_at_least_the_cap_without_a_full_count(superuser, monkeypatch):
    monkeypatch.setattr(admin_paging.EstimatedCountPaginator, "cap", 2)
    _rows(5)
    for path in PAGES[:4] + FILTERED[:2]:
        response, queries = _get(superuser, path)
        assert _unbounded_counts(queries) == [], path
        count = response.context["cl"].result_count
        assert count >= 3, (path, count)  # cap + 1 at least: the list says there is more than one page of it
        if connection.vendor == "postgresql":
            assert any("pg_class" in q["sql"] or q["sql"].startswith("EXPLAIN") for q in queries), path
    # Every row is still reachable: the second page of a two-per-page list exists.
    monkeypatch.setattr("tasks.admin_queue.JudgmentAdmin.list_per_page", 2)
    response, _ = _get(superuser, "/admin/tasks/judgment/?p=2")
    assert len(response.context["cl"].result_list) == 2


@pytest.mark.django_db
def test_default_order_is_newest_first_by_primary_key(superuser):
    _rows(3)
    response, queries = _get(superuser, "/admin/tasks/judgment/")
    ids = [j.pk for j in response.context["cl"].result_list]
    assert ids == sorted(ids, reverse=True)
    listing = [q["sql"] for q in queries if 'FROM "tasks_judgment"' in q["sql"] and "ORDER BY" in q["sql"]]
    assert listing and all(re.search(r'ORDER BY "tasks_judgment"\."id" DESC\b', sql) for sql in listing), listing
