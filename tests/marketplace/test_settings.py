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
