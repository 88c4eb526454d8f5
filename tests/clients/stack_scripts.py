"""Run inside the live stack (`manage.py shell -c`), to arrange what only workers and quality produce: judged,
completed tasks with a consensus, and a webhook delivery sent by the stack's own Celery worker."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone


@transaction.atomic
def complete_pairwise(project_id: int, choices: dict[str, str], confidence: float = 0.8) -> None:
    """Three approved judgments per task, the task complete, and quality's consensus `choices[external_id]`."""
    from marketplace.models import User
    from quality.models import TaskConsensus
    from tasks.models import Assignment, Judgment, Task

    workers = [User.objects.get_or_create(email=f"live-rater{i}@example.com")[0] for i in range(3)]
    now = timezone.now()
    for task in Task.objects.filter(project_id=project_id, external_id__in=list(choices)):
        for worker in workers:
            assignment = Assignment.objects.create(task=task, worker=worker, project_id=project_id,
                                                   status=Assignment.Status.SUBMITTED, claimed_at=now,
                                                   expires_at=now + timedelta(minutes=15), finished_at=now)
            Judgment.objects.create(assignment=assignment, task=task, project_id=project_id, worker=worker,
                                    answer={"choice": choices[task.external_id]}, seconds_spent=20.0,
                                    status=Judgment.Status.APPROVED, is_gold=False)
        Task.objects.filter(pk=task.pk).update(status=Task.Status.COMPLETE, completed_at=now)
        TaskConsensus.objects.create(task=task, project_id=project_id, answer={"choice": choices[task.external_id]},
                                     confidence=confidence, method="majority", n_judgments=3, computed_at=now)


def send_webhook(client_name: str, event_key: str) -> None:
    """Record a task.completed event for the client and hand it to the stack's worker to deliver (signed)."""
    from tasks.jobs.clients import webhook_deliver
    from tasks.models import Client
    from tasks.services.webhooks import webhook_delivery_create

    client = Client.objects.get(name=client_name)
    delivery = webhook_delivery_create(client_id=client.pk, event="task.completed", event_key=event_key,
                                       data={"project": 0, "task": {"external_id": event_key}, "n_judgments": 3})
    assert delivery is not None, "the client has no callback URL"
    webhook_deliver.delay(delivery.pk)
