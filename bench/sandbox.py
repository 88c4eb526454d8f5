"""Sandbox cost: runs per second per core through bubblewrap against the same code run by plain subprocess,
measured in the same run, for Python and Node (docs/sandbox.md).

    .venv/bin/python -m bench.sandbox --runs 200

Each language runs a small correct solution and its test (the runner's "test" form) --runs times, one at a
time: first bare (`subprocess.run` of the same interpreter on the same file with the sandbox's environment, no limits,
no sandbox), then
through sandbox.runner.run (bwrap, namespaces, rlimits, the output reader), interleaved in rounds of 10 so
that load from other jobs on the shared machine falls on both sides alike. One run at a time uses about one
core, so runs/s is runs/s per core. Prints runs/s for both and the ratio (sandboxed / bare).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("TEST_SERVICES", "none")

import django  # noqa: E402

django.setup()

from sandbox.runner import LANGUAGES, Limits, run  # noqa: E402

PROGRAMS = {
    "python": ("def add(a, b):\n    return a + b", "assert add(2, 3) == 5"),
    "javascript": ("function add(a, b) { return a + b; }",
                   "require('assert').strictEqual(add(2, 3), 5);"),
}


BARE_ENV = {"PATH": "/usr/bin", "HOME": tempfile.gettempdir()}


def bench(language: str, runs: int, round_size: int = 10):
    code, test = PROGRAMS[language]
    interpreter, filename = LANGUAGES[language]
    limits = Limits.from_settings()
    bare = sandboxed = 0.0
    with tempfile.TemporaryDirectory() as box:
        path = os.path.join(box, filename)
        Path(path).write_text(f"{code}\n\n{test}\n")
        done = 0
        while done < runs:
            n = min(round_size, runs - done)
            started = time.perf_counter()
            for _ in range(n):
                # The sandbox's environment, not ours: e.g. NODE_EXTRA_CA_CERTS alone makes a bare node
                # parse a certificate bundle at start, which would flatter the sandbox.
                subprocess.run([*interpreter, path], check=True, capture_output=True, env=BARE_ENV, cwd=box)
            bare += time.perf_counter() - started
            started = time.perf_counter()
            for _ in range(n):
                result = run(language, code, test=test, limits=limits)
                assert result.status == "passed", result
            sandboxed += time.perf_counter() - started
            done += n
    return runs / bare, runs / sandboxed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--languages", default="python,javascript")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores; {args.runs} runs each, one at a time")
    print(f"{'language':<11} {'bare runs/s':>12} {'sandbox runs/s':>15} {'ratio':>7}")
    for language in args.languages.split(","):
        bare, boxed = bench(language, args.runs)
        print(f"{language:<11} {bare:>12.1f} {boxed:>15.1f} {boxed / bare:>7.2f}")


if __name__ == "__main__":
    main()
