"""The Celery app. Each Django app keeps its jobs in jobs.py (never tasks.py: tasks/ is a domain app)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

app = Celery("marketplace")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(related_name="jobs")


@app.on_after_configure.connect
def _make_broker_folders(sender, **kwargs):
    # kombu's filesystem transport needs its folders to exist before the first message.
    from django.conf import settings

    if str(sender.conf.broker_url).startswith("filesystem://"):
        for sub in ("out", "processed"):
            (settings.CELERY_BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)


# The request id in job log lines and the job failure/retry counters (marketplace/observability).
import marketplace.observability.celery_signals  # noqa: E402,F401
import marketplace.observability.requestid  # noqa: E402,F401
