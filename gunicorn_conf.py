"""gunicorn settings for /metrics with several worker processes (`gunicorn -c gunicorn_conf.py`, as the
Dockerfile and docker compose run it; not named gunicorn.conf.py, so a gunicorn started here without -c, as
bench/claim_load.py does, stays as it was). It lives outside the marketplace package on purpose: importing that
package in gunicorn's master would create metric files before the folder below is emptied.

prometheus-client keeps counters in each process's memory; a scrape lands on one worker and would see only
its share. In multiprocess mode each process writes its values to files in PROMETHEUS_MULTIPROC_DIR and
/metrics adds them up (marketplace/observability/views.py). The folder must be emptied before the workers
start (stale files from an earlier run would add up too), and a worker's files are marked dead when it exits.
"""

import os
import shutil
import tempfile

# A folder of this master's own by default: two gunicorns on one host never empty each other's.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR",
                      os.path.join(tempfile.gettempdir(), f"marketplace-prometheus-{os.getpid()}"))
# Read once, by the master, before it forks the workers.
shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


def child_exit(server, worker):
    # Imported here, not above: prometheus-client picks its storage when first imported, which must be
    # after PROMETHEUS_MULTIPROC_DIR is set.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
