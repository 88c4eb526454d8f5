"""A second `make run` never hurts the first (issue 32, item 4): before it migrates, seeds (which rotates the
demo client's API key), or rewrites var/local.env, it checks that no stack of this checkout is running
(var/make-run.pid) and that every port it binds is free, and refuses in one line saying what is in the way.

The make-run tests drive the real `make run` (in this checkout, with VAR_DIR in a temporary folder), on a
var/ that a first `make run` migrated and seeded."""

import hashlib
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing

import pytest

from marketplace import localenv
from tests.conftest import ROOT

NOT_FOR_THE_STACK = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_QUEUE", "LOCAL_ENV_FILE", "VAR_DIR",
                     "DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "PUBLIC_BASE_URL", "STRIPE_API_BASE",
                     "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "PORT", "STRIPE_FAKE_PORT", "HOST",
                     "MARKETPLACE_TEST_DB_NAME", "MARKETPLACE_DEV", "PYTHONPATH"}


def _env(var_dir, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in NOT_FOR_THE_STACK and not k.startswith(("PYTEST", "TEST_"))}
    env.update({"VAR_DIR": str(var_dir), **extra})
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _make_run(var_dir, *args, timeout=180, **extra) -> subprocess.CompletedProcess:
    """`make run` as a developer types it; -o: never reinstall the (shared) virtualenv from here."""
    process = subprocess.Popen(["make", "--no-print-directory", "-o", ".venv/.runtime-installed", "run", *args],
                               cwd=ROOT, env=_env(var_dir, **extra), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:  # today's behaviour: it went on to start a stack
        _stop(process)
        out, err = process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _stop(process) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _prepare_run(var_dir, *args, **extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "marketplace.localenv", "prepare-run", *args], cwd=ROOT,
                          env=_env(var_dir, **extra), capture_output=True, text=True, timeout=60)


def _own_lines(result) -> list[str]:
    """What the run said, without make's own "make: *** [run] Error 2"."""
    return [line for line in (result.stdout + result.stderr).splitlines()
            if line and not re.match(r"make(\[\d+\])?: ", line)]  # make[1]: under another make (make test)


def _snapshot(var_dir) -> dict:
    """Every file under var/: content and modification time."""
    return {str(p.relative_to(var_dir)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(var_dir.rglob("*")) if p.is_file()}


def _api_keys(var_dir) -> list[tuple]:
    """Read-only, closed at once: reading leaves the database files as they were."""
    with closing(sqlite3.connect(f"file:{var_dir / 'marketplace.sqlite3'}?mode=ro", uri=True)) as db:
        return db.execute("SELECT id, revoked FROM tasks_clientapikey ORDER BY created, id").fetchall()


@pytest.fixture(scope="module")
def seeded_var(tmp_path_factory):
    """var/ after a first `make run`'s preparation, migrate and seed_demo (its demo key printed)."""
    if shutil.which("make") is None:
        pytest.skip("needs make")
    var_dir = tmp_path_factory.mktemp("seeded") / "var"
    script = ('eval "$(.venv/bin/python -m marketplace.localenv prepare-run --port $P --stripe-fake-port $S)" && '
              ".venv/bin/python manage.py migrate --noinput >/dev/null && .venv/bin/python manage.py seed_demo")
    result = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env=_env(var_dir, P=str(_free_port()), S=str(_free_port())))
    assert result.returncode == 0, result.stderr
    key = next(line.rpartition(": ")[2] for line in result.stdout.splitlines() if "Client API key" in line)
    return var_dir, key


@pytest.fixture
def var_dir(seeded_var, tmp_path):
    copy = tmp_path / "var"
    shutil.copytree(seeded_var[0], copy)
    return copy


def _listening(host="127.0.0.1") -> socket.socket:
    listener = socket.socket()
    listener.bind((host, 0))
    listener.listen()
    return listener


