"""Real faults for the tests and the fault bench: a Redis server of the test's own (killed and restarted
on the same port), and PostgreSQL connections terminated with pg_terminate_backend."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnRedis:
    """redis-server on a free port, persisted like a production broker should be (AOF, fsync on every
    write), so a kill -9 and restart keeps what was published before it."""

    def __init__(self, tmp_dir: Path):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise RuntimeError("redis-server is not installed: the fault tests start a Redis of their own")
        self.dir = tmp_dir / f"redis-{time.monotonic_ns()}"
        self.dir.mkdir(parents=True)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> OwnRedis:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=open(self.dir / "redis.log", "a"), stderr=subprocess.STDOUT,  # noqa: SIM115 - lives with it
            start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on {self.port}")

    def kill(self) -> None:
        """SIGKILL, as a crash (or an OOM kill) would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        self.kill()


def terminate_backends(db_name: str, *, except_pids: tuple[int, ...] = ()) -> int:
    """pg_terminate_backend on every connection to `db_name` but `except_pids`; returns how many."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    with psycopg.connect(host=db.get("HOST") or "127.0.0.1", port=db.get("PORT") or 5432, user=db.get("USER"),
                         password=db.get("PASSWORD") or None, dbname="postgres", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> ALL(%s) "
            "AND pid <> pg_backend_pid()", [db_name, list(except_pids)]).fetchall()
    return sum(1 for (ok,) in rows if ok)


class BackendTerminator:
    """A thread that terminates every other connection to the test database every `interval` seconds, for
    `seconds`: workers, the relay, anything but the test's own connection."""

    def __init__(self, db_name: str, *, keep_pid: int, seconds: float, interval: float = 0.25):
        self.db_name, self.keep_pid, self.seconds, self.interval = db_name, keep_pid, seconds, interval
        self.terminated = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        end = time.monotonic() + self.seconds
        while time.monotonic() < end:
            self.terminated += terminate_backends(self.db_name, except_pids=(self.keep_pid,))
            time.sleep(self.interval)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.thread.join()


def reset_broker_connections() -> None:
    """Forget this process' broker connections and producer pools (after pointing the Celery app at another
    broker, or after that broker died), so the next publish connects afresh."""
    from kombu import pools

    from marketplace.celery import app

    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    pools.reset()
