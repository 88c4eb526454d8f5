"""Ops act on workers, never on staff (issue 13 row 13: POST /api/v1/workers/1/suspend/ by ops suspended
the superuser). Every ops action that targets a person, through the API and through the admin, is tried
against a staff target (the superuser, another ops user, a finance user, the ops user themself): each is
refused with a clear 4xx (or an admin error message) and nothing changes, no audit row is written."""

import pytest

from tests.admin_support import admin_client
from tests.conftest import make_user
from tests.workers.factories import ready_worker
from workers.models import Pool, PoolMembership, WorkerAuditEvent, WorkerProfile
from workers.services import worker_suspend

pytestmark = pytest.mark.django_db


@pytest.fixture
def targets(ops):
    root = make_user("root@example.com")
    root.is_staff = root.is_superuser = True
    root.save(update_fields=["is_staff", "is_superuser"])
    return {
        "superuser": root,
        "ops colleague": make_user("ops2@example.com", groups=("ops",)),
        "finance": make_user("fin@example.com", groups=("finance",)),
        "plain staff": _plain_staff(),
        "self": ops.user,
    }


def _plain_staff():
    user = make_user("plainstaff@example.com")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def _snapshot(user):
    profile = WorkerProfile.objects.filter(user=user).values("status", "status_reason").first()
    return (profile, list(PoolMembership.objects.filter(worker=user).values_list("pool_id", "status")),
            WorkerAuditEvent.objects.filter(worker=user).count())


@pytest.mark.parametrize("action", ["suspend", "reinstate"])
def test_ops_cannot_suspend_or_reinstate_staff_through_the_api(ops, targets, action):
    for name, user in targets.items():
        if action == "reinstate":  # a suspension made by someone allowed to: ops may not lift it either
            WorkerProfile.objects.update_or_create(user=user, defaults={"status": "suspended",
                                                                       "status_reason": "by root"})
        before = _snapshot(user)
        response = ops.post(f"/api/v1/workers/{user.pk}/{action}/", {"reason": "takeover"})
        assert response.status_code == 403, (name, response.content)
        assert response.json()["error"]["code"] == "staff_account", name
        assert _snapshot(user) == before, name


def test_ops_cannot_put_staff_in_or_out_of_pools_through_the_api(ops, targets):
    pool = Pool.objects.create(name="P")
    staff_ids = [u.pk for u in targets.values()]
    PoolMembership.objects.create(pool=pool, worker=targets["finance"])  # a legacy row: removal refused too
    before = {u.pk: _snapshot(u) for u in targets.values()}
    for method in ("post", "delete"):
        for user_id in staff_ids:
            response = getattr(ops, method)(f"/api/v1/pools/{pool.pk}/members/", {"worker_ids": [user_id]})
            assert response.status_code == 403, (method, user_id, response.content)
            assert response.json()["error"]["code"] == "staff_account"
            assert "worker_ids" in response.json()["error"]["fields"]
    assert {u.pk: _snapshot(u) for u in targets.values()} == before


def test_a_rule_never_picks_staff(ops):
    from workers.services.pools import pool_rule_worker_ids

    worker = ready_worker("w@example.com", skills=("python",), qualified=("python",))
    staff = ready_worker("s@example.com", skills=("python",), qualified=("python",))
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    assert pool_rule_worker_ids(skill_slug="python", min_score=0.0) == [worker.pk]


def test_ops_can_still_suspend_and_reinstate_a_worker(ops):
    worker = ready_worker("w@example.com", skills=("python",), qualified=("python",))
    assert ops.post(f"/api/v1/workers/{worker.pk}/suspend/", {"reason": "spam"}).json()["status"] == "suspended"
    assert ops.post(f"/api/v1/workers/{worker.pk}/reinstate/", {"reason": "ok"}).json()["status"] == "active"


def test_a_superuser_may_suspend_staff_in_the_service(ops):
    root = make_user("root@example.com")
    root.is_staff = root.is_superuser = True
    root.save(update_fields=["is_staff", "is_superuser"])
    worker_suspend(worker_id=ops.user.pk, reason="left the company", actor_id=root.pk)
    assert WorkerProfile.objects.get(user=ops.user).status == "suspended"


def test_ops_cannot_suspend_staff_in_the_admin(targets):
    ops = admin_client("ops-adm@example.com", groups=("ops",))
    pool = Pool.objects.create(name="P")
    for name, user in targets.items():
        profile = WorkerProfile.objects.get_or_create(user=user)[0]
        before = _snapshot(user)
        for action in ("suspend", "reinstate", "add_to_pool", "remove_from_pool"):
            response = ops.post("/admin/workers/workerprofile/", {
                "action": action, "_selected_action": [profile.pk], "reason": "takeover", "pool": pool.pk},
                follow=True)
            assert response.status_code == 200, (name, action)
        PoolMembership.objects.get_or_create(pool=pool, worker=user)
        membership = PoolMembership.objects.get(pool=pool, worker=user)
        for action in ("suspend_memberships", "reinstate_memberships"):
            ops.post("/admin/workers/poolmembership/", {"action": action, "_selected_action": [membership.pk],
                                                        "reason": "takeover"}, follow=True)
        PoolMembership.objects.filter(pk=membership.pk).delete()
        assert _snapshot(user) == before, name


def test_a_flag_on_a_staff_account_never_suspends_it(ops, targets):
    """Quality's automatic actions (actor None) and ops' confirm go through the same guarded services: the
    flag is recorded and resolved, the staff account stays active, the refusal is in the flag's actions."""
    from quality.services.flags import flag_raise
    from tests.tasks.test_queue_factories import make_project

    project = make_project()
    colleague = targets["ops colleague"]
    flag = flag_raise(worker_id=colleague.pk, project_id=project.pk, n_judgments=30, findings=[{
        "rule": "fast", "level": "suspend", "message": "Too fast.", "evidence": {"median_seconds": 1.0}}])
    assert flag is not None and not flag.actions.get("worker_suspended")
    response = ops.post(f"/api/v1/flags/{flag.pk}/resolve/", {"decision": "confirm", "note": "check"})
    assert response.status_code == 200, response.content
    assert WorkerProfile.objects.filter(user=colleague, status="suspended").count() == 0
    assert not PoolMembership.objects.filter(worker=colleague, status="suspended").exists()
