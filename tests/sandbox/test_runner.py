"""The sandbox runner against correct, wrong and hostile code. Each hostile program would succeed when run
bare (the host has /etc/shadow, the project's files, secrets in os.environ, PostgreSQL on 127.0.0.1), so
each test fails if the sandbox lets it through. Tests that run code skip only when bwrap is absent."""

import os
import shutil
from pathlib import Path

import pytest

from sandbox import runner
from sandbox.jobs import run_code
from sandbox.runner import Limits, SandboxInputError, SandboxUnavailable, run

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed")
needs_node = pytest.mark.skipif(not os.path.exists("/usr/bin/node"), reason="node is not installed")
PROJECT_FILE = str(Path(__file__).resolve())
# Short limits keep the hostile runs quick; the memory limit stays at Node's 1 GiB minimum.
LIMITS = Limits(cpu_seconds=2, wall_seconds=5, memory_bytes=1024 ** 3, processes=32, output_bytes=4096,
                file_bytes=1024 ** 2)


def py(code, test="", **kw):
    return run("python", code, test=test, limits=LIMITS, **kw)


def js(code, test="", **kw):
    return run("javascript", code, test=test, limits=LIMITS, **kw)


@needs_bwrap
def test_python_correct_passes_and_wrong_fails():
    test = "assert add(2, 3) == 5\nassert add(-1, 1) == 0"
    assert py("def add(a, b):\n    return a + b", test).status == "passed"
    wrong = py("def add(a, b):\n    return a - b", test)
    assert wrong.status == "failed" and "AssertionError" in wrong.stderr


@needs_bwrap
def test_python_test_function_and_error():
    test = "def check(f):\n    assert f([3, 1, 2]) == [1, 2, 3]\ncheck(sort)"
    assert py("def sort(xs):\n    return sorted(xs)", test).status == "passed"
    assert py("def sort(xs):\n    return xs", test).status == "failed"
    broken = py("def sort(xs) return xs", test)
    assert broken.status == "error" and "SyntaxError" in broken.stderr


@needs_bwrap
def test_python_cases():
    cases = [{"stdin": "2\n", "stdout": "4\n"}, {"stdin": "10", "stdout": "20"}]
    good = run("python", "print(int(input()) * 2)", cases=cases, limits=LIMITS)
    assert good.status == "passed" and [c["stdout"] for c in good.cases] == ["4\n", "20\n"]
    bad = run("python", "print(int(input()) + 2)", cases=cases, limits=LIMITS)
    assert bad.status == "failed" and bad.detail == "case 2: output differs"  # 2+2 == 2*2: case 1 passes


@needs_bwrap
@needs_node
def test_node_correct_passes_and_wrong_fails():
    test = "const assert = require('assert');\nassert.strictEqual(add(2, 3), 5);"
    assert js("function add(a, b) { return a + b; }", test).status == "passed"
    wrong = js("function add(a, b) { return a - b; }", test)
    assert wrong.status == "failed" and "AssertionError" in wrong.stderr
    cases = [{"stdin": "21", "stdout": "42"}]
    code = "const s = require('fs').readFileSync(0, 'utf8'); console.log(Number(s) * 2);"
    assert run("javascript", code, cases=cases, limits=LIMITS).status == "passed"
    assert run("javascript", code.replace("* 2", "+ 2"), cases=cases, limits=LIMITS).status == "failed"


@needs_bwrap
def test_fork_bomb_is_contained():
    result = py("import os\nwhile True:\n    os.fork()")
    assert result.status in ("error", "killed", "timeout")
    assert "Resource temporarily unavailable" in result.stderr or result.status != "error"


@needs_bwrap
@needs_node
def test_node_process_bomb_is_contained():
    code = "const {spawn} = require('child_process');\nwhile (true) { spawn('/usr/bin/node', ['-e', 'setInterval(()=>{},1000)']); }"
    assert js(code).status in ("error", "killed", "timeout")


@needs_bwrap
def test_infinite_loop_hits_the_cpu_limit():
    # A wall limit far above the CPU one: on a loaded machine the loop gets a share of a core, and 2 CPU
    # seconds could take longer than 5 wall seconds.
    result = run("python", "while True:\n    pass", test="",
                 limits=Limits(cpu_seconds=1, wall_seconds=60, memory_bytes=LIMITS.memory_bytes))
    assert result.status == "timeout" and result.detail == "CPU time limit"


