"""A suspended worker's appeal to ops: a message recorded for ops to read in the admin (WorkerAppeal)."""

from django.db import transaction

from marketplace.errors import Conflict, Forbidden, ValidationFailed
from workers.models import PoolMembership, WorkerAppeal, WorkerProfile

APPEAL_MIN_LENGTH = 10
APPEAL_MAX_LENGTH = 2000
APPEALS_OPEN_MAX = 1  # one unanswered appeal at a time: ops answer it, then the worker may write again


def worker_appeal_create(*, worker_id: int, message: str, flag_id: int | None = None) -> WorkerAppeal:
    """Records the worker's appeal. Only a worker who is suspended (on the platform, or in a pool) may
    appeal (Forbidden, code not_suspended); the message is 10 to 2,000 characters (ValidationFailed on
    "message"); while an earlier appeal is unanswered a new one is refused (Conflict, code appeal_open), so
    the form cannot flood ops. Locks the worker's profile row, so two submits at once make one appeal."""
    text = (message or "").strip()
    if len(text) < APPEAL_MIN_LENGTH or len(text) > APPEAL_MAX_LENGTH:
        raise ValidationFailed(
            f"Write between {APPEAL_MIN_LENGTH} and {APPEAL_MAX_LENGTH} characters.",
            fields={"message": [f"between {APPEAL_MIN_LENGTH} and {APPEAL_MAX_LENGTH} characters"]})
    with transaction.atomic():
        profile = WorkerProfile.objects.select_for_update().filter(user_id=worker_id).first()
        suspended = (profile is not None and profile.status == WorkerProfile.Status.SUSPENDED) or \
            PoolMembership.objects.filter(worker_id=worker_id, status=PoolMembership.Status.SUSPENDED).exists()
        if not suspended:
            raise Forbidden("Only a suspended account can appeal.", code="not_suspended")
        waiting = list(WorkerAppeal.objects.filter(worker_id=worker_id, handled_at__isnull=True)
                       .order_by("id").values_list("pk", flat=True)[:APPEALS_OPEN_MAX])
        if len(waiting) >= APPEALS_OPEN_MAX:
            raise Conflict(f"Your appeal {waiting[-1]} is with ops already: they answer by email.",
                           code="appeal_open", extra={"appeal": waiting[-1]})
        return WorkerAppeal.objects.create(worker_id=worker_id, message=text, flag_id=flag_id)
