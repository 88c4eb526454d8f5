"""The README, run as written: its ```sh blocks, in order, in one bash session, against a live `make run`
started here on free ports, in a copy of the repository (so a developer's var/ is never touched), with no
service and no internet.

The conventions (which blocks run, which errors may answer): tests/docs/shell_docs.py. The guides under
docs/ run the same way: tests/docs/test_guides.py.
"""

import re

import pytest

from tests.conftest import ROOT
from tests.docs.shell_docs import live_make_run, run_script, script, sh_blocks

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
def test_readme_blocks_follow_the_conventions():
    blocks = sh_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 8
    for line, body in blocks:
        assert not re.search(r"^\s*(make run|docker)", body, re.M), f"README.md line {line}: not runnable in order"
        assert not re.search(r"/(7|41|42|3)/", body), f"README.md line {line}: a made-up id; look it up instead"


@pytest.fixture
def live_stack(tmp_path):
    with live_make_run(tmp_path) as stack:
        yield stack


def test_readme_runs_as_written_against_make_run(live_stack):
    repo, port, stack_log = live_stack
    blocks = [("README.md", line, body) for line, body in sh_blocks((repo / "README.md").read_text())]
    result = run_script(repo, script(blocks, name="README", expected_errors=EXPECTED_ERRORS), name="readme")
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{output[-6000:]}\n--- make run:\n{stack_log.read_text()[-3000:]}"
    missing = [s for s in EXPECTED_OUTPUT if s not in output]
    assert missing == [], f"{missing} not in the output:\n{output[-6000:]}"
    # PORT is honoured everywhere: no link or printed line of this run mentions the default port.
    mails = "".join(p.read_text() for p in (repo / "var" / "mail").glob("*"))
    assert f"127.0.0.1:{port}/account/verify-email/" in mails and ":8000" not in mails
    assert ":8000" not in stack_log.read_text()
