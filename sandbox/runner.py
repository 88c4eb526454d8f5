"""Run a piece of code and its tests in a bubblewrap sandbox and say whether they pass.

A run is one bwrap process: no network, pid, ipc, uts, cgroup and user namespaces of its own, a
read-only /usr (the interpreters and their libraries) and nothing else of the host's filesystem, a fresh
tmpfs as /tmp (the working directory; the root itself is remounted read-only), an empty environment, all capabilities dropped. Before bwrap
starts, the child sets its resource limits (CPU seconds, address space, processes, file size, no core)
and drops to an unprivileged uid when we run as root: root ignores RLIMIT_NPROC, so without the drop a
fork bomb would be bounded only by the wall-clock kill. The parent reads at most `output_bytes` of each
stream and kills the whole process group past that or past the wall time.

There is no fallback: without bwrap, `run` raises SandboxUnavailable rather than run the code bare."""

import os
import resource
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field

from django.conf import settings

LANGUAGES = {
    # Interpreter inside the sandbox, its flags, and the file the program is written to.
    # -I: no user site, no PYTHON* variables, script dir not on sys.path; -B: no .pyc written.
    "python": (["/usr/bin/python3", "-I", "-B"], "main.py"),
    "javascript": (["/usr/bin/node"], "main.js"),
}
# Stored beside each result (tasks.CompletionRun.runner_version): bump it when a change to the runner or its
# limits can change a verdict, so stored results say which runner gave them.
RUNNER_VERSION = "bwrap-1"
STATUSES = ("passed", "failed", "error", "timeout", "killed")
NOBODY = 65534
# The sandbox's own /tmp: a fresh tmpfs per run, not the host's shared one.
BOX_TMP = "/tmp"  # noqa: S108


class SandboxUnavailable(RuntimeError):
    """bwrap (or the language's interpreter) is missing: code is never run outside the sandbox."""


class SandboxInputError(ValueError):
    """The code or tests are not something the runner can run (unknown language, malformed cases)."""


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 5
    wall_seconds: float = 10.0
    memory_bytes: int = 1024 ** 3  # address space; Node reserves ~1 GiB of virtual memory to start
    processes: int = 64
    output_bytes: int = 64 * 1024
    file_bytes: int = 16 * 1024 ** 2

    @classmethod
    def from_settings(cls, **overrides):
        values = {name: getattr(settings, f"SANDBOX_{name.upper()}") for name in cls.__dataclass_fields__}
        values.update(overrides)
        return cls(**values)


@dataclass
class RunResult:
    status: str  # one of STATUSES
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0  # wall seconds of all the runs
    detail: str = ""  # why: the failing case, the limit that was hit
    cases: list = field(default_factory=list)  # per input/output case: {"status", "stdout"}

    def as_dict(self):
        return asdict(self)


def bwrap_path():
    path = shutil.which(getattr(settings, "SANDBOX_BWRAP", "bwrap"))
    if not path:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed: refusing to run code without the sandbox")
    return path


def _preexec(limits: Limits):
    def apply():
        os.setsid()  # own process group: a kill reaches bwrap and everything under it
        # CPU: SIGXCPU at the soft limit (reported as the CPU limit), SIGKILL a second later if caught.
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
        for which, value in (
            (resource.RLIMIT_AS, limits.memory_bytes),
            (resource.RLIMIT_NPROC, limits.processes),
            (resource.RLIMIT_FSIZE, limits.file_bytes),
            (resource.RLIMIT_CORE, 0),
        ):
            resource.setrlimit(which, (value, value))
        if os.getuid() == 0:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)

    return apply


def _command(language: str, box: str):
    interpreter, filename = LANGUAGES[language]
    if not os.path.exists(interpreter[0]):
        raise SandboxUnavailable(f"{interpreter[0]} is not installed: cannot run {language}")
    return [
        bwrap_path(),
        "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv",
        "--setenv", "PATH", "/usr/bin", "--setenv", "HOME", BOX_TMP, "--hostname", "sandbox",
        "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", BOX_TMP,
        "--ro-bind", box, "/box",
        # bwrap builds the root on a writable tmpfs of its own; make it read-only too (not /tmp, a mount of its own).
        "--remount-ro", "/", "--chdir", BOX_TMP,
        *interpreter, f"/box/{filename}",
    ]


