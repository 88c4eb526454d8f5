"""Every guide under docs/, run as written: its ```sh blocks, in order, in one bash session per guide,
after README section 0 (which sets B, pick, login, OPS, FIN1, FIN2, KEY and H; every guide says so at its
top), against one live `make run` shared by all guides (started here on free ports in a copy of the
repository, with no service and no internet), in the order of GUIDES.

The conventions (which blocks run, which errors may answer) are the README's: tests/docs/shell_docs.py.
A guide with no ```sh block (design.md, scaling.md, ...) has nothing to run and is skipped by that rule.
"""

import re
import shutil
from dataclasses import dataclass, field

import pytest

from tests.conftest import ROOT
from tests.docs.shell_docs import live_make_run, run_script, script, sh_blocks

pytestmark = [pytest.mark.readme, pytest.mark.slow]

SIGNUP_401 = (r"/_allauth/app/v1/auth/signup$", 401)  # allauth: account created, email verification pending
VERIFY_401 = (r"/_allauth/app/v1/auth/email/verify$", 401)  # verified, not signed in (no signup token sent)


@dataclass(frozen=True)
class Guide:
    # (URL regex, bash ERE: no \d, status) pairs the guide shows on purpose.
    expected_errors: list = field(default_factory=list)
    # What the run must have printed: the guide's flows really happened, not just answered 2xx.
    expected_output: list = field(default_factory=list)
    # Programs the guide needs besides make, curl and bash (skipped without them, as tests/sandbox/ is).
    needs: tuple = ()


# Run in this order, each in a fresh shell, on the same stack: a guide may rely on the demo data only, never
# on what another guide did (each signs up its own workers and makes its own projects).
GUIDES = {
    "workers.md": Guide([SIGNUP_401], ['"passed":true', '"is_active":false', '"removed":[', '"status":"suspended"']),
    "queue.md": Guide([], ['"judgment":{', '"status":"released"']),
    "tasks.md": Guide([], ['"created":2', 'X-Export-Pairs: 0', '"event_type": "task.completed", "verified": true']),
    "payments.md": Guide([(r"/api/v1/ledger-adjustments/[0-9]+/approve/$", 409)],
                         ['"payouts_enabled":true', '"status":"completed"', '"ok":true', '"paid_cents":1500',
                          '"code":"adjustment_not_pending"']),
    "quality.md": Guide([], ['"count":0']),
    "admin.md": Guide([], ['"blocker":null', '"open_slots":36', '"low_pay":']),
    "operations.md": Guide([], ["marketplace_", "X-Request-ID: trace-4f2a9c"]),
    "webapp.md": Guide([], ["Location: /\n", "data-step=", "data-figure=\"balance\">"]),
    "api.md": Guide([(r"/api/v1/no-such-endpoint/$", 404), (r"/api/v1/projects/$", 401),
                     (r"/api/v1/projects/$", 400), (r"/api/v1/projects/$", 415)],
                    ['"not_found"', '"code":"authentication_failed"', '"task_type":[']),
    "sandbox.md": Guide([], ["passed\nfailed\nerror\n"], needs=("bwrap", "node")),
}

# Guides with ```sh blocks not yet made runnable (issue 32): not run until they are moved to GUIDES.
PENDING: set[str] = set()


def _guide_blocks(name: str) -> list[tuple[int, str]]:
    return sh_blocks((ROOT / "docs" / name).read_text())


def _readme_setup() -> tuple[int, str]:
    line, body = sh_blocks((ROOT / "README.md").read_text())[0]
    assert re.search(r"^B=\$\(sed .*PUBLIC_BASE_URL", body, re.M), "README's first sh block (section 0) sets B"
    return line, body


def test_every_guide_with_commands_is_run():
    with_blocks = {path.name for path in (ROOT / "docs").glob("*.md") if sh_blocks(path.read_text())}
    assert with_blocks - GUIDES.keys() - PENDING == set(), "a guide with ```sh blocks that this test skips"
    assert GUIDES.keys() & PENDING == set()
    assert GUIDES.keys() - with_blocks == set(), "a guide listed here has no ```sh block left"


