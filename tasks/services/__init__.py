"""Writes of tasks/. Client-facing (clients, projects, ingest, results, webhooks) and the queue live in
separate modules of this package."""

# The cross-app entry point named in docs/internal-interfaces.md (lazy, so importing the package stays light).


def task_completed(*, task_id: int) -> None:
    from tasks.services.completion import task_completed as _task_completed

    _task_completed(task_id=task_id)
