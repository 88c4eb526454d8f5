"""The execution job: runs a project's task tests in the sandbox. Routed to SANDBOX_QUEUE (settings), so
only the sandbox machines' workers (`celery -A marketplace worker -Q sandbox`) run it. Safe to run twice."""

from celery import shared_task

from tasks.services.execution import completion_runs_execute, fix_run_execute, tasks_with_tests_pending

__all__ = ["run_project_tests", "run_fix"]


@shared_task(name="tasks.jobs.execution.run_project_tests")
def run_project_tests(project_id: int) -> int:
    """Runs every completion of the project's tasks with tests that has no result yet; returns tasks run."""
    ids = tasks_with_tests_pending(project_id=project_id)
    for task_id in ids:
        completion_runs_execute(task_id=task_id)
    return len(ids)


@shared_task(name="tasks.jobs.execution.run_fix")
def run_fix(judgment_id: int) -> bool | None:
    """Runs a fix task's submitted code against the task's tests (recorded by the submit); returns passed."""
    fix_run = fix_run_execute(judgment_id=judgment_id)
    return None if fix_run is None else fix_run.passed
