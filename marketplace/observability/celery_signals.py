"""Celery job failures and retries as Prometheus counters (every worker process; see instruments.py on
PROMETHEUS_MULTIPROC_DIR)."""

from celery.signals import task_failure, task_retry

from marketplace.observability.instruments import CELERY_FAILURES, CELERY_RETRIES


@task_failure.connect(weak=False)
def _count_failure(sender=None, **kwargs):
    CELERY_FAILURES.labels(getattr(sender, "name", "unknown")).inc()


@task_retry.connect(weak=False)
def _count_retry(sender=None, **kwargs):
    CELERY_RETRIES.labels(getattr(sender, "name", "unknown")).inc()
