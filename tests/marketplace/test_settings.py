"""Production settings refuse to start without a real SECRET_KEY."""

import os
import subprocess
import sys

from tests.conftest import ROOT


def _import_settings(**env):
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE"}}
    clean.update(env)
    return subprocess.run([sys.executable, "-c", "import marketplace.settings"], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=60)


def test_production_without_secret_key_refuses_to_start():
    result = _import_settings(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_with_a_weak_secret_key_refuses_to_start():
    result = _import_settings(DEBUG="0", SECRET_KEY="short")
    assert result.returncode != 0
    assert "too weak" in result.stderr


def test_production_with_a_real_secret_key_starts():
    result = _import_settings(DEBUG="0", SECRET_KEY="x" * 50)
    assert result.returncode == 0, result.stderr


def test_debug_runs_without_a_secret_key():
    assert _import_settings(DEBUG="1").returncode == 0


def _database_options(**env) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", "import marketplace.settings as s; print(s.DATABASES['default'].get('OPTIONS', {}))"],
        cwd=ROOT, env={**os.environ, "DEBUG": "1", "DATABASE_URL": "postgres://u@127.0.0.1:5432/db", **env},
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return eval(result.stdout)  # noqa: S307 - our own settings' repr


def test_postgresql_binds_server_side_and_prepares_by_default_with_switches_for_poolers():
    assert _database_options() == {"server_side_binding": True, "prepare_threshold": 5}
    # Behind a pooler that cannot keep prepared statements (PgBouncer < 1.21 in transaction mode):
    assert _database_options(DB_PREPARE_THRESHOLD="0") == {"server_side_binding": True, "prepare_threshold": None}
    assert _database_options(DB_SERVER_SIDE_BINDING="0") == {}
