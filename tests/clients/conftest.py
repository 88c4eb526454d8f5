"""A live stack for the Python client's tests: the real `make run` (web server, Celery worker and beat, fake
Stripe; SQLite and the filesystem broker), started once per session from a copy of the repository on free
ports, so its var/ is its own and nothing of a developer's running stack is touched."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
# The stack reads its settings from the environment: drop what the test process has that is not the stack's.
_NOT_FOR_THE_STACK = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "TEST_DATABASE_URL", "TEST_DB_NAME", "REDIS_URL",
                      "CELERY_BROKER_URL", "VAR_DIR", "PORT", "WEB_PORT", "HOST", "STRIPE_FAKE_PORT",
                      "STRIPE_API_BASE", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "REQUIRE_SERVICES",
                      "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST", "LOCAL_ENV_FILE",
                      "DEBUG", "SECRET_KEY")  # tests/settings.py sets these for itself; the stack is make run's
STARTUP_SECONDS = 180


@dataclass
class LiveStack:
    url: str
    root: Path
    env: dict
    log: Path

    def manage(self, *args: str, timeout: float = 120) -> str:
        """Run manage.py in the stack's copy against its database; stdout."""
        done = subprocess.run([str(self.root / ".venv" / "bin" / "python"), "manage.py", *args], cwd=self.root,
                              env=self.env, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def client_key(self, name: str) -> str:
        return self.manage("create_client_key", name).strip().splitlines()[-1]

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _copy_repository(dest: Path) -> None:
    shutil.copytree(ROOT, dest, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "var", "__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache", ".hypothesis",
        "bench", "reports", "*.sqlite3", ".env"))  # a developer's .env could point the stack at their database
    (dest / ".venv").symlink_to(Path(sys.prefix).resolve())  # the virtualenv running these tests


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory):
    if shutil.which("make") is None:
        pytest.fail("`make` is needed to start the live stack (make run)")
    root = tmp_path_factory.mktemp("live-stack") / "app"
    _copy_repository(root)
    port, stripe_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in _NOT_FOR_THE_STACK}
    # MARKETPLACE_DEV=1: manage() is a later shell beside `make run`, reading its var/local.env (README).
    env.update({"HEARTBEAT_SECONDS": "5", "WEBHOOKS_BACKOFF_SECONDS": "1", "MARKETPLACE_DEV": "1"})
    log = root / "make-run.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(["make", "run", f"PORT={port}", f"STRIPE_FAKE_PORT={stripe_port}"], cwd=root,
                                   env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    stack = LiveStack(url=f"http://127.0.0.1:{port}", root=root, env=env, log=log)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"make run exited with {process.returncode}:\n{stack.log_tail()}")
            try:
                if requests.get(f"{stack.url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the stack did not answer /healthz within {STARTUP_SECONDS}s:\n{stack.log_tail()}")
            time.sleep(0.5)
        yield stack
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """honcho stops its processes on SIGTERM; the whole session (make, honcho, runserver, celery) is ours."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass
