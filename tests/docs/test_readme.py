"""The README, run as written: its ```sh blocks, in order, in one bash session, against a live `make run`
started here on free ports, in a copy of the repository (so a developer's var/ is never touched), with no
service and no internet.

Conventions the README follows (and this test enforces):
- a ```sh block is run; ```console (long-running or not-for-the-demo commands: `make run`, docker, a flag
  id you must first have), ```text, ```python and ```json blocks are not;
- every curl must answer below 400, except the answers listed in EXPECTED_ERRORS, which the README shows
  on purpose (allauth's 401 on signup, a 409 naming its conflict, ...).
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.readme, pytest.mark.slow]

# (URL regex, bash ERE: no \d, status) pairs the README shows on purpose.
EXPECTED_ERRORS = [
    (r"/_allauth/app/v1/auth/signup$", 401),  # allauth: account created, email verification pending
    (r"/_allauth/app/v1/auth/email/verify$", 401),  # verified, not signed in (no signup token sent)
    (r"/api/v1/assignments/[0-9]+/submit/$", 409),  # the second submit: already_submitted, naming the assignment
    (r"/api/v1/projects/[0-9]+/agreement/$", 404),  # agreement_not_computed until quality's next run
]
# What the run must have printed: the README's flows really happened, not just answered 2xx.
EXPECTED_OUTPUT = [
    '"passed":true', '"created":12', '"code":"already_submitted"', '"payouts_enabled":true',
    '"status":"approved"', "worker_email", 'data-figure="balance">',
]
SKIP_COPY = {".git", ".venv", "var", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", "bench"}

CURL_WRAPPER = r"""
set -euo pipefail
# curl as the README writes it, plus: fail the run on an answer >= 400 the README does not expect.
curl() {
  local out status url="" arg
  for arg in "$@"; do case "$arg" in http://*|https://*) url="$arg";; esac; done
  out=$(command curl -w '\n%{http_code}' "$@") || return $?
  status=${out##*$'\n'}
  printf '%s\n' "${out%$'\n'*}"
  if [ "$status" -ge 400 ] && ! expected_error "$url" "$status"; then
    echo "README: $url answered $status" >&2
    return 1
  fi
}
expected_error() {
  local path=${1%%\?*}
  case "$2" in
@CASES@
  esac
  return 1
}
"""


def sh_blocks(text: str) -> list[tuple[int, str]]:
    """The ```sh blocks of a Markdown text, with the line each starts on."""
    blocks = []
    for match in re.finditer(r"^```sh\n(.*?)^```", text, flags=re.S | re.M):
        blocks.append((text[: match.start()].count("\n") + 1, match.group(1)))
    return blocks


def _script(blocks) -> str:
    cases = []
    for status in sorted({s for _, s in EXPECTED_ERRORS}):
        patterns = [p for p, s in EXPECTED_ERRORS if s == status]
        test = " || ".join(f"[[ $path =~ {p} ]]" for p in patterns)
        cases.append(f"    {status}) if {test}; then return 0; fi;;")
    parts = [CURL_WRAPPER.replace("@CASES@", "\n".join(cases))]
    for line, body in blocks:
        parts.append(f"echo '### README.md line {line}'\n{body}")
    return "\n".join(parts)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env(**extra) -> dict:
    drop = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_QUEUE", "LOCAL_ENV_FILE", "VAR_DIR", "DEBUG",
            "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "PUBLIC_BASE_URL", "STRIPE_API_BASE", "STRIPE_SECRET_KEY",
            "STRIPE_WEBHOOK_SECRET", "PORT", "STRIPE_FAKE_PORT", "HOST", "MARKETPLACE_TEST_DB_NAME", "PYTHONPATH",
            "MARKETPLACE_DEV"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith(("PYTEST", "TEST_"))}
    env.update(extra)
    return env


def test_readme_blocks_follow_the_conventions():
    blocks = sh_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 8
    for line, body in blocks:
        assert not re.search(r"^\s*(make run|docker)", body, re.M), f"README.md line {line}: not runnable in order"
        assert not re.search(r"/(7|41|42|3)/", body), f"README.md line {line}: a made-up id; look it up instead"


@pytest.fixture
def live_stack(tmp_path):
    if not (shutil.which("make") and shutil.which("curl") and shutil.which("bash")):
        pytest.skip("needs make, curl and bash")
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, symlinks=True, ignore=lambda d, names: [n for n in names if n in SKIP_COPY])
    (repo / ".venv").symlink_to((ROOT / ".venv").resolve())
    port, stripe_port = _free_port(), _free_port()
    log = (tmp_path / "make-run.log").open("w")
    proc = subprocess.Popen(["make", "run", f"PORT={port}", f"STRIPE_FAKE_PORT={stripe_port}"], cwd=repo,
                            env=_clean_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"make run exited:\n{(tmp_path / 'make-run.log').read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"make run not healthy:\n{(tmp_path / 'make-run.log').read_text()[-4000:]}")
            time.sleep(0.5)
        yield repo, port, tmp_path / "make-run.log"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
        log.close()


def test_readme_runs_as_written_against_make_run(live_stack):
    repo, port, stack_log = live_stack
    script = _script(sh_blocks((repo / "README.md").read_text()))
    (repo / "readme-run.sh").write_text(script)
    result = subprocess.run(["bash", "readme-run.sh"], cwd=repo, env=_clean_env(), capture_output=True, text=True,
                            timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{output[-6000:]}\n--- make run:\n{stack_log.read_text()[-3000:]}"
    missing = [s for s in EXPECTED_OUTPUT if s not in output]
    assert missing == [], f"{missing} not in the output:\n{output[-6000:]}"
    # PORT is honoured everywhere: no link or printed line of this run mentions the default port.
    mails = "".join(p.read_text() for p in (repo / "var" / "mail").glob("*"))
    assert f"127.0.0.1:{port}/account/verify-email/" in mails and ":8000" not in mails
    assert ":8000" not in stack_log.read_text()
