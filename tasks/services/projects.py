"""Projects of a client: create, set the deadline, pause, resume. Label schemas are validated by tasks.label_schemas."""

from django.db import transaction
from django.utils import timezone

from marketplace.errors import Conflict, ValidationFailed
from tasks.label_schemas import validate_label_schema
from tasks.models import Client, Project
from workers.models import Pool, Skill

CREATE_STATUSES = (Project.Status.DRAFT, Project.Status.ACTIVE)


@transaction.atomic
def project_create(
    *,
    client: Client,
    name: str,
    task_type: str,
    instructions: str,
    data_use_statement: str,
    reward_cents: int,
    currency: str = "usd",
    label_schema: dict | None = None,
    overlap: int = 3,
    required_qualifications: list[str] | None = None,
    pool: int | None = None,
    lease_seconds: int = 900,
    gold_share: float = 0.0,
    priority: int = 0,
    max_overlap: int | None = None,
    confidence_threshold: float | None = None,
    max_judgments_per_worker: int | None = None,
    status: str = Project.Status.ACTIVE,
    deadline=None,
) -> Project:
    """Create a project owned by `client`. The label schema is validated and stored normalised; skills
    are named by slug and the pool by id, each unknown one is a 400 naming the field. All or nothing."""
    schema = validate_label_schema(task_type, label_schema)
    errors: dict[str, list[str]] = {}
    slugs = list(dict.fromkeys(required_qualifications or []))
    skills = list(Skill.objects.filter(slug__in=slugs))
    missing = sorted(set(slugs) - {s.slug for s in skills})
    if missing:
        errors["required_qualifications"] = [f"unknown skill: {', '.join(missing)}"]
    pool_obj = None
    if pool is not None:
        pool_obj = Pool.objects.filter(pk=pool).first()
        if pool_obj is None:
            errors["pool"] = [f"no pool with id {pool}"]
    if max_overlap is not None and max_overlap < overlap:
        errors["max_overlap"] = ["must be at least overlap"]
    if status not in CREATE_STATUSES:
        errors["status"] = ["a new project is draft or active"]
    if deadline is not None and deadline <= timezone.now():
        errors["deadline"] = ["must be in the future"]
    if errors:
        path = next(iter(errors))
        raise ValidationFailed(f"{path}: {errors[path][0]}", fields=errors)
    project = Project.objects.create(
        client=client, name=name, task_type=task_type, label_schema=schema, instructions=instructions,
        data_use_statement=data_use_statement, reward_cents=reward_cents, currency=currency.lower(),
        overlap=overlap, max_overlap=max_overlap, confidence_threshold=confidence_threshold, pool=pool_obj,
        lease_seconds=lease_seconds, gold_share=gold_share, priority=priority,
        max_judgments_per_worker=max_judgments_per_worker, status=status, deadline=deadline,
    )
    if skills:
        project.required_qualifications.set(skills)
    return project


@transaction.atomic
def project_set_deadline(*, project_id: int, deadline) -> Project:
    """Set or clear (None) the project's deadline. A new deadline must be in the future (a past one would
    only mark the project late); clearing is always allowed. A 400 naming the field otherwise."""
    if deadline is not None and deadline <= timezone.now():
        raise ValidationFailed("deadline: must be in the future", fields={"deadline": ["must be in the future"]})
    project = _locked(project_id)
    project.deadline = deadline
    project.save(update_fields=["deadline", "updated_at"])
    return project


def _locked(project_id: int) -> Project:
    # FOR NO KEY UPDATE: the lock serialises status changes without blocking the foreign-key checks
    # (FOR KEY SHARE) of every claim and submit that inserts a row of this project. A plain FOR UPDATE
    # conflicts with those and closed a deadlock cycle with two claims (a completion job waiting on a
    # claim's insert, queued ahead of another claim's check).
    return Project.objects.select_for_update(no_key=True).get(pk=project_id)


@transaction.atomic
def project_pause(*, project_id: int) -> Project:
    """Stop serving the project's tasks to workers (live leases may still be submitted). Idempotent."""
    project = _locked(project_id)
    if project.status == Project.Status.COMPLETED:
        raise Conflict(f"Project {project.pk} is completed and cannot be paused.", code="project_completed",
                       extra={"project": project.pk, "status": project.status})
    if project.status != Project.Status.PAUSED:
        project.status = Project.Status.PAUSED
        project.save(update_fields=["status", "updated_at"])
    return project


@transaction.atomic
def project_resume(*, project_id: int) -> Project:
    """Serve the project's tasks again (a draft project is activated too). Idempotent."""
    project = _locked(project_id)
    if project.status == Project.Status.COMPLETED:
        raise Conflict(f"Project {project.pk} is completed and cannot be resumed; upload new tasks to reopen it.",
                       code="project_completed", extra={"project": project.pk, "status": project.status})
    if project.status != Project.Status.ACTIVE:
        project.status = Project.Status.ACTIVE
        project.save(update_fields=["status", "updated_at"])
    return project


@transaction.atomic
def project_mark_completed(*, project_id: int) -> bool:
    """Mark the project completed if every non-gold task is complete and there is at least one.
    Returns True only for the call that made the change (so project.completed fires once)."""
    from tasks.models import Task

    project = _locked(project_id)
    if project.status == Project.Status.COMPLETED:
        return False
    tasks = Task.objects.filter(project_id=project_id, is_gold=False)
    if not tasks.exists() or tasks.exclude(status=Task.Status.COMPLETE).exists():
        return False
    project.status = Project.Status.COMPLETED
    project.completed_at = timezone.now()
    project.save(update_fields=["status", "completed_at", "updated_at"])
    return True


def project_reopen_if_completed(*, project_id: int) -> None:
    """New tasks arrived in a completed project: it is active again (caller holds the transaction)."""
    Project.objects.filter(pk=project_id, status=Project.Status.COMPLETED).update(
        status=Project.Status.ACTIVE, completed_at=None, updated_at=timezone.now())
