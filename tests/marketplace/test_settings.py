"""Production settings refuse to start without a real SECRET_KEY."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

PRODUCTION_SETTINGS_VARIABLES = {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "STRIPE_WEBHOOK_SECRET",
                                 "STRIPE_API_BASE", "STRIPE_SECRET_KEY", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT"}
REAL_WEBHOOK_SECRET = "whsec_" + "Zq8" * 11
STRONG_SECRET_KEY = "kV3-pQ9_zR7-mW2_xT5-nB8_cY4-hJ6_fL1-gD0"


def _import_settings(**env):
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_SETTINGS_VARIABLES}
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


@pytest.mark.parametrize("weak", ["x" * 50, "abab" * 20, "django-insecure-" + "k2m4p6r8t0" * 4])
def test_production_with_an_obviously_weak_secret_key_refuses_to_start(weak):
    """Long enough, yet guessable: a few repeated characters, or Django's startproject key."""
    result = _import_settings(DEBUG="0", SECRET_KEY=weak, STRIPE_WEBHOOK_SECRET=REAL_WEBHOOK_SECRET)
    assert result.returncode != 0
    assert "SECRET_KEY is too weak" in result.stderr


@pytest.mark.parametrize(("name", "placeholder"), [
    ("SECRET_KEY", "change-me-to-at-least-32-random-characters"),  # .env.example's, 43 characters
    ("SECRET_KEY", "compose-local-secret-key-change-me-0123456789abcdef"),  # docker-compose.yml's old default
    ("SECRET_KEY", "replace_me_with_a_long_random_value_please_0123"),
    ("SECRET_KEY", "<your-secret-key-of-at-least-32-characters-here>"),
    ("STRIPE_WEBHOOK_SECRET", "whsec_..."),
    ("STRIPE_WEBHOOK_SECRET", "whsec_your_endpoint_signing_secret_here"),
    ("STRIPE_SECRET_KEY", "sk_live_..."),
])
@pytest.mark.parametrize("stripe_api_base", ["", "http://fakestripe:12111"])
def test_production_with_a_placeholder_from_the_template_refuses_to_start(name, placeholder, stripe_api_base):
    """.env.example copied to .env without an edit: its values are public. Refused with DEBUG=0, naming the
    setting, even against the bundled fake Stripe (which tolerates a public webhook secret, not a template)."""
    env = {"SECRET_KEY": STRONG_SECRET_KEY, "STRIPE_WEBHOOK_SECRET": REAL_WEBHOOK_SECRET,
           "STRIPE_SECRET_KEY": "sk_live_" + "Tq7" * 10, "STRIPE_API_BASE": stripe_api_base, name: placeholder}
    result = _import_settings(DEBUG="0", **env)
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name} is a placeholder ({placeholder!r}, as in .env.example)" in result.stderr
    # The same values are fine for development.
    assert _import_settings(DEBUG="1", **env).returncode == 0, result.stderr


def test_production_with_a_real_secret_key_starts():
    result = _import_settings(DEBUG="0", SECRET_KEY=STRONG_SECRET_KEY, STRIPE_WEBHOOK_SECRET=REAL_WEBHOOK_SECRET)
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
    jit_off = {"options": "-c jit=off"}
    assert _database_options() == {"server_side_binding": True, "prepare_threshold": 5, **jit_off}
    # Behind a pooler that cannot keep prepared statements (PgBouncer < 1.21 in transaction mode):
    assert _database_options(DB_PREPARE_THRESHOLD="0") == {"server_side_binding": True, "prepare_threshold": None,
                                                           **jit_off}
    assert _database_options(DB_SERVER_SIDE_BINDING="0") == jit_off
    # PgBouncer refuses the startup option: DB_JIT=1 sends none (jit is then set on the database).
    assert _database_options(DB_SERVER_SIDE_BINDING="0", DB_JIT="1") == {}


