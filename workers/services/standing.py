"""Writes to a worker's platform standing: profile creation, payouts flag, suspension, pool suspension."""

from django.db import transaction
from django.db.models import Q

from marketplace import events
from marketplace.errors import Conflict, Forbidden, NotFound
from workers.models import PoolMembership, WorkerAuditEvent, WorkerProfile

STAFF_TARGET_MESSAGE = ("This account is a staff account: ops tools act on workers only. A superuser manages "
                        "staff accounts in the admin.")


def staff_target_refuse(*, worker_ids, actor_id: int | None) -> None:
    """Ops' worker tools (suspend, reinstate, ban, pool membership) never act on a staff or superuser
    account: otherwise any ops user could lock out a colleague or the superuser (issue 13 row 13). Only a
    superuser actor may; automatic callers (actor None, e.g. quality rules) may not either, since staff are
    not workers. Raises Forbidden (403, code staff_account) naming the ids; changes nothing."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(pk__in=list(worker_ids))
    staff = sorted(users.filter(Q(is_staff=True) | Q(is_superuser=True)).values_list("pk", flat=True))
    if not staff:
        return
    if actor_id is not None and get_user_model().objects.filter(pk=actor_id, is_active=True,
                                                                 is_superuser=True).exists():
        return
    raise Forbidden(STAFF_TARGET_MESSAGE, code="staff_account", fields={"worker_ids": [f"Staff accounts: {staff}."]})


def worker_profile_ensure(*, user_id: int) -> WorkerProfile:
    """The worker's profile, created empty if missing. Safe under races: the OneToOne unique constraint
    makes a concurrent second insert fail, and get_or_create then reads the winner's row."""
    profile, _ = WorkerProfile.objects.get_or_create(user_id=user_id)
    return profile


def _release_live_work(*, worker_id: int, pool_id: int | None = None) -> None:
    """A worker who may no longer work (suspended, banned, out of a pool) gives their live assignments back
    to the queue at once, in the caller's transaction; their submits are refused too (tasks' submit). The
    queue stands above workers, so it hears of it through a hook (marketplace.events.worker_work_stopped)."""
    events.worker_work_stopped.send(worker_id=worker_id, pool_id=pool_id)


def _profile_locked(*, user_id: int) -> WorkerProfile:
    from django.contrib.auth import get_user_model

    if not get_user_model().objects.filter(pk=user_id).exists():
        raise NotFound("No such worker.")
    worker_profile_ensure(user_id=user_id)
    return WorkerProfile.objects.select_for_update().get(user_id=user_id)


@transaction.atomic
def worker_payouts_enabled_set(*, user_id: int, enabled: bool) -> None:
    """Records whether the worker's payout account can receive money (payments calls this on Stripe's
    account.updated). Idempotent; creates the profile if missing."""
    worker_profile_ensure(user_id=user_id)
    WorkerProfile.objects.filter(user_id=user_id).exclude(payouts_enabled=enabled).update(payouts_enabled=enabled)


@transaction.atomic
def worker_suspend(*, worker_id: int, reason: str, actor_id: int | None = None) -> None:
    """Suspends the worker platform-wide (they can no longer claim) and writes one audit event.

    Locks the profile row. Idempotent: suspending a suspended worker changes nothing and logs nothing.
    A banned worker stays banned (Conflict)."""
    staff_target_refuse(worker_ids=[worker_id], actor_id=actor_id)
    profile = _profile_locked(user_id=worker_id)
    if profile.status == WorkerProfile.Status.BANNED:
        raise Conflict(f"Worker {worker_id} is banned; a ban is not turned into a suspension.", code="worker_banned",
                       extra={"worker": worker_id, "status": profile.status})
    if profile.status == WorkerProfile.Status.SUSPENDED:
        return
    profile.status = WorkerProfile.Status.SUSPENDED
    profile.status_reason = reason
    profile.save(update_fields=["status", "status_reason", "updated_at"])
    _release_live_work(worker_id=worker_id)
    WorkerAuditEvent.objects.create(worker_id=worker_id, actor_id=actor_id, action=WorkerAuditEvent.Action.SUSPEND,
                                    reason=reason)


