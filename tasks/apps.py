from django.apps import AppConfig


def worker_work_stopped_received(*, worker_id: int, pool_id: int | None = None) -> None:
    """workers suspended, banned or took a worker out of a pool: their live claims go back to the queue in
    that transaction (tasks.services.queue_leases.assignments_release_for_worker)."""
    from tasks.services.queue import assignments_release_for_worker

    assignments_release_for_worker(worker_id=worker_id, pool_id=pool_id)


def api_key_client_received(*, request) -> int | None:
    """The client behind the request's `Api-Key` (None without one); raises on a bad key, as the API would."""
    from tasks.auth import ClientAPIKeyAuthentication

    found = ClientAPIKeyAuthentication().authenticate(request)
    return found[1].pk if found else None


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Tasks and clients"

    def ready(self):
        # tasks answers the hooks of marketplace/events.py that reach it: workers' "this worker may no longer
        # work", and the idempotency middleware's "whose API key is this".
        from marketplace import events

        events.worker_work_stopped.connect(worker_work_stopped_received)
        events.api_key_client.connect(api_key_client_received)