@pytest.mark.slow
def test_a_second_make_run_on_a_taken_port_refuses_in_one_line_and_touches_nothing(var_dir):
    listener = _listening()  # the first stack's web server, or anything else
    port = listener.getsockname()[1]
    keys = _api_keys(var_dir)
    before = _snapshot(var_dir)
    try:
        result = _make_run(var_dir, f"PORT={port}", f"STRIPE_FAKE_PORT={_free_port()}")
    finally:
        listener.close()
    lines = _own_lines(result)
    assert result.returncode != 0
    assert len(lines) == 1, lines
    # Which port, which variable, which process (this one), and another port that is free.
    assert f"port {port} (PORT)" in lines[0] and f"in use by pid {os.getpid()}" in lines[0], lines
    assert "or use another port: make run PORT=" in lines[0]
    assert "Traceback" not in result.stderr and "Errno 98" not in result.stderr
    # Nothing migrated, seeded, rotated or rewritten: every file under var/ as it was, the demo key unrevoked.
    assert _snapshot(var_dir) == before
    assert _api_keys(var_dir) == keys and keys[-1][1] == 0


@pytest.mark.slow
def test_a_second_make_run_while_the_first_runs_refuses_and_the_first_key_stays_valid(var_dir):
    """The issue's case: the first terminal printed a key; a second `make run` on the same ports must not
    revoke it, nor move the first stack's ports in var/local.env."""
    port, stripe_port = _free_port(), _free_port()
    first = subprocess.Popen(["make", "-o", ".venv/.runtime-installed", "run", f"PORT={port}",
                              f"STRIPE_FAKE_PORT={stripe_port}"], cwd=ROOT, env=_env(var_dir),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        running = None
        while running is None or "honcho" not in running:  # past migrate and seed: the shell became honcho
            assert first.poll() is None, first.stdout.read()
            assert time.monotonic() < deadline, "the first make run never reached honcho"
            time.sleep(0.5)
            running = localenv.running_stack(var_dir)
        recorded = int(running.split()[1])  # make's shell, exec'd into honcho: the whole stack, until Ctrl-C
        assert localenv._proc_stat(recorded)[1] == str(first.pid)
        local_env = (var_dir / "local.env").read_bytes(), (var_dir / "local.env").stat().st_mtime_ns
        keys = _api_keys(var_dir)

        second = _make_run(var_dir, f"PORT={port}", f"STRIPE_FAKE_PORT={stripe_port}")
        lines = _own_lines(second)
        assert second.returncode != 0
        assert len(lines) == 1 and "already running as pid" in lines[0] and "honcho" in lines[0], lines
        assert ((var_dir / "local.env").read_bytes(), (var_dir / "local.env").stat().st_mtime_ns) == local_env
        assert _api_keys(var_dir) == keys and keys[-1][1] == 0  # the key the first run printed still works
        # Another port changes nothing: the same var/ (database, broker, local.env) is in use.
        other = _make_run(var_dir, f"PORT={_free_port()}", f"STRIPE_FAKE_PORT={_free_port()}")
        assert other.returncode != 0 and "already running" in other.stderr
        assert _api_keys(var_dir) == keys
    finally:
        _stop(first)


def test_a_bad_port_to_make_run_names_it_and_writes_nothing(tmp_path):
    var_dir = tmp_path / "var"
    result = _make_run(var_dir, "PORT=84OO")
    lines = _own_lines(result)
    assert result.returncode != 0
    assert lines == ["make run: PORT='84OO' (make run PORT=... or the environment): expected a port number "
                     "from 1 to 65535, like 8000"], lines
    assert "Traceback" not in result.stderr and not var_dir.exists()


def test_the_fake_stripe_port_is_checked_only_when_the_fake_server_runs(tmp_path):
    listener = _listening()
    taken = listener.getsockname()[1]
    try:
        result = _prepare_run(tmp_path, "--port", str(_free_port()), "--stripe-fake-port", str(taken))
        assert result.returncode != 0 and f"port {taken} (STRIPE_FAKE_PORT)" in result.stderr
        assert not (tmp_path / "local.env").exists() and not (tmp_path / "mail").exists()
        # A real Stripe key: no fake server, so its port is nobody's business.
        result = _prepare_run(tmp_path, "--port", str(_free_port()), "--stripe-fake-port", str(taken),
                              STRIPE_SECRET_KEY="sk_test_a_real_one")
        assert result.returncode == 0, result.stderr
    finally:
        listener.close()


def test_the_worker_metrics_port_is_checked_when_the_worker_serves_one(tmp_path):
    listener = _listening()
    taken = str(listener.getsockname()[1])
    ports = ("--port", str(_free_port()), "--stripe-fake-port", str(_free_port()))
    try:
        result = _prepare_run(tmp_path, *ports, CELERY_METRICS_PORT=taken, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
        assert result.returncode != 0 and f"port {taken} (CELERY_METRICS_PORT)" in result.stderr
        # Without PROMETHEUS_MULTIPROC_DIR the worker serves nothing (marketplace/observability/celery_signals.py).
        assert _prepare_run(tmp_path, *ports, CELERY_METRICS_PORT=taken).returncode == 0
    finally:
        listener.close()


def test_the_web_port_and_the_fake_stripe_port_must_differ(tmp_path):
    port = str(_free_port())
    result = _prepare_run(tmp_path, "--port", port, "--stripe-fake-port", port)
    assert result.returncode != 0 and f"PORT and STRIPE_FAKE_PORT are both {port}" in result.stderr


def test_a_listener_on_all_addresses_blocks_the_loopback_port_too(tmp_path):
    listener = _listening("0.0.0.0")
    try:
        port = listener.getsockname()[1]
        result = _prepare_run(tmp_path, "--port", str(port), "--stripe-fake-port", str(_free_port()))
        assert result.returncode != 0 and f"port {port} (PORT)" in result.stderr
    finally:
        listener.close()


def test_a_recorded_stack_that_is_gone_or_whose_pid_was_reused_is_no_obstacle(tmp_path):
    ports = ("--port", str(_free_port()), "--stripe-fake-port", str(_free_port()))
    sleeper = subprocess.Popen(["sleep", "60"], cwd=ROOT)
    try:
        localenv.record_run(tmp_path, sleeper.pid)
        result = _prepare_run(tmp_path, *ports)
        assert result.returncode != 0
        assert f"already running as pid {sleeper.pid} (sleep 60)" in result.stderr
        assert not (tmp_path / "local.env").exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert _prepare_run(tmp_path, *ports).returncode == 0  # it has exited: the record is stale
    # A live pid whose start time is not the recorded one: the stack's pid, reused by another process.
    (tmp_path / localenv.RUN_PID_FILE).write_text(f"{os.getpid()} 1\n")
    assert _prepare_run(tmp_path, *ports).returncode == 0
    (tmp_path / localenv.RUN_PID_FILE).write_text(f"{os.getpid()} {localenv._started(os.getpid())}\n")
    assert _prepare_run(tmp_path, *ports).returncode != 0


def test_prepare_run_records_the_stack_it_is_given(tmp_path):
    sleeper = subprocess.Popen(["sleep", "60"], cwd=ROOT)
    try:
        result = _prepare_run(tmp_path, "--port", str(_free_port()), "--stripe-fake-port", str(_free_port()),
                              "--run-pid", str(sleeper.pid))
        assert result.returncode == 0, result.stderr
        assert localenv.running_stack(tmp_path) == f"pid {sleeper.pid} (sleep 60)"
    finally:
        sleeper.kill()
        sleeper.wait()
    assert localenv.running_stack(tmp_path) is None
    # The Makefile hands it the shell that execs honcho ($$), so the record lasts as long as the stack.
    assert '--run-pid "$$$$"' in (ROOT / "Makefile").read_text()


def test_updating_local_env_keeps_your_lines_and_comments_where_they_are(tmp_path):
    ports = ("--stripe-fake-port", str(_free_port()))
    assert _prepare_run(tmp_path, "--port", str(_free_port()), *ports).returncode == 0
    local = tmp_path / "local.env"
    with local.open("a") as f:
        f.write("# my settings\nQUEUE_MAX_LIVE_CLAIMS=5\n")
    lines = local.read_text().splitlines()
    mtime = local.stat().st_mtime_ns
    port = lines[[line.split("=")[0] for line in lines].index("PORT")].split("=")[1]
    assert _prepare_run(tmp_path, "--port", port, *ports).returncode == 0
    assert local.stat().st_mtime_ns == mtime  # nothing changed, nothing written
    new_port = str(_free_port())
    assert _prepare_run(tmp_path, "--port", new_port, *ports).returncode == 0
    after = local.read_text().splitlines()
    assert len(after) == len(lines) and after[-2:] == ["# my settings", "QUEUE_MAX_LIVE_CLAIMS=5"]
    assert f"PORT={new_port}" in after and f"PUBLIC_BASE_URL=http://127.0.0.1:{new_port}" in after
