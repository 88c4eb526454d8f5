"""A typo in a setting says where it is (issue 32, item 5): a bad value stops the start with one
ImproperlyConfigured line naming the setting, its source (var/local.env and the line, or the environment) and
what is expected; `make run` prints that line alone, before migrate; a name in var/local.env that no setting
reads is reported with the likely intended one."""

import ast
import os
import re
import subprocess
import sys

import pytest

from marketplace import localenv
from tests.conftest import ROOT

NOT_FOR_THE_STACK = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_QUEUE", "LOCAL_ENV_FILE", "VAR_DIR",
                     "DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "PUBLIC_BASE_URL", "STRIPE_API_BASE",
                     "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "PORT", "STRIPE_FAKE_PORT", "HOST",
                     "MARKETPLACE_TEST_DB_NAME", "MARKETPLACE_DEV", "EMAIL_USE_TLS", "QUEUE_TIME_SCALE",
                     "QUEUE_MAX_LIVE_CLAIMS"}


def _env(var_dir, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in NOT_FOR_THE_STACK}
    env.update({"VAR_DIR": str(var_dir), **extra})
    return env


def _prepare_run(var_dir, *args, **extra) -> subprocess.CompletedProcess:
    """make run's preparation step: what runs before migrate."""
    return subprocess.run([sys.executable, "-m", "marketplace.localenv", "prepare-run", "--port", "8745",
                           "--stripe-fake-port", "8746", *args], cwd=ROOT, env=_env(var_dir, **extra),
                          capture_output=True, text=True, timeout=60)


def _settings(var_dir, **extra) -> subprocess.CompletedProcess:
    """A later shell's manage.py command: the settings under the development switch."""
    return subprocess.run([sys.executable, "-c", "import marketplace.settings"], cwd=ROOT,
                          env=_env(var_dir, MARKETPLACE_DEV="1", **extra), capture_output=True, text=True, timeout=60)


def _add_line(var_dir, line: str) -> int:
    """Appends a line to var/local.env (written by a first make run); returns its number."""
    local = var_dir / "local.env"
    if not local.exists():
        assert _prepare_run(var_dir).returncode == 0
    with local.open("a") as f:
        f.write(line + "\n")
    return len(local.read_text().splitlines())


def _refusal(result) -> str:
    """make run's one line, with nothing else (no traceback, no second line)."""
    assert result.returncode != 0
    assert result.stdout == "", result.stdout  # no exports: make stops here, before migrate
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("make run: ")
    return lines[0].removeprefix("make run: ")


@pytest.mark.parametrize(("line", "expected"), [
    ("QUEUE_MAX_LIVE_CLAIMS=3x", "QUEUE_MAX_LIVE_CLAIMS='3x' ({file}, line {n}): expected a whole number, like 10"),
    ("QUEUE_TIME_SCALE=3OO", "QUEUE_TIME_SCALE='3OO' ({file}, line {n}): expected a number, like 0.5 or 300"),
    ("QUEUE_TIME_SCALE=nan", "QUEUE_TIME_SCALE='nan' ({file}, line {n}): expected a number, like 0.5 or 300"),
    ("QUEUE_TIME_SCALE=0", "QUEUE_TIME_SCALE='0' ({file}, line {n}): expected a number above 0, like 1 or 300"),
    ("EMAIL_USE_TLS=ture", "EMAIL_USE_TLS='ture' ({file}, line {n}): expected 1, true, yes or on, or 0, false, no "
                           "or off"),
    ("PAY_PENDING_ON_FLAG=hodl", "PAY_PENDING_ON_FLAG='hodl' ({file}, line {n}): expected hold or reverse"),
    ("PORT=84OO", "PORT='84OO' ({file}, line {n}): expected a port number from 1 to 65535, like 8000"),
])
def test_a_bad_value_in_local_env_names_the_setting_the_file_and_line_and_what_is_expected(tmp_path, line,
                                                                                          expected):
    number = _add_line(tmp_path, line)
    local = tmp_path / "local.env"
    args = ("--port", "") if line.startswith("PORT=") else ()  # PORT from the file, not from make's command line
    message = expected.format(file=local, n=number)
    assert _refusal(_prepare_run(tmp_path, *args)) == message
    if not line.startswith("PORT="):  # PORT is make run's, not a Django setting
        # A later shell sees the same message (SettingError is an ImproperlyConfigured).
        result = _settings(tmp_path)
        assert result.returncode != 0 and f"SettingError: {message}" in result.stderr


