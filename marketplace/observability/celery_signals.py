"""Celery job failures and retries as Prometheus counters (every worker process; see instruments.py on
PROMETHEUS_MULTIPROC_DIR)."""

import logging
import os
from pathlib import Path

from celery.signals import task_failure, task_retry, worker_process_shutdown, worker_ready

from marketplace.observability.instruments import CELERY_FAILURES, CELERY_RETRIES

logger = logging.getLogger(__name__)


@task_failure.connect(weak=False)
def _count_failure(sender=None, **kwargs):
    CELERY_FAILURES.labels(getattr(sender, "name", "unknown")).inc()


@task_retry.connect(weak=False)
def _count_retry(sender=None, **kwargs):
    CELERY_RETRIES.labels(getattr(sender, "name", "unknown")).inc()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# Where the Celery worker runs apart from the web server (its own container in docker compose), its
# counters cannot reach the web's /metrics: with CELERY_METRICS_PORT set, the worker's main process serves
# them itself, adding up its pool processes' values from PROMETHEUS_MULTIPROC_DIR (which the worker's
# environment must set before start, as prometheus-client picks its storage on import).
@worker_ready.connect(weak=False)
def _serve_worker_metrics(**kwargs):
    from django.conf import settings

    port = settings.CELERY_METRICS_PORT
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not port:
        return
    if not folder:
        logger.warning("CELERY_METRICS_PORT is set but PROMETHEUS_MULTIPROC_DIR is not: the pool's counters "
                       "cannot be added up; not serving worker metrics")
        return
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    # Values left by an earlier run of this worker would add up with this run's: files of processes that no
    # longer exist go (names end in _<pid>.db; the pool is already running, its files stay).
    Path(folder).mkdir(parents=True, exist_ok=True)
    for stale in Path(folder).glob("*.db"):
        pid = stale.stem.rpartition("_")[2]
        if pid.isdigit() and not _alive(int(pid)):
            stale.unlink(missing_ok=True)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(port, addr=settings.CELERY_METRICS_ADDR, registry=registry)
    logger.info("worker metrics on %s:%s", settings.CELERY_METRICS_ADDR, port)


@worker_process_shutdown.connect(weak=False)
def _pool_process_gone(pid=None, **kwargs):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
