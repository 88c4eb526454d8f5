"""The Celery app. Each Django app keeps its jobs in jobs.py (never tasks.py: tasks/ is a domain app)."""

import logging
import os

from celery import Celery, Task
from celery.signals import task_postrun
from django.db import InterfaceError, OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")


class JobTask(Task):
    """Base of every job: a database that is restarting, failing over or dropped the connection makes the
    job retry with backoff (1 s doubling to 60 s, jittered; about 12 minutes in all) instead of failing.
    Jobs are safe to run twice, so a retry after a partial run is harmless; Celery's Django fixup closes
    the broken connection after the failed run, so the retry gets a fresh one."""

    autoretry_for = (OperationalError, InterfaceError)
    retry_backoff = 1
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = 20


app = Celery("marketplace", task_cls=JobTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(related_name="jobs")


@app.on_after_configure.connect
def _make_broker_folders(sender, **kwargs):
    # kombu's filesystem transport needs its folders to exist before the first message.
    from django.conf import settings

    if str(sender.conf.broker_url).startswith("filesystem://"):
        for sub in ("out", "processed"):
            (settings.CELERY_BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)


@task_postrun.connect
def _outbox_job_done(task_id=None, state=None, **kwargs):
    """A job published by the outbox relay (task id outbox-<id>) finished: mark its event done, so the
    relay does not publish it again. RETRY is not finished (the retry keeps the task id)."""
    if not task_id or not str(task_id).startswith("outbox-") or state not in ("SUCCESS", "FAILURE"):
        return
    from django.db import connection

    from marketplace.outbox import outbox_job_done

    for attempt in (1, 2):
        try:
            outbox_job_done(task_id=task_id)
            return
        except Exception:  # the job's own connection may have died with it: once more on a fresh one
            connection.close()
            if attempt == 2:  # database gone: the event is redelivered later; jobs are safe to run twice
                logging.getLogger(__name__).warning("could not mark outbox job %s done", task_id, exc_info=True)


# The request id in job log lines and the job failure/retry counters (marketplace/observability).
import marketplace.observability.celery_signals  # noqa: E402,F401
import marketplace.observability.requestid  # noqa: E402,F401
