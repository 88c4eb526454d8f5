"""Effective hourly pay (tasks.selectors.pay): the figure, its threshold, the pay floor, and where it is
shown: the client project API and the worker's project listing (GET /api/v1/work/projects/)."""

import json

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from tasks.models import Judgment, Project
from tasks.selectors.pay import projects_effective_hourly
from tests.conftest import Person, login
from tests.tasks.client_support import ClientSession, add_judgment, make_project
from tests.tasks.test_queue_factories import make_project as make_queue_project
from tests.tasks.test_queue_factories import make_tasks, make_worker
from tests.workers.factories import ready_worker
from workers.models import Pool, PoolMembership

pytestmark = pytest.mark.django_db


def _judged_project(session, *, reward_cents=25, seconds=(10, 20, 30, 40, 50, 60), name="p"):
    """A project whose approved, timed judgments have exactly `seconds`, plus judgments the rule must
    ignore: a rejected one (quality review) and untimed ones."""
    project = make_project(session.client_row, name=name, reward_cents=reward_cents)
    tasks = make_tasks(project, len(seconds) + 2)
    for i, s in enumerate(seconds):
        add_judgment(tasks[i], ready_worker(f"{name}-w{i}@example.com"), {"choice": "a"}, seconds=s)
    add_judgment(tasks[-2], ready_worker(f"{name}-rej@example.com"), {"choice": "a"}, seconds=0.5,
                 status=Judgment.Status.REJECTED)
    add_judgment(tasks[-1], ready_worker(f"{name}-zero@example.com"), {"choice": "a"}, seconds=0)
    return project


def test_figure_is_reward_over_median_seconds_of_approved_timed_judgments():
    session = ClientSession("pay client")
    project = _judged_project(session)
    # median(10..60) = 35 s (the rejected 0.5 s and the 0 s judgments are ignored): 25 * 3600 / 35 = 2571.4
    figures = projects_effective_hourly(projects=[project])[project.pk]
    assert figures["median_seconds"] == pytest.approx(35.0)
    assert figures["n_timed"] == 6
    assert figures["effective_hourly_cents"] == 2571
    assert figures["below_pay_floor"] is False

    body = session.get(f"/api/v1/projects/{project.pk}/").json()
    assert body["effective_hourly_cents"] == 2571 and body["low_pay"] is False


def test_odd_count_median_and_low_pay_under_the_floor():
    session = ClientSession("cheap client")
    project = _judged_project(session, reward_cents=5, seconds=(30, 90, 60, 120, 45), name="cheap")
    # median(30, 45, 60, 90, 120) = 60 s: 5 * 3600 / 60 = 300 cents/h, under the default floor (1500).
    body = session.get(f"/api/v1/projects/{project.pk}/").json()
    assert body["effective_hourly_cents"] == 300 and body["low_pay"] is True
    with override_settings(PAY_FLOOR_HOURLY_CENTS=300):
        assert session.get(f"/api/v1/projects/{project.pk}/").json()["low_pay"] is False  # at the floor is fine


def test_null_with_too_few_judgments_and_never_low_pay():
    session = ClientSession("new client")
    project = _judged_project(session, reward_cents=1, seconds=(100, 100, 100, 100), name="new")
    body = session.get(f"/api/v1/projects/{project.pk}/").json()
    assert body["effective_hourly_cents"] is None and body["low_pay"] is False
    with override_settings(PAY_HOURLY_MIN_JUDGMENTS=4):
        assert session.get(f"/api/v1/projects/{project.pk}/").json()["effective_hourly_cents"] == 36
    empty = make_project(session.client_row, name="empty")
    assert session.get(f"/api/v1/projects/{empty.pk}/").json()["effective_hourly_cents"] is None


