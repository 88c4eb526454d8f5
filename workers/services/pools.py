"""Pool membership writes (ops): add by ids or by rule, remove, all within the pool's capacity."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from marketplace.errors import Conflict, NotFound, ValidationFailed
from workers.models import Pool, PoolMembership, Qualification, Skill, WorkerAuditEvent
from workers.services.standing import _release_live_work, staff_target_refuse


def pool_rule_worker_ids(*, skill_slug: str, min_score: float) -> list[int]:
    """Workers with an unexpired qualification in the skill at ``min_score`` or better."""
    skill = Skill.objects.filter(slug=skill_slug).first()
    if skill is None:
        raise ValidationFailed(f"Unknown skill {skill_slug!r}.", fields={"rule.skill": ["Unknown skill."]})
    if not 0 <= min_score <= 1:
        raise ValidationFailed("min_score is between 0 and 1.", fields={"rule.min_score": ["Between 0 and 1."]})
    now = timezone.now()
    # Staff are never pool members (workers.services.standing.staff_target_refuse), so a rule skips them.
    rows = Qualification.objects.filter(skill=skill, score__gte=min_score, worker__is_active=True,
                                        worker__is_staff=False, worker__is_superuser=False).exclude(
        expires_at__lte=now)
    return sorted(rows.values_list("worker_id", flat=True))


def _check_workers(pool: Pool, worker_ids: list[int]) -> None:
    known = set(get_user_model().objects.filter(pk__in=worker_ids).values_list("pk", flat=True))
    unknown = [w for w in worker_ids if w not in known]
    if unknown:
        raise ValidationFailed(f"Unknown worker id(s): {unknown}.", fields={"worker_ids": [f"Unknown: {unknown}."]})
    now = timezone.now()
    for skill in pool.required_skills.all():
        qualified = set(Qualification.objects.filter(skill=skill, worker_id__in=worker_ids).exclude(
            expires_at__lte=now).values_list("worker_id", flat=True))
        lacking = [w for w in worker_ids if w not in qualified]
        if lacking:
            raise ValidationFailed(f"Worker(s) {lacking} are not qualified in {skill.slug}, which this pool requires.",
                                   fields={"worker_ids": [f"Not qualified in {skill.slug}: {lacking}."]})


@transaction.atomic
def pool_members_add(*, pool_id: int, worker_ids: list[int], actor_id: int | None = None, reason: str = "") -> dict:
    """Adds (or reactivates) the workers as active members. All or nothing: an unknown worker, one
    lacking the pool's required qualifications, or exceeding ``capacity`` changes nothing. The pool row
    is locked so two concurrent adds cannot overshoot the capacity together. Returns
    ``{"added": [...], "already": [...]}``."""
    pool = Pool.objects.select_for_update().filter(pk=pool_id).first()
    if pool is None:
        raise NotFound("No such pool.")
    worker_ids = list(dict.fromkeys(worker_ids))
    _check_workers(pool, worker_ids)
    staff_target_refuse(worker_ids=worker_ids, actor_id=actor_id)
    memberships = {m.worker_id: m for m in PoolMembership.objects.filter(pool=pool, worker_id__in=worker_ids)}
    already = [w for w in worker_ids if w in memberships and memberships[w].status == PoolMembership.Status.ACTIVE]
    to_add = [w for w in worker_ids if w not in already]
    if pool.capacity is not None:
        active = PoolMembership.objects.filter(pool=pool, status=PoolMembership.Status.ACTIVE).count()
        if active + len(to_add) > pool.capacity:
            raise Conflict(f"The pool holds at most {pool.capacity} active members ({active} now, "
                           f"{len(to_add)} to add).", code="pool_full",
                           extra={"pool": pool.pk, "capacity": pool.capacity, "active": active,
                                  "requested": len(to_add)})
    for worker_id in to_add:
        if worker_id in memberships:
            PoolMembership.objects.filter(pk=memberships[worker_id].pk).update(status=PoolMembership.Status.ACTIVE, reason="")
        else:
            PoolMembership.objects.create(pool=pool, worker_id=worker_id)
        WorkerAuditEvent.objects.create(worker_id=worker_id, actor_id=actor_id, pool=pool,
                                        action=WorkerAuditEvent.Action.POOL_ADD, reason=reason)
    return {"added": to_add, "already": already}


@transaction.atomic
def pool_members_remove(*, pool_id: int, worker_ids: list[int], actor_id: int | None = None, reason: str = "") -> dict:
    """Removes the workers' memberships (audit logged). Idempotent: non-members are reported, not an
    error. Returns ``{"removed": [...], "not_members": [...]}``."""
    pool = Pool.objects.select_for_update().filter(pk=pool_id).first()
    if pool is None:
        raise NotFound("No such pool.")
    worker_ids = list(dict.fromkeys(worker_ids))
    staff_target_refuse(worker_ids=worker_ids, actor_id=actor_id)
    members = set(PoolMembership.objects.filter(pool=pool, worker_id__in=worker_ids).values_list("worker_id", flat=True))
    removed = [w for w in worker_ids if w in members]
    PoolMembership.objects.filter(pool=pool, worker_id__in=removed).delete()
    for worker_id in removed:
        _release_live_work(worker_id=worker_id, pool_id=pool.pk)  # their leases on the pool's projects go back
        WorkerAuditEvent.objects.create(worker_id=worker_id, actor_id=actor_id, pool=pool,
                                        action=WorkerAuditEvent.Action.POOL_REMOVE, reason=reason)
    return {"removed": removed, "not_members": [w for w in worker_ids if w not in members]}
