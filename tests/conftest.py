"""Shared fixtures: API clients, signed-in people of each role, and a real Celery worker process."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery-staple"
AUTH = "/_allauth/app/v1/auth"


@pytest.fixture
def api():
    return APIClient()


def signup_and_verify(client: APIClient, email: str, password: str = PASSWORD) -> str:
    """The real allauth headless flow: signup -> mail -> verify. Returns the session token."""
    mail.outbox.clear()
    response = client.post(f"{AUTH}/signup", {"email": email, "password": password}, format="json")
    assert response.status_code == 401, response.content  # pending email verification
    token = response.json()["meta"]["session_token"]
    key = verification_key_from_mail(email)
    response = client.post(f"{AUTH}/email/verify", {"key": key}, format="json", HTTP_X_SESSION_TOKEN=token)
    assert response.status_code == 200, response.content
    return response.json()["meta"]["session_token"]


def verification_key_from_mail(email: str) -> str:
    messages = [m for m in mail.outbox if email in m.to]
    assert messages, f"no mail to {email}"
    match = re.search(r"/account/verify-email/(\S+)", messages[-1].body)
    assert match, messages[-1].body
    from urllib.parse import unquote

    return unquote(match.group(1))


def login(client: APIClient, email: str, password: str = PASSWORD) -> str:
    response = client.post(f"{AUTH}/login", {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["meta"]["session_token"]


def make_user(email: str, *, verified: bool = True, groups: tuple[str, ...] = (), password: str = PASSWORD):
    from allauth.account.models import EmailAddress
    from django.contrib.auth.models import Group

    from marketplace.models import User

    user = User.objects.create_user(email=email, password=password, is_staff=bool(groups))
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


class Person:
    """A signed-in person: the user row and an APIClient that sends their X-Session-Token."""

    def __init__(self, user, token):
        self.user = user
        self.token = token
        self.client = APIClient()
        self.client.credentials(HTTP_X_SESSION_TOKEN=token)

    def get(self, path, **kw):
        return self.client.get(path, **kw)

    def post(self, path, data=None, **kw):
        kw.setdefault("format", "json")
        return self.client.post(path, data, **kw)

    def patch(self, path, data=None, **kw):
        kw.setdefault("format", "json")
        return self.client.patch(path, data, **kw)

    def delete(self, path, data=None, **kw):
        kw.setdefault("format", "json")
        return self.client.delete(path, data, **kw)


@pytest.fixture
def person(db):
    """Factory: person("a@example.com", groups=("ops",)) -> a signed-in Person (real allauth login)."""

    def make(email: str, *, groups: tuple[str, ...] = (), verified: bool = True) -> Person:
        user = make_user(email, groups=groups, verified=verified)
        token = login(APIClient(), email)
        return Person(user, token)

    return make


@pytest.fixture
def ops(person):
    return person("ops@example.com", groups=("ops",))


@pytest.fixture
def finance(person):
    return person("finance@example.com", groups=("finance",))


def _wait_for_worker(proc, log_path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{log_path.read_text()[-4000:]}")
        if log_path.exists() and "ready." in log_path.read_text():
            return
        time.sleep(0.2)
    raise RuntimeError(f"celery worker not ready after {timeout}s:\n{log_path.read_text()[-4000:]}")


def service_env(db_name: str, **extra: str) -> dict:
    """The environment of a process the tests start (worker, relay): the test database, the run's queue."""
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "MARKETPLACE_TEST_DB_NAME": db_name,
        "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONPATH": str(ROOT),
    })
    env.update(extra)
    return env


class CeleryWorker:
    """A real `celery worker` process on the test run's Redis queue and the test database, with the outbox
    relay (`manage.py outbox_relay`) beside it as in production: jobs that services record in the outbox
    reach the worker through the relay."""

    def __init__(self, tmp_dir: Path, db_name: str, concurrency: int = 2, env: dict | None = None,
                 with_relay: bool = True):
        self.tmp_dir = tmp_dir
        self.db_name = db_name
        self.concurrency = concurrency
        self.extra_env = env or {}
        self.proc = None
        self.relay = OutboxRelay(tmp_dir, db_name, env=self.extra_env) if with_relay else None
        self.log_path = tmp_dir / f"celery-worker-{time.monotonic_ns()}.log"

    def start(self):
        env = service_env(self.db_name, **self.extra_env)
        self.log = open(self.log_path, "a")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "marketplace", "worker", "-Q", settings.CELERY_TASK_DEFAULT_QUEUE,
             "-c", str(self.concurrency), "--pool", "prefork", "-l", "info", "--without-gossip", "--without-mingle",
             "-n", f"test-{os.getpid()}-{time.monotonic_ns()}@%h"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        _wait_for_worker(self.proc, self.log_path)
        if self.relay is not None and (self.relay.proc is None or self.relay.proc.poll() is not None):
            self.relay.start()
        return self

    def kill(self, sig=signal.SIGKILL):
        """Kill the whole process group (main process and pool children), as a crash would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def stop(self):
        if self.relay is not None:
            self.relay.stop()
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if getattr(self, "log", None):
            self.log.close()


class OutboxRelay:
    """A real `manage.py outbox_relay` process on the test database (marketplace.outbox)."""

    def __init__(self, tmp_dir: Path, db_name: str, env: dict | None = None):
        self.db_name = db_name
        self.extra_env = env or {}
        self.proc = None
        self.log_path = tmp_dir / f"outbox-relay-{time.monotonic_ns()}.log"

    def start(self):
        self.log = open(self.log_path, "a")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "outbox_relay", "--poll", "0.2"],
            cwd=ROOT, env=service_env(self.db_name, **self.extra_env), stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 30
        while "outbox relay ready." not in self.log_path.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"outbox relay did not start:\n{self.log_path.read_text()[-4000:]}")
            time.sleep(0.1)
        return self

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "log", None):
            self.log.close()


def _purge_test_queue() -> None:
    """Drop jobs earlier tests enqueued on commit with no worker running (their rows are gone): a worker
    started now should only see this test's jobs, not chew through a backlog first."""
    from marketplace.celery import app

    with app.connection_for_write() as conn:
        try:
            conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
        except Exception:  # noqa: BLE001 - the queue may not exist yet; nothing to purge then
            pass


@pytest.fixture
def celery_worker(transactional_db, tmp_path):
    """Starts a real Celery worker for one test (data must be committed: transactional_db)."""
    from django.db import connection

    from tests import settings as test_settings

    if not test_settings.HAS_REDIS or not test_settings.HAS_POSTGRES:
        pytest.skip("a real Celery worker needs Redis and PostgreSQL")
    _purge_test_queue()
    worker = CeleryWorker(tmp_path, connection.settings_dict["NAME"]).start()
    yield worker
    worker.stop()


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
