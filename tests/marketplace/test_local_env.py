"""var/local.env: written by `make run` on its first start, read by settings in any later shell."""

import os
import subprocess
import sys

from tests.conftest import ROOT


def _env(var_dir, **extra):
    env = {k: v for k, v in os.environ.items()
           if k not in {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "LOCAL_ENV_FILE", "PUBLIC_BASE_URL",
                        "STRIPE_API_BASE", "STRIPE_SECRET_KEY", "PORT", "STRIPE_FAKE_PORT", "MARKETPLACE_DEV",
                        "STRIPE_WEBHOOK_SECRET"}}
    env.update({"VAR_DIR": str(var_dir), **extra})
    return env


def _prepare_run(var_dir, *args, **extra):
    result = subprocess.run([sys.executable, "-m", "marketplace.localenv", "prepare-run", *args], cwd=ROOT,
                            env=_env(var_dir, **extra), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _settings(var_dir, expression, **extra):
    return subprocess.run([sys.executable, "-c", f"import marketplace.settings as s; print(repr(({expression},)))"],
                          cwd=ROOT, env=_env(var_dir, **extra), capture_output=True, text=True, timeout=60)


def _read(path):
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


def test_first_start_writes_a_secret_debug_and_the_ports_and_later_starts_keep_the_secret(tmp_path):
    exports = _prepare_run(tmp_path, "--port", "8100", "--stripe-fake-port", "12200")
    local = tmp_path / "local.env"
    first = _read(local)
    assert len(first["SECRET_KEY"]) >= 32 and first["DEBUG"] == "1"
    assert first["PORT"] == "8100" and first["PUBLIC_BASE_URL"] == "http://127.0.0.1:8100"
    assert first["STRIPE_API_BASE"] == "http://127.0.0.1:12200"
    assert oct(local.stat().st_mode & 0o777) == "0o600"  # it holds a secret
    assert "export WEB_PORT=8100" in exports and "export STRIPE_API_BASE=http://127.0.0.1:12200" in exports
    assert "stripe:" in (tmp_path / "Procfile").read_text()  # the fake Stripe server starts beside the app

    with local.open("a") as f:
        f.write("QUEUE_MAX_LIVE_CLAIMS=5\n")
    _prepare_run(tmp_path, "--port", "8300")  # another port; the fake Stripe port stays the file's
    second = _read(local)
    assert second["SECRET_KEY"] == first["SECRET_KEY"]
    assert second["PORT"] == "8300" and second["PUBLIC_BASE_URL"] == "http://127.0.0.1:8300"
    assert second["STRIPE_FAKE_PORT"] == "12200" and second["QUEUE_MAX_LIVE_CLAIMS"] == "5"
    _prepare_run(tmp_path)  # no port given: the file's
    assert _read(local)["PORT"] == "8300"


def test_a_new_shell_reads_the_file_and_the_environment_wins(tmp_path):
    # Before `make run`: production rules, and the message says how to get a key.
    result = _settings(tmp_path, "s.DEBUG")
    assert result.returncode != 0 and "make run" in result.stderr
    _prepare_run(tmp_path, "--port", "8100")
    result = _settings(tmp_path, "s.DEBUG, s.PUBLIC_BASE_URL, s.STRIPE_API_BASE, s.QUEUE_MAX_LIVE_CLAIMS",
                       MARKETPLACE_DEV="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(True, 'http://127.0.0.1:8100', 'http://127.0.0.1:12111', 3)"
    result = _settings(tmp_path, "s.DEBUG, s.PUBLIC_BASE_URL", DEBUG="0", PUBLIC_BASE_URL="https://m.example.com",
                       MARKETPLACE_DEV="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(False, 'https://m.example.com')"
    result = _settings(tmp_path, "s.DEBUG", LOCAL_ENV_FILE="", MARKETPLACE_DEV="1")  # none read: production
    assert result.returncode != 0


def test_a_real_stripe_key_runs_without_the_fake_server(tmp_path):
    exports = _prepare_run(tmp_path, STRIPE_SECRET_KEY="sk_test_a_real_one")
    assert "STRIPE_API_BASE" not in exports and "STRIPE_API_BASE" not in _read(tmp_path / "local.env")
    assert "stripe:" not in (tmp_path / "Procfile").read_text()


def test_simulate_finds_the_running_stack_without_flags(tmp_path):
    _prepare_run(tmp_path, "--port", "8100", "--stripe-fake-port", "12200")
    result = subprocess.run([sys.executable, "manage.py", "simulate", "--help"], cwd=ROOT,
                            env=_env(tmp_path, MARKETPLACE_DEV="1"),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "http://127.0.0.1:8100" in " ".join(result.stdout.split())


def test_make_run_exports_the_development_switch(tmp_path):
    assert "export MARKETPLACE_DEV=1" in _prepare_run(tmp_path).splitlines()


def test_without_the_development_switch_the_file_is_not_read(tmp_path):
    # A checkout that once ran `make run`: the file is there, with DEBUG=1 and a port of its own.
    _prepare_run(tmp_path, "--port", "8100")
    result = _settings(tmp_path, "s.DEBUG, s.PUBLIC_BASE_URL, s.STRIPE_API_BASE, s.LOCAL_ENV_READ",
                       SECRET_KEY="p0q1r2s3t4" * 5, STRIPE_WEBHOOK_SECRET="whsec_" + "r" * 30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(False, 'http://127.0.0.1:8000', '', False)"
    for off in ("0", "", "no"):
        result = _settings(tmp_path, "s.DEBUG", MARKETPLACE_DEV=off, SECRET_KEY="p0q1r2s3t4" * 5,
                           STRIPE_WEBHOOK_SECRET="whsec_" + "r" * 30)
        assert result.stdout.strip() == "(False,)", (off, result.stderr)


def test_a_production_start_with_the_file_and_no_secret_refuses_and_says_why(tmp_path):
    _prepare_run(tmp_path)
    local = str(tmp_path / "local.env")
    # No webhook secret: the file's public whsec_fake (and its fake STRIPE_API_BASE) must not count.
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                            env=_env(tmp_path, DEBUG="0", SECRET_KEY="p0q1r2s3t4" * 5), timeout=120)
    assert result.returncode != 0
    assert "STRIPE_WEBHOOK_SECRET is not set" in result.stderr
    assert f"{local} exists but is not read" in result.stderr and "MARKETPLACE_DEV=1" in result.stderr
    # No SECRET_KEY and no DEBUG: the file's generated key and DEBUG=1 must not count either.
    result = _settings(tmp_path, "s.DEBUG", STRIPE_WEBHOOK_SECRET="whsec_" + "r" * 30)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr and f"{local} exists but is not read" in result.stderr