def test_shell_blocks_say_whether_they_run():
    """`sh` runs, `console` does not: a ```bash (or ```shell) block would leave a reader guessing."""
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        fences = re.findall(r"^```(bash|shell|zsh)\s*$", path.read_text(), re.M)
        assert fences == [], f"{path.name}: use ```sh (run by the docs tests) or ```console (not run)"


@pytest.mark.parametrize("name", sorted(GUIDES))
def test_guide_blocks_follow_the_conventions(name):
    text = (ROOT / "docs" / name).read_text()
    before = " ".join(text.split("```sh\n", 1)[0].split())
    assert "README section 0" in before, f"docs/{name}: say before its first block what it assumes"
    for line, body in _guide_blocks(name):
        where = f"docs/{name} line {line}"
        code = "\n".join(re.sub(r"(^|\s)#.*", "", row) for row in body.splitlines())  # comments may say anything
        assert not re.search(r"^\s*(make run|docker)", code, re.M), f"{where}: not runnable in order"
        assert ":8000" not in code and not re.search(r"\b(BASE|MP|AUTH)=", code), f"{where}: use $B, as the README"
        assert not re.search(r"/(1|3|7|12|15|41|42)/", code), f"{where}: a made-up id; look it up instead"
        assert "..." not in code, f"{where}: '...' left in a command"


# After README section 0: what it defined (variables, exports, functions), for each guide's shell to source.
SAVE_STATE = r"""
for name in $(comm -13 <(echo "$state_before") <(compgen -v | sort)); do
  case "$name" in BASH*|FUNCNAME|PIPESTATUS|LINENO|RANDOM|SECONDS|COMP*|_*|state_before) ;; *) declare -p "$name";; esac
done > readme-section-0.sh
declare -f $(comm -13 <(echo "$functions_before") <(compgen -A function | sort)) >> readme-section-0.sh
"""


@pytest.fixture(scope="module")
def guide_stack(tmp_path_factory):
    """One `make run` for every guide, and README section 0 run once on it (it logs the demo staff in and
    creates a client key: a few seconds each time), its state saved for each guide's shell."""
    with live_make_run(tmp_path_factory.mktemp("guides")) as (repo, port, stack_log):
        setup_line, setup = _readme_setup()
        text = script([("README.md", setup_line, setup)], name="README section 0", expected_errors=[])
        text = text.replace("\necho '### README.md", "\nstate_before=$(compgen -v | sort)\n"
                            "functions_before=$(compgen -A function | sort)\necho '### README.md", 1) + SAVE_STATE
        result = run_script(repo, text, name="readme-section-0")
        assert result.returncode == 0, f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
        yield repo, port, stack_log, (setup_line, "source readme-section-0.sh   # README section 0, run once above\n")


@pytest.mark.parametrize("name", list(GUIDES))
def test_guide_runs_as_written_against_make_run(guide_stack, name):
    guide = GUIDES[name]
    missing_programs = [program for program in guide.needs if not shutil.which(program)]
    if missing_programs:
        pytest.skip(f"docs/{name} needs {', '.join(missing_programs)}")
    repo, port, stack_log, (setup_line, setup) = guide_stack
    blocks = [("README.md", setup_line, setup)] + [(f"docs/{name}", line, body) for line, body in _guide_blocks(name)]
    result = run_script(repo, script(blocks, name=f"docs/{name}", expected_errors=guide.expected_errors), name=name)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{output[-6000:]}\n--- make run:\n{stack_log.read_text()[-3000:]}"
    missing = [s for s in guide.expected_output if s not in output]
    assert missing == [], f"{missing} not in the output:\n{output[-6000:]}"
    assert ":8000" not in output, "PORT is honoured: nothing this guide printed mentions the default port"
