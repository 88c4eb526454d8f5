"""A newcomer's first `make run` (or `make test`) installs for minutes: every install step says what it does,
and `python manage.py` run outside the venv says how to run it (issue 32)."""

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

FAKE_PYTHON = """#!/bin/sh
# Stands in for python3: `-m venv DIR` makes DIR/bin/python and a pip that only records its arguments.
[ "$1" = -m ] && [ "$2" = venv ] || exit 2
mkdir -p "$3/bin"
printf '#!/bin/sh\\necho "pip $*" >> "%s/pip.log"\\n' "$3" > "$3/bin/pip"
cp "$0" "$3/bin/python"
chmod +x "$3/bin/pip" "$3/bin/python"
"""


@pytest.mark.parametrize(("target", "requirements"), [(".runtime-installed", "requirements.txt"),
                                                       (".dev-installed", "requirements-dev.txt")])
def test_each_install_step_prints_a_line_before_it_runs(tmp_path, target, requirements):
    if not shutil.which("make"):
        pytest.skip("needs make")
    fake = tmp_path / "python3"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    venv = tmp_path / "venv"
    result = subprocess.run(["make", "--no-print-directory", f"PYTHON={fake}", f"VENV={venv}", f"{venv}/{target}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    progress = [line for line in lines if line.startswith("make: ")]
    assert [line.split()[1] for line in progress[:3]] == ["[1/3]", "[2/3]", "[3/3]"], result.stdout
    assert requirements in progress[2] and "installed" in progress[3]
    # Each announcement comes before its command runs, and the commands did run.
    position = {line: i for i, line in enumerate(lines)}
    assert position[progress[0]] < next(i for i, line in enumerate(lines) if " -m venv " in line)
    assert position[progress[2]] < next(i for i, line in enumerate(lines) if f"install --quiet -r {requirements}" in line)
    assert (venv / "pip.log").read_text().splitlines() == ["pip install --quiet --upgrade pip",
                                                           f"pip install --quiet -r {requirements}"]
    # Up to date: nothing to say, nothing run.
    again = subprocess.run(["make", "--no-print-directory", f"PYTHON={fake}", f"VENV={venv}", f"{venv}/{target}"],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "make: [" not in again.stdout


def test_manage_py_without_django_says_to_use_the_venv(tmp_path):
    """A python with no Django (the system one, outside .venv): one line naming the fix, not a traceback."""
    bare = subprocess.run([sys.executable, "-I", "-S", "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={"PATH": os.environ["PATH"]})
    assert bare.returncode != 0
    assert bare.stderr.strip().splitlines() == [
        "manage.py: Django is not installed for this python "
        f"({sys.executable}): run .venv/bin/python manage.py ... (make run creates .venv), or make run."]
    # With the venv's Django it runs as before.
    ok = subprocess.run([sys.executable, "manage.py", "help"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                        env={**os.environ, "DEBUG": "1"})
    assert ok.returncode == 0 and "Available subcommands" in ok.stdout
