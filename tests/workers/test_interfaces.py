"""The functions other apps call (docs/internal-interfaces.md): claim blockers, eligibility, suspension."""

from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.errors import Conflict, NotFound
from tests.conftest import make_user
from tests.workers.factories import complete_profile, qualify, ready_worker, skill
from workers import selectors, services
from workers.models import Pool, PoolMembership, WorkerAuditEvent, WorkerProfile

pytestmark = pytest.mark.django_db


def codes(user):
    return [b["code"] for b in selectors.worker_claim_blockers(user=user)]


def test_fresh_unverified_user_is_blocked_for_every_reason_and_gets_no_profile_row():
    user = make_user("new@example.com", verified=False)
    assert codes(user) == ["email_unverified", "profile_incomplete", "terms_not_accepted", "not_qualified"]
    assert not WorkerProfile.objects.filter(user=user).exists()  # a read never writes


def test_ready_worker_has_no_blockers_even_without_payout_account():
    user = ready_worker("ready@example.com")
    assert codes(user) == []
    assert selectors.worker_onboarding_get(user=user)["state"] == "qualified"


def test_outdated_terms_block_with_their_own_code(settings):
    user = ready_worker("terms@example.com")
    settings.TERMS_VERSION = "2099-01"
    assert codes(user) == ["terms_not_accepted"]


def test_expired_qualification_does_not_count():
    user = make_user("exp@example.com")
    complete_profile(user)
    q = qualify(user, "python")
    q.expires_at = timezone.now() - timedelta(seconds=1)
    q.save()
    assert selectors.worker_qualified_skill_ids(user=user) == set()
    assert codes(user) == ["not_qualified"]
    assert selectors.worker_qualified_skill_ids(user=user, at=timezone.now() - timedelta(days=1)) == {q.skill_id}


def test_suspend_blocks_and_is_audit_logged_once_and_reinstate_lifts_it():
    ops = make_user("ops-a@example.com", groups=("ops",))
    user = ready_worker("s@example.com")
    services.worker_suspend(worker_id=user.id, reason="copying answers", actor_id=ops.id)
    services.worker_suspend(worker_id=user.id, reason="again", actor_id=ops.id)  # idempotent
    assert codes(user) == ["suspended"]
    assert "copying answers" in selectors.worker_claim_blockers(user=user)[0]["message"]
    assert selectors.worker_onboarding_get(user=user)["state"] == "suspended"
    services.worker_reinstate(worker_id=user.id, reason="appeal upheld", actor_id=ops.id)
    services.worker_reinstate(worker_id=user.id, reason="twice")
    assert codes(user) == []
    events = list(WorkerAuditEvent.objects.filter(worker=user).order_by("id").values_list("action", "actor_id", "reason"))
    assert events == [("suspend", ops.id, "copying answers"), ("reinstate", ops.id, "appeal upheld")]


def test_suspend_creates_missing_profile_and_refuses_unknown_worker_and_banned_worker():
    user = make_user("noprofile@example.com")
    services.worker_suspend(worker_id=user.id, reason="r")
    assert WorkerProfile.objects.get(user=user).status == "suspended"
    with pytest.raises(NotFound):
        services.worker_suspend(worker_id=999999, reason="r")
    banned = ready_worker("banned@example.com")
    services.worker_ban(worker_id=banned.id, reason="fraud")
    with pytest.raises(Conflict):
        services.worker_suspend(worker_id=banned.id, reason="r")
    assert codes(banned) == ["banned"]


def test_payouts_enabled_makes_a_qualified_worker_active_and_is_idempotent():
    user = ready_worker("pay@example.com")
    services.worker_payouts_enabled_set(user_id=user.id, enabled=True)
    services.worker_payouts_enabled_set(user_id=user.id, enabled=True)
    assert selectors.worker_onboarding_get(user=user) == {
        "state": "active", "missing": [],
        "steps": {"email_verified": True, "profile_complete": True, "qualified": True, "payout_ready": True},
    }
    services.worker_payouts_enabled_set(user_id=user.id, enabled=False)
    assert selectors.worker_onboarding_get(user=user)["missing"] == ["payout_account"]


def test_pools_and_pool_suspension():
    user = ready_worker("pool@example.com")
    pool = Pool.objects.create(name="Python raters")
    other = Pool.objects.create(name="Other")
    PoolMembership.objects.create(pool=pool, worker=user)
    PoolMembership.objects.create(pool=other, worker=user)
    assert selectors.worker_active_pool_ids(user=user) == {pool.id, other.id}
    services.pool_membership_suspend(pool_id=pool.id, worker_id=user.id, reason="low agreement")
    services.pool_membership_suspend(pool_id=pool.id, worker_id=user.id, reason="again")
    assert selectors.worker_active_pool_ids(user=user) == {other.id}
    assert WorkerAuditEvent.objects.filter(worker=user, action="pool_suspend", pool=pool).count() == 1
    with pytest.raises(NotFound):
        services.pool_membership_suspend(pool_id=pool.id, worker_id=make_user("x@example.com").id, reason="r")


def test_workers_eligible_for_applies_every_rule():
    py, js = skill("python"), skill("javascript")
    both = ready_worker("both@example.com", skills=("python", "javascript"), qualified=("python", "javascript"))
    only_py = ready_worker("py@example.com")
    ready_worker("suspended@example.com")
    services.worker_suspend(worker_id=ready_worker("susp2@example.com").id, reason="r")
    unverified = make_user("unverified@example.com", verified=False)
    complete_profile(unverified)
    qualify(unverified)
    no_profile = make_user("np@example.com")
    qualify(no_profile)
    expired = ready_worker("expired@example.com")
    expired.qualifications.update(expires_at=timezone.now() - timedelta(days=1))

    eligible = set(selectors.workers_eligible_for(skill_ids=[py.id], pool_id=None).values_list("email", flat=True))
    assert eligible == {"both@example.com", "py@example.com", "suspended@example.com"}
    assert list(selectors.workers_eligible_for(skill_ids=[py.id, js.id], pool_id=None)) == [both]

    pool = Pool.objects.create(name="P")
    PoolMembership.objects.create(pool=pool, worker=only_py)
    PoolMembership.objects.create(pool=pool, worker=both, status=PoolMembership.Status.SUSPENDED)
    assert list(selectors.workers_eligible_for(skill_ids=[py.id], pool_id=pool.id)) == [only_py]


def test_qualified_skills_sql_is_the_same_set_as_the_selector():
    """The queue embeds worker_qualified_skills_sql in its project query: it must select exactly
    worker_qualified_skill_ids, for unexpired, expired and never-expiring qualifications, at any time."""
    from django.db import connection

    user = make_user("sqlset@example.com")
    complete_profile(user, skills=("python", "javascript", "sql"))
    qualify(user, "python")
    expired = qualify(user, "javascript")
    expired.expires_at = timezone.now() - timedelta(hours=1)
    expired.save()
    forever = qualify(user, "sql")
    forever.expires_at = None
    forever.save()
    other = make_user("sqlset-other@example.com")
    complete_profile(other)
    qualify(other, "javascript")
    for at in (None, timezone.now() - timedelta(days=1), timezone.now() + timedelta(days=10_000)):
        sql, params = selectors.worker_qualified_skills_sql(worker_id=user.pk, at=at)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            got = {row[0] for row in cursor.fetchall()}
        assert got == selectors.worker_qualified_skill_ids(user=user, at=at)
    assert len(selectors.worker_qualified_skill_ids(user=user)) == 2
