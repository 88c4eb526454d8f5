"""The worker list ops live in: state, skills, pools, quality standing and open flags as columns, without
one query per row; pool and suspension actions for ops only (finance may look, not act)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from quality.models import Flag, WorkerStanding
from tests.admin_support import admin_clients
from tests.tasks.test_queue_factories import make_project
from tests.workers.factories import ready_worker
from workers.models import Pool, PoolMembership, WorkerAuditEvent, WorkerProfile

pytestmark = pytest.mark.django_db
URL = "/admin/workers/workerprofile/"


def _worker(i: int, project, pool) -> WorkerProfile:
    user = ready_worker(f"w{i}@example.com", skills=("python", "javascript"), qualified=("python",))
    PoolMembership.objects.create(pool=pool, worker=user)
    WorkerStanding.objects.create(worker=user, project=None, status="flagged", computed_at=timezone.now())
    Flag.objects.create(worker=user, project=project, rule="gold_accuracy", evidence={"gold_n": 20})
    Flag.objects.create(worker=user, project=project, rule="too_fast", evidence={}, status="dismissed",
                        resolved_at=timezone.now())
    return WorkerProfile.objects.get(user=user)


def test_each_role_sees_what_it_should():
    clients = admin_clients()
    assert clients["ops"].get(URL).status_code == 200
    assert clients["finance"].get(URL).status_code == 403  # finance's API shows no profiles (issue 13 row 14)
    assert clients["staff"].get(URL).status_code == 403  # staff without a role see nothing


def test_columns_show_state_skills_pools_standing_and_open_flags():
    ops = admin_clients()["ops"]
    pool = Pool.objects.create(name="Python raters")
    _worker(1, make_project(), pool)
    page = ops.get(URL).content.decode()
    assert "w1@example.com" in page
    assert '<td class="field-skill_list">javascript, python*</td>' in page  # claimed skills, qualified starred
    assert '<td class="field-pool_list">Python raters</td>' in page
    assert '<td class="field-quality_standing">flagged</td>' in page
    assert '<td class="field-onboarding_state">qualified</td>' in page
    # 1 open flag (the dismissed one does not count), linked to the flag review list
    assert '/admin/quality/flag/?status=open&amp;q=w1%40example.com" class="marketplace-warning">1</a>' in page
    assert "w1@example.com" in ops.get(URL + "?open_flags=yes").content.decode()
    assert "w1@example.com" not in ops.get(URL + "?open_flags=no").content.decode()


def test_list_costs_the_same_queries_for_one_worker_or_many():
    ops = admin_clients()["ops"]
    project, pool = make_project(), Pool.objects.create(name="P")
    _worker(1, project, pool)
    ops.get(URL)
    with CaptureQueriesContext(connection) as one:
        assert ops.get(URL).status_code == 200
    for i in range(2, 8):
        _worker(i, project, pool)
    with CaptureQueriesContext(connection) as many:
        page = ops.get(URL).content.decode()
    assert all(f"w{i}@example.com" in page for i in range(1, 8))
    assert len(many.captured_queries) == len(one.captured_queries), [q["sql"] for q in many.captured_queries]


def test_pool_and_suspend_actions_are_for_ops_only():
    clients = admin_clients()
    pool = Pool.objects.create(name="Inner")
    profile = WorkerProfile.objects.get(user=ready_worker("act@example.com"))
    data = {"action": "add_to_pool", "_selected_action": [profile.pk], "pool": pool.pk, "reason": "x"}
    clients["finance"].post(URL, data)
    assert not PoolMembership.objects.filter(pool=pool, worker=profile.user).exists()
    clients["finance"].post(URL, {"action": "suspend", "_selected_action": [profile.pk], "reason": "spam"})
    assert WorkerProfile.objects.get(pk=profile.pk).status == "active"
    assert clients["staff"].post(URL, data).status_code == 403
    assert not PoolMembership.objects.filter(pool=pool, worker=profile.user).exists()

    clients["ops"].post(URL, data)
    assert PoolMembership.objects.filter(pool=pool, worker=profile.user, status="active").exists()
    clients["ops"].post(URL, {**data, "action": "remove_from_pool"})
    assert not PoolMembership.objects.filter(pool=pool, worker=profile.user, status="active").exists()


def test_membership_suspend_and_reinstate_need_a_reason_are_logged_and_ops_only():
    clients = admin_clients()
    pool = Pool.objects.create(name="Reviewers")
    worker = ready_worker("member@example.com")
    membership = PoolMembership.objects.create(pool=pool, worker=worker)
    url = "/admin/workers/poolmembership/"
    data = {"action": "suspend_memberships", "_selected_action": [membership.pk], "reason": "copy-paste"}
    assert clients["ops"].get(url).status_code == 200 and clients["staff"].get(url).status_code == 403
    clients["finance"].post(url, data)
    clients["ops"].post(url, {**data, "reason": ""})
    membership.refresh_from_db()
    assert membership.status == "active"

    clients["ops"].post(url, data)
    membership.refresh_from_db()
    assert membership.status == "suspended"
    assert WorkerAuditEvent.objects.filter(worker=worker, pool=pool, reason="copy-paste").exists()
    clients["ops"].post(url, {**data, "action": "reinstate_memberships", "reason": "checked"})
    membership.refresh_from_db()
    assert membership.status == "active"
