"""Running Markdown shell blocks as written: shared by the README's test and the guides' test.

Conventions the README and the guides under docs/ follow (and the tests enforce):
- a ```sh block is run; ```console (long-running or not-for-the-demo commands: `make run`, docker, a flag
  id you must first have), ```text, ```python and ```json blocks are not;
- the blocks of one file run in order in one bash session, from the repository's folder, beside a live
  `make run` started on free ports in a copy of the repository (its own var/), with no internet;
- every curl must answer below 400, except the answers a file shows on purpose (its expected errors).
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import ROOT

SKIP_COPY = {".git", ".venv", "var", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", "bench"}

CURL_WRAPPER = r"""
set -euo pipefail
# curl as the docs write it, plus: fail the run on an answer >= 400 the file does not expect.
curl() {
  local out status url="" arg
  for arg in "$@"; do case "$arg" in http://*|https://*) url="$arg";; esac; done
  out=$(command curl -w '\n%{http_code}' "$@") || return $?
  status=${out##*$'\n'}
  printf '%s\n' "${out%$'\n'*}"
  if [ "$status" -ge 400 ] && ! expected_error "$url" "$status"; then
    echo "@NAME@: $url answered $status" >&2
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


def script(blocks, *, name: str, expected_errors) -> str:
    """One bash script: the curl wrapper, then each (file name, line, body) block, announced."""
    cases = []
    for status in sorted({s for _, s in expected_errors}):
        patterns = [p for p, s in expected_errors if s == status]
        test = " || ".join(f"[[ $path =~ {p} ]]" for p in patterns)
        cases.append(f"    {status}) if {test}; then return 0; fi;;")
    parts = [CURL_WRAPPER.replace("@CASES@", "\n".join(cases)).replace("@NAME@", name)]
    for source, line, body in blocks:
        parts.append(f"echo '### {source} line {line}'\n{body}")
    return "\n".join(parts)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra) -> dict:
    drop = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_QUEUE", "LOCAL_ENV_FILE", "VAR_DIR", "DEBUG",
            "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "PUBLIC_BASE_URL", "STRIPE_API_BASE", "STRIPE_SECRET_KEY",
            "STRIPE_WEBHOOK_SECRET", "PORT", "STRIPE_FAKE_PORT", "HOST", "MARKETPLACE_TEST_DB_NAME", "PYTHONPATH",
            "MARKETPLACE_DEV"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith(("PYTEST", "TEST_"))}
    env.update(extra)
    return env


@contextmanager
def live_make_run(tmp_path: Path):
    """`make run` on free ports in a copy of the repository under tmp_path; yields (repo, port, log path)."""
    if not (shutil.which("make") and shutil.which("curl") and shutil.which("bash")):
        pytest.skip("needs make, curl and bash")
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, symlinks=True, ignore=lambda d, names: [n for n in names if n in SKIP_COPY])
    (repo / ".venv").symlink_to((ROOT / ".venv").resolve())
    port, stripe_port = free_port(), free_port()
    log_path = tmp_path / "make-run.log"
    log = log_path.open("w")
    proc = subprocess.Popen(["make", "run", f"PORT={port}", f"STRIPE_FAKE_PORT={stripe_port}"], cwd=repo,
                            env=clean_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"make run exited:\n{log_path.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"make run not healthy:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.5)
        yield repo, port, log_path
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


def run_script(repo: Path, text: str, *, name: str, timeout: int = 300) -> subprocess.CompletedProcess:
    path = repo / f"{name.replace('/', '-')}-run.sh"
    path.write_text(text)
    return subprocess.run(["bash", path.name], cwd=repo, env=clean_env(), capture_output=True, text=True,
                          timeout=timeout)
