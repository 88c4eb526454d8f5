"""Queue jobs: lease expiry and aging (beat), and "there is work" notifications. Each takes ids (or
nothing), calls one service, and is safe to run twice."""

from celery import shared_task

from tasks.services.ingest import tasks_statistics_refresh
from tasks.services.queue import assignments_expire, tasks_age
from tasks.services.queue_notify import work_available_notify

__all__ = ["expire_leases", "age_tasks", "notify_work_available", "analyze_tasks"]


@shared_task(name="tasks.jobs.queue.expire_leases")
def expire_leases() -> int:
    """Returns expired leases' slots to the queue (beat, every QUEUE_EXPIRE_EVERY_SECONDS)."""
    total = 0
    while True:
        n = assignments_expire(limit=1000)
        total += n
        if n < 1000:
            return total


@shared_task(name="tasks.jobs.queue.age_tasks")
def age_tasks() -> int:
    """Raises old open tasks' priority (beat, every QUEUE_AGING_EVERY_SECONDS)."""
    return tasks_age()


@shared_task(name="tasks.jobs.queue.notify_work_available")
def notify_work_available(project_id: int) -> int:
    """Mails eligible idle workers that the project has work (enqueue on commit after ingest/activation)."""
    return work_available_notify(project_id=project_id)


@shared_task(name="tasks.jobs.queue.analyze_tasks")
def analyze_tasks() -> None:
    """Refreshes the planner's statistics of the task table (enqueued on commit by a large upload)."""
    tasks_statistics_refresh()