def test_client_list_computes_the_figure_in_one_query_per_page(django_assert_num_queries):
    session = ClientSession("list client")
    _judged_project(session, name="a")
    session.get("/api/v1/projects/")  # warm the key lookup path
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        first = session.get("/api/v1/projects/").json()
    _judged_project(session, name="b", reward_cents=1)
    _judged_project(session, name="c", reward_cents=50)
    with CaptureQueriesContext(connection) as three:
        body = session.get("/api/v1/projects/").json()
    assert len(first["results"]) == 1 and len(body["results"]) == 3
    assert len(three.captured_queries) == len(one.captured_queries)
    by_name = {p["name"]: p for p in body["results"]}
    assert by_name["a"]["effective_hourly_cents"] == 2571
    assert by_name["b"]["effective_hourly_cents"] == 103 and by_name["b"]["low_pay"] is True
    assert by_name["c"]["effective_hourly_cents"] == 5143 and by_name["c"]["low_pay"] is False


# --- the worker's listing ---------------------------------------------------------------------------

def _signed_in(user) -> Person:
    return Person(user, login(APIClient(), user.email))


WORK_FIELDS = {"id", "name", "task_type", "label_schema", "instructions", "data_use_statement", "reward_cents",
               "currency", "effective_hourly_cents", "below_pay_floor", "pending_hourly_cents", "rate_hourly_cents",
               "open_slots", "lease_seconds"}


def test_worker_listing_shows_only_claimable_projects_with_open_slots():
    worker = make_worker("lister@example.com")
    python = make_queue_project(overlap=2)
    make_tasks(python, 3)
    make_tasks(python, 2, gold=True)
    js = make_queue_project(skills=("javascript",))
    make_tasks(js, 3)
    paused = make_queue_project(status="paused")
    make_tasks(paused, 3)
    pool = Pool.objects.create(name="Inner circle")
    pooled = make_queue_project(pool=pool)
    make_tasks(pooled, 1)
    full = make_queue_project(overlap=1)
    full_task = make_tasks(full, 1)[0]
    add_judgment(full_task, make_worker("other@example.com"), {"choice": "a"})
    full.tasks.update(n_active=1, n_submitted=1)
    done = make_queue_project(overlap=3)
    own_task = make_tasks(done, 1)[0]
    add_judgment(own_task, worker, {"choice": "b"})  # the worker's one assignment on its only task
    done.tasks.update(n_active=1, n_submitted=1)

    me = _signed_in(worker)
    body = me.get("/api/v1/work/projects/").json()
    assert body["blocker"] is None
    assert [p["id"] for p in body["results"]] == [python.pk]
    row = body["results"][0]
    assert set(row) == WORK_FIELDS
    # 3 real tasks x overlap 2: gold checks are not slots (the figure must not move with a gold claim).
    assert row["open_slots"] == 6
    text = json.dumps(body)
    assert "gold" not in text and "is_gold" not in text and "Queue test client" not in text

    PoolMembership.objects.create(pool=pool, worker=worker, status=PoolMembership.Status.ACTIVE)
    ids = {p["id"] for p in me.get("/api/v1/work/projects/").json()["results"]}
    assert ids == {python.pk, pooled.pk}
    Project.objects.filter(pk=python.pk).update(max_judgments_per_worker=0)  # at the share cap: not claimable
    assert {p["id"] for p in me.get("/api/v1/work/projects/").json()["results"]} == {pooled.pk}


def test_worker_listing_shows_pay_and_the_floor_flag_before_claiming():
    worker = make_worker("payseer@example.com")
    project = make_queue_project(overlap=3)
    tasks = make_tasks(project, 6)
    for i, task in enumerate(tasks[:5]):
        add_judgment(task, make_worker(f"paid{i}@example.com"), {"choice": "a"}, seconds=90)
    row = _signed_in(worker).get("/api/v1/work/projects/").json()["results"][0]
    assert row["reward_cents"] == 25 and row["currency"] == "usd"
    assert row["effective_hourly_cents"] == 1000 and row["below_pay_floor"] is True  # 25 * 3600 / 90


def test_worker_who_may_not_claim_gets_the_reason_and_nothing_else(api):
    make_tasks(make_queue_project(), 2)
    unqualified = ready_worker("unq@example.com", qualified=())
    body = _signed_in(unqualified).get("/api/v1/work/projects/").json()
    assert body["results"] == [] and body["count"] == 0
    assert body["blocker"]["code"] == "not_qualified"
    assert api.get("/api/v1/work/projects/").status_code in (401, 403)