@needs_bwrap
def test_sleeping_forever_hits_the_wall_limit():
    result = run("python", "import time\ntime.sleep(60)", test="",
                 limits=Limits(cpu_seconds=2, wall_seconds=1, memory_bytes=LIMITS.memory_bytes))
    assert result.status == "timeout" and result.detail == "wall time limit"


@needs_bwrap
def test_huge_output_is_cut_and_killed():
    result = py("while True:\n    print('x' * 1000)")
    assert result.status == "killed" and result.detail == "output limit"
    assert len(result.stdout) == LIMITS.output_bytes


@needs_bwrap
def test_allocating_4_gib_fails():
    result = py("b = bytearray(4 * 1024 ** 3)\nprint('allocated')")
    assert result.status == "error" and "MemoryError" in result.stderr and "allocated" not in result.stdout


@needs_bwrap
@needs_node
def test_node_allocating_4_gib_fails():
    # 64 buffers of 64 MiB, each under Node's per-buffer maximum: only the address-space limit stops it.
    result = js("const a = [];\nfor (let i = 0; i < 64; i++) a.push(Buffer.alloc(64 * 1024 ** 2, 1));\n"
                "console.log('allocated', a.length);")
    assert result.status in ("error", "killed") and "allocated" not in result.stdout, result


@needs_bwrap
def test_host_files_are_not_visible():
    for path in ("/etc/shadow", "/etc/passwd", PROJECT_FILE, "/root", "/home", "/work"):
        result = py(f"import os\nprint(os.path.exists({path!r}))")
        assert result.status == "passed" and result.stdout.strip() == "False", path


@needs_bwrap
@needs_node
def test_node_cannot_read_host_files():
    result = js(f"require('fs').readFileSync({PROJECT_FILE!r});")
    assert result.status == "error" and "ENOENT" in result.stderr


@needs_bwrap
def test_environment_secrets_do_not_reach_the_code(monkeypatch):
    monkeypatch.setenv("SANDBOX_TEST_SECRET", "hunter2")
    result = py("import os\nprint(sorted(os.environ.items()))")
    assert result.status == "passed" and "hunter2" not in result.stdout
    assert "SECRET_KEY" not in result.stdout and "DATABASE_URL" not in result.stdout


@needs_bwrap
def test_no_network_even_to_localhost():
    # PostgreSQL listens on 127.0.0.1 on the host and in CI; in the sandbox's own network namespace nothing does.
    result = py("import socket\nsocket.create_connection(('127.0.0.1', 5432), timeout=2)\nprint('connected')")
    assert result.status == "error" and "connected" not in result.stdout
    assert "ConnectionRefusedError" in result.stderr or "unreachable" in result.stderr


@needs_bwrap
def test_writes_outside_tmp_fail_and_tmp_is_fresh():
    for path in ("/usr/evil", "/box/evil", "/evil"):
        result = py(f"open({path!r}, 'w').write('x')")
        assert result.status == "error" and "Read-only file system" in result.stderr, path
    assert py("open('/tmp/left', 'w').write('x')").status == "passed"
    assert py("import os\nprint(os.listdir('/tmp'))").stdout.strip() == "[]"


@needs_bwrap
def test_celery_job_returns_the_result():
    result = run_code.apply(args=["python", "def f():\n    return 1"], kwargs={"test": "assert f() == 1"}).get()
    assert result["status"] == "passed" and result["exit_code"] == 0
    bad = run_code.apply(args=["cobol", "x"], kwargs={"test": ""}).get()
    assert bad["status"] == "error" and "unknown language" in bad["detail"]


def test_job_is_routed_to_the_sandbox_queue(settings):
    from marketplace.celery import app

    assert app.amqp.router.route({}, "sandbox.jobs.run_code")["queue"].name == settings.SANDBOX_QUEUE
    assert "sandbox.jobs.run_code" in app.tasks


def test_refuses_to_run_without_bwrap(settings, monkeypatch):
    settings.SANDBOX_BWRAP = "/nonexistent/bwrap"
    ran = []
    monkeypatch.setattr(runner.subprocess, "Popen", lambda *a, **k: ran.append(a))
    with pytest.raises(SandboxUnavailable):
        run("python", "print(1)", test="", limits=LIMITS)
    assert ran == []


def test_bad_input_is_refused():
    with pytest.raises(SandboxInputError):
        run("ruby", "puts 1", test="")
    with pytest.raises(SandboxInputError):
        run("python", "print(1)")
    with pytest.raises(SandboxInputError):
        run("python", "print(1)", cases=[{"stdin": "1"}])