@pytest.mark.postgres
def test_postgresql_sessions_run_without_jit(db):
    """The work notifications' batch query spent 2 s in JIT compilation per batch (bench/scale_paths.py)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


def test_production_without_a_stripe_webhook_secret_refuses_to_start():
    result = _import_settings(DEBUG="0", SECRET_KEY=STRONG_SECRET_KEY)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "STRIPE_WEBHOOK_SECRET is not set" in result.stderr


@pytest.mark.parametrize("public", ["whsec_fake", "whsec_test", "whsec_...", "whsec_short",
                                    "whsec_compose_local_only_not_a_secret_0123456789"])
def test_production_with_a_public_stripe_webhook_secret_refuses_to_start(public):
    """Anyone who knows the secret can sign events (account.updated switching a worker's payouts off):
    a value written anywhere in the repository, or too short to be Stripe's, is refused."""
    result = _import_settings(DEBUG="0", SECRET_KEY=STRONG_SECRET_KEY, STRIPE_WEBHOOK_SECRET=public)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "STRIPE_WEBHOOK_SECRET" in result.stderr


def test_compose_public_webhook_secret_is_accepted_only_against_the_fake_stripe():
    """docker compose runs DEBUG=0 against the bundled fake Stripe (STRIPE_API_BASE set): no real money can
    move there, so its documented secret starts; the same secret against Stripe itself does not."""
    compose = "whsec_compose_local_only_not_a_secret_0123456789"
    assert _import_settings(DEBUG="0", SECRET_KEY=STRONG_SECRET_KEY, STRIPE_WEBHOOK_SECRET=compose,
                            STRIPE_API_BASE="http://fakestripe:12111").returncode == 0
    assert _import_settings(DEBUG="0", SECRET_KEY=STRONG_SECRET_KEY, STRIPE_WEBHOOK_SECRET=compose).returncode != 0


def _production_env(**env) -> dict:
    import secrets

    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_SETTINGS_VARIABLES}
    clean.update(DEBUG="0", SECRET_KEY=secrets.token_urlsafe(60), STRIPE_WEBHOOK_SECRET=REAL_WEBHOOK_SECRET,
                 ALLOWED_HOSTS="marketplace.example.com")
    clean.update(env)
    return clean


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    """`manage.py check --deploy` (HSTS, HTTPS redirect, secure cookies, SECRET_KEY, DEBUG, ALLOWED_HOSTS,
    and django-csp's own checks) finds nothing, warnings included, with the production settings a
    deployment sets: DEBUG=0, a real SECRET_KEY and webhook secret, ALLOWED_HOSTS. .ci/run runs it too."""
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                            env=_production_env(VAR_DIR=str(tmp_path)), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def _settings_value(expression: str, **env) -> str:
    result = subprocess.run([sys.executable, "-c", f"import marketplace.settings as s; print({expression})"], cwd=ROOT,
                            env=_production_env(**env), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_production_defaults_redirect_to_https_and_send_hsts_and_secure_cookies():
    assert _settings_value("(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
                           "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER)") == (
        "(True, 31536000, True, True, True, ('HTTP_X_FORWARDED_PROTO', 'https'))")
    # A plain-http local stack (docker compose) turns the redirect off; clients reaching the app directly
    # (no proxy) turn the proxy header off.
    assert _settings_value("(s.SECURE_SSL_REDIRECT, s.SECURE_PROXY_SSL_HEADER)", SECURE_SSL_REDIRECT="0",
                           SECURE_PROXY_SSL_HEADER="") == "(False, None)"


def test_the_image_build_step_loads_the_settings_without_production_secrets():
    """The Dockerfile runs collectstatic at build time, where no secret exists: its environment must load."""
    import re
    import shlex

    line = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if "collectstatic" in line
                and line.startswith("RUN"))
    words = shlex.split(line.removeprefix("RUN").split("python", 1)[0])
    env = dict(word.split("=", 1) for word in words if re.match(r"^\w+=", word))
    assert _import_settings(**env).returncode == 0
