from django.apps import AppConfig


def worker_work_stopped_received(*, worker_id: int, pool_id: int | None = None) -> None:
    """workers suspended, banned or took a worker out of a pool: their live claims go back to the queue in
    that transaction (tasks.services.queue_leases.assignments_release_for_worker)."""
    from tasks.services.queue import assignments_release_for_worker

    assignments_release_for_worker(worker_id=worker_id, pool_id=pool_id)


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Tasks and clients"

    def ready(self):
        # tasks answers the hook workers calls when a worker may no longer work (marketplace/events.py).
        from marketplace import events

        events.worker_work_stopped.connect(worker_work_stopped_received)
