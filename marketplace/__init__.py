import os

# prometheus-client in multiprocess mode writes to this folder from the first metric on and fails if it is
# missing (a Celery worker or manage.py started with the variable set): make sure it exists. Emptying it is
# the deployment's job (gunicorn_conf.py does it for gunicorn); docs/operations.md.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from .celery import app as celery_app  # noqa: E402

__all__ = ["celery_app"]