@transaction.atomic
def worker_reinstate(*, worker_id: int, reason: str, actor_id: int | None = None) -> None:
    """Lifts a suspension or a ban and writes one audit event. Locks the profile row. Idempotent: an
    active worker is left as is and nothing is logged."""
    staff_target_refuse(worker_ids=[worker_id], actor_id=actor_id)
    profile = _profile_locked(user_id=worker_id)
    if profile.status == WorkerProfile.Status.ACTIVE:
        return
    profile.status = WorkerProfile.Status.ACTIVE
    profile.status_reason = ""
    profile.save(update_fields=["status", "status_reason", "updated_at"])
    WorkerAuditEvent.objects.create(worker_id=worker_id, actor_id=actor_id, action=WorkerAuditEvent.Action.REINSTATE,
                                    reason=reason)


@transaction.atomic
def worker_ban(*, worker_id: int, reason: str, actor_id: int | None = None) -> None:
    """Bans the worker for good (until reinstated by ops). Idempotent, audit logged."""
    staff_target_refuse(worker_ids=[worker_id], actor_id=actor_id)
    profile = _profile_locked(user_id=worker_id)
    if profile.status == WorkerProfile.Status.BANNED:
        return
    profile.status = WorkerProfile.Status.BANNED
    profile.status_reason = reason
    profile.save(update_fields=["status", "status_reason", "updated_at"])
    _release_live_work(worker_id=worker_id)
    WorkerAuditEvent.objects.create(worker_id=worker_id, actor_id=actor_id, action=WorkerAuditEvent.Action.BAN,
                                    reason=reason)


@transaction.atomic
def pool_membership_suspend(*, pool_id: int, worker_id: int, reason: str, actor_id: int | None = None) -> None:
    """Suspends the worker's membership in one pool (the membership stays, inactive) and logs it.
    NotFound if the worker is not a member. Idempotent: an already suspended membership is left as is."""
    staff_target_refuse(worker_ids=[worker_id], actor_id=actor_id)
    membership = PoolMembership.objects.select_for_update().filter(pool_id=pool_id, worker_id=worker_id).first()
    if membership is None:
        raise NotFound("This worker is not a member of this pool.")
    if membership.status == PoolMembership.Status.SUSPENDED:
        return
    membership.status = PoolMembership.Status.SUSPENDED
    membership.reason = reason
    membership.save(update_fields=["status", "reason"])
    _release_live_work(worker_id=worker_id, pool_id=pool_id)
    WorkerAuditEvent.objects.create(worker_id=worker_id, actor_id=actor_id, pool_id=pool_id,
                                    action=WorkerAuditEvent.Action.POOL_SUSPEND, reason=reason)


@transaction.atomic
def pool_membership_reinstate(*, pool_id: int, worker_id: int, reason: str, actor_id: int | None = None) -> None:
    """Lifts a pool suspension (quality calls it when ops dismiss the flag that caused it) and logs it.
    NotFound if the worker is not a member. Idempotent: an active membership is left as is, nothing logged."""
    staff_target_refuse(worker_ids=[worker_id], actor_id=actor_id)
    membership = PoolMembership.objects.select_for_update().filter(pool_id=pool_id, worker_id=worker_id).first()
    if membership is None:
        raise NotFound("This worker is not a member of this pool.")
    if membership.status == PoolMembership.Status.ACTIVE:
        return
    membership.status = PoolMembership.Status.ACTIVE
    membership.reason = ""
    membership.save(update_fields=["status", "reason"])
    WorkerAuditEvent.objects.create(worker_id=worker_id, actor_id=actor_id, pool_id=pool_id,
                                    action=WorkerAuditEvent.Action.POOL_REINSTATE, reason=reason)