def _run_once(command, stdin: bytes, limits: Limits):
    """(exit code or None, stdout, stderr, seconds, what was hit: "" | "timeout" | "output")."""
    started = time.monotonic()
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={}, close_fds=True, preexec_fn=_preexec(limits))
    try:
        proc.stdin.write(stdin)
    except BrokenPipeError:
        pass
    proc.stdin.close()
    buffers = {proc.stdout: bytearray(), proc.stderr: bytearray()}
    hit = ""
    with selectors.DefaultSelector() as selector:
        for stream in buffers:
            selector.register(stream, selectors.EVENT_READ)
        while selector.get_map():
            left = limits.wall_seconds - (time.monotonic() - started)
            if left <= 0:
                hit = "timeout"
                break
            for key, _ in selector.select(timeout=left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                buffer = buffers[key.fileobj]
                buffer += chunk
                if len(buffer) > limits.output_bytes:
                    del buffer[limits.output_bytes:]
                    hit = "output"
            if hit:
                break
    if hit:
        _kill(proc)
    try:
        code = proc.wait(timeout=max(0.1, limits.wall_seconds - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:  # closed its pipes but kept running
        hit = "timeout"
        _kill(proc)
        code = proc.wait()
    for stream in buffers:
        stream.close()
    return (None if hit else code, bytes(buffers[proc.stdout]), bytes(buffers[proc.stderr]),
            time.monotonic() - started, hit)


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _text(data: bytes):
    return data.decode("utf-8", errors="replace")


def _classify(code, stderr: bytes, hit: str):
    if hit == "timeout":
        return "timeout", "wall time limit"
    if hit == "output":
        return "killed", "output limit"
    # bwrap's init reports a program killed by a signal as 128 + the signal; a negative code is bwrap's own.
    signo = -code if code is not None and code < 0 else code - 128 if code is not None and code > 128 else 0
    if signo:
        reason = {signal.SIGXCPU: "CPU time limit", signal.SIGKILL: "killed"}.get(signo, f"signal {signo}")
        return ("timeout" if signo == signal.SIGXCPU else "killed"), reason
    if code == 0:
        return "passed", ""
    if b"AssertionError" in stderr:  # Python's assert and Node's assert module both raise it
        return "failed", "assertion failed"
    return "error", f"exit code {code}"


def run(language: str, code: str, test: str | None = None, cases: list | None = None,
        limits: Limits | None = None) -> RunResult:
    """Run `code` with its tests: either `test`, source appended after the code (asserts, or a call to a test
    function) that passes when the program exits 0, or `cases`, a list of {"stdin": str, "stdout": str}:
    the code runs once per case and passes when its stdout matches each (trailing whitespace ignored)."""
    if language not in LANGUAGES:
        raise SandboxInputError(f"unknown language {language!r}; one of {sorted(LANGUAGES)}")
    if (test is None) == (cases is None):
        raise SandboxInputError("give exactly one of test or cases")
    if cases is not None and (not isinstance(cases, list) or not cases or not all(
            isinstance(c, dict) and isinstance(c.get("stdin", ""), str) and isinstance(c.get("stdout"), str)
            for c in cases)):
        raise SandboxInputError('cases must be a non-empty list of {"stdin": str, "stdout": str}')
    limits = limits or Limits.from_settings()
    program = code if test is None else f"{code}\n\n{test}\n"
    with tempfile.TemporaryDirectory(prefix="sandbox-") as box:
        path = os.path.join(box, LANGUAGES[language][1])
        with open(path, "w", encoding="utf-8") as f:
            f.write(program)
        # The sandbox runs as nobody: it must be able to read its program, and nothing else in here.
        os.chmod(box, 0o755)  # noqa: S103 (read-only to others, and holds only the program)
        os.chmod(path, 0o644)
        if test is not None:
            exit_code, out, err, seconds, hit = _run_once(_command(language, box), b"", limits)
            status, detail = _classify(exit_code, err, hit)
            return RunResult(status, exit_code, _text(out), _text(err), seconds, detail)
        total = 0.0
        results = []
        for number, case in enumerate(cases, 1):
            exit_code, out, err, seconds, hit = _run_once(
                _command(language, box), case.get("stdin", "").encode(), limits)
            total += seconds
            status, detail = _classify(exit_code, err, hit)
            if status == "passed" and _text(out).rstrip() != case["stdout"].rstrip():
                status, detail = "failed", f"case {number}: output differs"
            elif status != "passed":
                detail = f"case {number}: {detail}"
            results.append({"status": status, "stdout": _text(out)})
            if status != "passed":  # the first case that does not pass decides
                return RunResult(status, exit_code, _text(out), _text(err), total, detail, results)
        return RunResult("passed", 0, "", "", total, "", results)
