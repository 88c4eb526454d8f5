"""The sandbox's Celery job, on its own queue (settings.SANDBOX_QUEUE) so it runs on machines of its own."""

from celery import shared_task

from sandbox.runner import Limits, SandboxInputError, run


@shared_task(name="sandbox.jobs.run_code")
def run_code(language: str, code: str, test: str | None = None, cases: list | None = None) -> dict:
    """Run code against its tests and return the RunResult as a dict. Safe to run twice: it writes nothing.
    Bad input is answered as an "error" result, not raised, so the caller always gets a result."""
    try:
        return run(language, code, test=test, cases=cases, limits=Limits.from_settings()).as_dict()
    except SandboxInputError as exc:
        return {"status": "error", "exit_code": None, "stdout": "", "stderr": "", "duration": 0.0,
                "detail": str(exc), "cases": []}

