"""What happens when a task reaches its overlap (called by the queue): consensus, webhooks, project end.

The order of events: the queue's transaction records the jobs of a completion (quality's consensus job, in
the outbox; the submit asks quality for them beforehand through marketplace.events.task_completion_jobs and
writes them in the statement that counts the submission, on every submit, completing or not (the job acts
on a completed task only), so completing costs no statement, row or NOTIFY of its own;
task_completed below does the same for any other caller, through the task_completed hook); that job
computes the consensus and hands it back through task_consensus_ready, which records the client's
task.completed (and project.completed) webhooks. Nothing waits or polls for the consensus.
"""

import logging

from django.db import transaction
from django.db.models import Count, Q

from marketplace import events
from marketplace.outbox import outbox_enqueue_many
from tasks.models import Judgment, Project, Task

logger = logging.getLogger(__name__)


def task_completed(*, task_id: int) -> None:
    """A task reached its overlap. Tells quality, in the caller's transaction, which records its consensus
    job in the outbox (one INSERT, published after the commit, also if the broker is down at that moment);
    the consensus comes back through task_consensus_ready. Never touches the network; safe to call twice
    (the job is idempotent and the webhook is recorded once per task). Raises HookNotConnected, rolling the
    caller back, if quality is not connected: a completed task whose client never hears of it is worse."""
    events.task_completed.send(task_id=task_id)


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
    return {"project": project.pk, "name": project.name, "status": project.status,
            "completed_at": project.completed_at.isoformat() if project.completed_at else None, **counts,
            # The agreement over every judgment, computed now by quality rather than left to the next beat:
            # the client reads it in the event and at GET .../agreement/ right away.
            "agreement": events.project_agreement_ensure.ask(project_id=project_id)}


def task_consensus_ready(*, task_id: int, consensus: dict | None) -> list[int]:
    """quality hands a completed task's consensus ({answer, confidence, method} or None) down to tasks: the
    client's task.completed webhook carries it. Called by quality.jobs.task_consensus_compute, also when the
    consensus failed (None), so the client always hears of its task. Idempotent (task_completed_notify).
    A text task whose project reviews its answers also gets its review job recorded (tasks.services.reviews)."""
    from tasks.services.reviews import task_review_enqueue

    task = Task.objects.select_related("project").filter(pk=task_id).first()
    if task is not None:
        task_review_enqueue(task=task)
    return task_completed_notify(task_id=task_id, consensus=consensus)


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
            outbox_enqueue_many([("tasks.jobs.clients.webhook_deliver", (pk,)) for pk in ids])
    return ids
