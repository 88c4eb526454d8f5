"""What happens when a task reaches its overlap (called by the queue): consensus, webhooks, project end."""

import importlib
import logging

from django.db import transaction
from django.db.models import Count, Q

from tasks.models import Judgment, Project, Task

logger = logging.getLogger(__name__)


def _optional(module: str, name: str):
    """A function from another app that may not exist yet (quality is built in parallel)."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def task_completed(*, task_id: int) -> None:
    """A task reached its overlap. Records in the caller's transaction (the outbox: one INSERT, published
    after the commit, also if the broker is down at that moment) that quality computes the consensus
    (quality.jobs.task_consensus_compute, if installed) and that the task.completed webhook job runs (it
    waits briefly for the consensus, then notifies the client and closes the project when this was its
    last open non-gold task). Never touches the network; safe to call twice (each job is idempotent and
    the webhook is recorded once per task)."""
    from marketplace.outbox import outbox_enqueue_many

    jobs = [("tasks.jobs.clients.webhook_task_completed", (task_id,))]
    if _optional("quality.jobs", "task_consensus_compute") is not None:
        jobs.insert(0, ("quality.jobs.task_consensus_compute", (task_id,)))
    outbox_enqueue_many(jobs)


def task_completed_event_data(*, task: Task, consensus: dict | None) -> dict:
    n = Judgment.objects.filter(task_id=task.pk, status=Judgment.Status.APPROVED).count()
    return {
        "project": task.project_id,
        "task": {"external_id": task.external_id, "status": task.status,
                 "completed_at": task.completed_at.isoformat() if task.completed_at else None},
        "n_judgments": n,
        "consensus": ({"answer": consensus["answer"], "confidence": consensus["confidence"]}
                      if consensus else None),
    }


def project_completed_event_data(*, project_id: int) -> dict:
    project = Project.objects.get(pk=project_id)
    counts = Task.objects.filter(project_id=project_id).aggregate(
        n_tasks=Count("id", filter=Q(is_gold=False)), n_gold=Count("id", filter=Q(is_gold=True)))
    # The agreement over every judgment, computed now (quality.services.project_agreement_ensure) rather than
    # left to the next beat: the client reads it in the event and at GET .../agreement/ right away.
    agreement_ensure = _optional("quality.services", "project_agreement_ensure")
    return {"project": project.pk, "name": project.name, "status": project.status,
            "completed_at": project.completed_at.isoformat() if project.completed_at else None, **counts,
            "agreement": agreement_ensure(project_id=project_id) if agreement_ensure else None}


def task_completed_notify(*, task_id: int, consensus: dict | None) -> list[int]:
    """Record the task.completed event (and project.completed if the project just finished) for delivery,
    in one transaction with their delivery jobs (the outbox), so the deliveries go out even if this job
    dies right after the commit or the broker is down (the WebhookDelivery rows are also swept). Returns
    the ids of deliveries to attempt now. Idempotent."""
    from tasks.services.projects import project_mark_completed
    from tasks.services.webhooks import webhook_delivery_create

    task = Task.objects.select_related("project").filter(pk=task_id).first()
    if task is None:  # deleted since (project removed): nothing to tell anyone
        return []
    client_id = task.project.client_id
    ids = []
    with transaction.atomic():
        if not task.is_gold and task.status == Task.Status.COMPLETE:
            delivery = webhook_delivery_create(
                client_id=client_id, event="task.completed", event_key=f"task.completed:{task.pk}",
                data=task_completed_event_data(task=task, consensus=consensus))
            if delivery:
                ids.append(delivery.pk)
        if project_mark_completed(project_id=task.project_id):
            data = project_completed_event_data(project_id=task.project_id)
            # A reopened project (new tasks uploaded) that completes again is a new event.
            delivery = webhook_delivery_create(
                client_id=client_id, event="project.completed",
                event_key=f"project.completed:{task.project_id}:{data['completed_at']}", data=data)
            if delivery:
                ids.append(delivery.pk)
        if ids:
            from marketplace.outbox import outbox_enqueue_many

            outbox_enqueue_many([("tasks.jobs.clients.webhook_deliver", (pk,)) for pk in ids])
    return ids