def test_a_bad_value_from_the_environment_says_so(tmp_path):
    assert _refusal(_prepare_run(tmp_path, EMAIL_USE_TLS="of")) == (
        "EMAIL_USE_TLS='of' (the environment): expected 1, true, yes or on, or 0, false, no or off")
    # The environment wins over the file, and the message names the value that counted.
    _add_line(tmp_path, "QUEUE_MAX_LIVE_CLAIMS=4")
    assert _refusal(_prepare_run(tmp_path, QUEUE_MAX_LIVE_CLAIMS="four")) == (
        "QUEUE_MAX_LIVE_CLAIMS='four' (the environment): expected a whole number, like 10")


def test_a_bad_database_url_names_its_scheme_never_its_password(tmp_path):
    message = _refusal(_prepare_run(tmp_path, DATABASE_URL="postgress://app:s3cret-pw@db.example.com:5432/app"))
    assert message == ("DATABASE_URL (the environment): expected postgres://USER:PASSWORD@HOST:5432/NAME or "
                       "sqlite:///PATH; the scheme 'postgress' is unknown (did you mean postgres?)")
    number = _add_line(tmp_path, "DATABASE_URL=postgres://app:s3cretpw@db:54x2/app")  # a port that is no number
    message = _refusal(_prepare_run(tmp_path))
    assert message.startswith(f"DATABASE_URL ({tmp_path / 'local.env'}, line {number}): expected postgres://")
    assert "not a valid URL" in message and "s3cret" not in message


def test_a_bad_json_setting_says_where_the_json_breaks(tmp_path):
    number = _add_line(tmp_path, 'QUALITY_RULES={"fast": {"median_seconds_below": 3}')
    message = _refusal(_prepare_run(tmp_path))
    assert message.startswith(f"QUALITY_RULES='{{\"fast\": {{\"median_seconds_below\": 3}}' "
                              f"({tmp_path / 'local.env'}, line {number}): expected JSON")
    assert message.endswith("(Expecting ',' delimiter: line 1 column 37 (char 36))")


def test_an_unknown_name_in_local_env_is_reported_with_the_likely_setting(tmp_path):
    typo = _add_line(tmp_path, "QUEUE_MAX_LIVE_CLAIM=5")
    unknown = _add_line(tmp_path, "NOT_A_THING=1")
    spaced = _add_line(tmp_path, "QUEUE_TIME_SCALE = 300")
    result = _prepare_run(tmp_path)
    assert result.returncode == 0, result.stderr  # a warning: the run goes on
    local = tmp_path / "local.env"
    assert result.stderr.splitlines() == [
        f"make run: warning: {local}, line {typo}: QUEUE_MAX_LIVE_CLAIM is not a setting, ignored; did you mean "
        "QUEUE_MAX_LIVE_CLAIMS?",
        f"make run: warning: {local}, line {unknown}: NOT_A_THING is not a setting, ignored (README.md, Settings, "
        "lists them)",
        f"make run: warning: {local}, line {spaced}: not a NAME=value line (no spaces around =), ignored",
    ]
    assert "export MARKETPLACE_DEV=1" in result.stdout


def test_what_make_run_writes_and_every_documented_setting_is_known():
    """No warning for a line make run wrote, or for any setting of README's table (a name read only on some
    path, e.g. PostgreSQL's, must still count)."""
    import marketplace.settings as s  # loaded by the test settings

    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Settings"):readme.index("## Full stack with docker compose")]
    documented = {name for row in table.splitlines() if row.startswith("| `")
                  for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}
    assert len(documented) > 100
    known = s._ENV_NAMES_READ | localenv.NAMES_READ_ELSEWHERE
    assert documented - known == set()
    written = ["SECRET_KEY", "DEBUG", "PORT", "STRIPE_FAKE_PORT", "PUBLIC_BASE_URL", "STRIPE_WEBHOOK_SECRET",
               "WEBHOOKS_ALLOW_PRIVATE_URLS", "SECURE_SSL_REDIRECT", "STRIPE_API_BASE"]
    assert set(written) - known == set()


def test_settings_read_the_environment_only_through_the_helpers():
    """A raw os.environ read would escape both the one-line errors and the unknown-name report."""
    tree = ast.parse((ROOT / "marketplace" / "settings.py").read_text())
    raw = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            continue  # the helpers
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and sub.attr == "environ" and getattr(sub.value, "id", "") == "os":
                raw.append(node.lineno)
            if isinstance(sub, ast.Call) and getattr(sub.func, "id", "") in {"int", "float"} and sub.args and \
                    "environ" in ast.dump(sub.args[0]):
                raw.append(node.lineno)
    var_dir_line = next(n.lineno for n in tree.body if isinstance(n, ast.Assign)
                        and getattr(n.targets[0], "id", "") == "VAR_DIR")  # read before the file, by localenv too
    assert sorted(set(raw)) == [var_dir_line]


def test_the_message_is_one_line_even_for_a_long_value():
    error = localenv.SettingError("QUALITY_RULES", "the environment", "JSON", "{" + "x" * 500 + "\n}")
    assert "\n" not in str(error) and len(str(error)) < 200
