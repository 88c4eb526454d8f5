"""/metrics under gunicorn with several workers (gunicorn_conf.py): requests spread over the workers all
show in one scrape, because prometheus-client runs in multiprocess mode."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_counters_of_every_gunicorn_worker_add_up(tmp_path):
    gunicorn = Path(sys.executable).parent / "gunicorn"
    if not gunicorn.exists():
        pytest.skip("gunicorn is not installed in this environment")
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL",
                                                            "CELERY_BROKER_URL", "PROMETHEUS_MULTIPROC_DIR"}}
    env.update({"DEBUG": "1", "LOCAL_ENV_FILE": "", "VAR_DIR": str(tmp_path), "METRICS_TOKEN": "gunicorn-test-token",
                "DJANGO_SETTINGS_MODULE": "marketplace.settings", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")})
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    port = _free_port()
    server = subprocess.Popen([str(gunicorn), "marketplace.wsgi", "-c", "gunicorn_conf.py", "--bind",
                               f"127.0.0.1:{port}", "--workers", "3"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # Probe another view: a slow healthz probe given up on here would still be counted later,
                # after `before` below, and the sum would be off by one.
                urllib.request.urlopen(f"{base}/static/no-such-file.txt", timeout=5).read()
                break
            except urllib.error.HTTPError:
                break  # the server answered (404): it is up
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

        def healthz_count() -> float:
            request = urllib.request.Request(f"{base}/metrics",
                                             headers={"Authorization": "Bearer gunicorn-test-token"})
            text = urllib.request.urlopen(request, timeout=30).read().decode()
            return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                       if line.startswith("django_http_requests_total_by_view_transport_method_total")
                       and 'view="healthz"' in line)

        before = healthz_count()  # 0 unless something else asked
        for _ in range(30):  # spread by the kernel over the 3 workers
            urllib.request.urlopen(f"{base}/healthz", timeout=30).read()
        assert healthz_count() - before == 30
        pids = {name.split("_")[-1] for name in os.listdir(tmp_path / "prom")}
        assert len(pids) >= 2, pids  # more than one worker answered, and all were counted
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(tmp_path / "prom", ignore_errors=True)
