"""The local settings file of the embedded default: `var/local.env`.

`make run` writes it on its first start (a generated SECRET_KEY, DEBUG=1, the ports and the addresses
built from them) and updates the ports and addresses on every start, so any later shell
(`manage.py create_client_key`, `manage.py simulate`, ...) sees the same settings as the running stack
without exporting anything. marketplace/settings.py reads it with django-environ; variables set in the
environment always win over its lines. Lines you add (comments too) are kept where they are.

    python -m marketplace.localenv prepare-run [--host H] [--port P] [--stripe-fake-port S] [--run-pid PID]

checks, before it touches anything, that no stack of this checkout is running (var/make-run.pid) and that
every port the run binds is free; then writes the file and var/Procfile, loads the settings once (a bad value
stops the run here, in one line naming the setting, its file and line, and what is expected; names in the
file no setting reads are reported), records PID as the running stack, and prints the `export ...` lines
`make run` evaluates.
Settings read the file only when MARKETPLACE_DEV=1 is set (`make run` exports it; export it in a later
shell), never because it exists: a production start ignores it, and refuses without real secrets.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import importlib
import os
import re
import secrets
import shlex
import socket
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parent.parent
HEADER = ("# Written by `make run` on its first start; the ports and addresses are updated on every start.\n"
          "# Variables set in the environment win over these lines. Lines you add are kept.\n")
DEFAULT_PORT = 8000
DEFAULT_STRIPE_FAKE_PORT = 12111
FAKE_STRIPE_KEY = "sk_test_fake"
RUN_PID_FILE = "make-run.pid"


DEV_SWITCH = "MARKETPLACE_DEV"
# Variables read by something other than marketplace/settings.py (make run, the fake Stripe server,
# gunicorn_conf.py, the test settings): a line of the file naming one of them is not a typo.
NAMES_READ_ELSEWHERE = frozenset({
    "PORT", "STRIPE_FAKE_PORT", "HOST", "VAR_DIR", "LOCAL_ENV_FILE", DEV_SWITCH, "DJANGO_SETTINGS_MODULE",
    "PROMETHEUS_MULTIPROC_DIR", "FAKESTRIPE_HOST", "FAKESTRIPE_PORT", "FAKESTRIPE_WEBHOOK_URL",
    "FAKESTRIPE_RATE_LIMIT", "FAKESTRIPE_PUBLIC_URL", "TEST_DATABASE_URL", "TEST_DB_NAME", "REQUIRE_SERVICES",
    "TEST_SERVICES",
    "COMPOSE_PROFILES", "SEED_DEMO",  # docker compose's, read by docker-compose.yml (a .env may hold them)
})
# The lines django-environ's read_env loads (the rest it skips): NAME=value, optionally after `export `.
_LINE = re.compile(r"\A(?:export )?([A-Za-z_0-9]+)=(.*)\Z")


class SettingError(ImproperlyConfigured):
    """A setting's value is unusable. The message names the setting, where it came from (a line of the local
    file, or the environment) and what is expected, in one line; `value` None keeps a secret out of it."""

    def __init__(self, name: str, source: str, expected: str, value: str | None = None):
        shown = "" if value is None else f"={_shown(value)}"
        super().__init__(f"{name}{shown} ({source}): expected {expected}")


class Refusal(Exception):
    """`make run` cannot start: something is in the way (a running stack, a taken port). One line."""


def _shown(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")


def dev_switch_on() -> bool:
    """The explicit development switch: settings read the local file only when it is on (`make run` sets it)."""
    return os.environ.get(DEV_SWITCH, "").strip().lower() in {"1", "true", "yes", "on"}


def var_dir() -> Path:
    return Path(os.environ.get("VAR_DIR") or ROOT / "var")


def local_env_path() -> Path | None:
    """The file settings read: LOCAL_ENV_FILE, or VAR_DIR/local.env; LOCAL_ENV_FILE="" means none."""
    value = os.environ.get("LOCAL_ENV_FILE")
    if value is None:
        return var_dir() / "local.env"
    return Path(value) if value else None


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.is_file() else []


def _key(line: str) -> str | None:
    line = line.strip()
    if not line or line.startswith("#") or "=" not in line:
        return None
    return line.partition("=")[0].strip().removeprefix("export ").strip()


def read(path: Path) -> dict[str, str]:
    """KEY=value lines (comments and blank lines skipped), in file order."""
    values: dict[str, str] = {}
    for line in _lines(path):
        key = _key(line)
        if key is not None:
            values[key] = line.partition("=")[2].strip().strip("'\"")
    return values


def located(path: Path | None) -> tuple[dict[str, int], list[int]]:
    """The line number (from 1) of each name the file sets, as django-environ reads it (the last line of a name
    wins), and the numbers of the lines it skips that are neither blank nor comments."""
    names: dict[str, int] = {}
    skipped: list[int] = []
    for number, line in enumerate(_lines(path) if path else [], start=1):
        match = _LINE.match(line)
        if match:
            names[match.group(1)] = number
        elif line.strip() and not line.lstrip().startswith("#"):
            skipped.append(number)
    return names, skipped


class Sources:
    """Where each setting's value comes from: the environment, or a line of the local file. Made before the
    file is loaded into os.environ (which fills only what the environment does not set)."""

    def __init__(self, path: Path | None):
        self.path = path
        self.environment = frozenset(os.environ)
        self.lines, self.skipped = located(path)

    def of(self, name: str) -> str:
        if name not in self.environment and name in self.lines:
            return f"{self.path}, line {self.lines[name]}"
        return "the environment"


def warnings_for(sources: Sources, known: set[str] | frozenset[str]) -> list[str]:
    """One line for each line of the file that sets nothing: a name no setting reads (with the likely
    intended one), or a line django-environ skips."""
    known = set(known) | NAMES_READ_ELSEWHERE
    found = [(number, f"{sources.path}, line {number}: not a NAME=value line (no spaces around =), ignored")
             for number in sources.skipped]
    for name, number in sources.lines.items():
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
            hint = f"; did you mean {close[0]}?" if close else " (README.md, Settings, lists them)"
            found.append((number, f"{sources.path}, line {number}: {name} is not a setting, ignored{hint}"))
    return [message for _, message in sorted(found)]


def write(path: Path, values: dict[str, str]) -> bool:
    """Makes the file say `values`: the lines of a name whose value changes are rewritten in place, those of a
    name no longer in `values` dropped, new names appended; every other line (yours, comments) stays as it is,
    so line numbers in messages stay true. Writes nothing when nothing changes; returns whether it wrote."""
    old_values, old_lines = read(path), _lines(path)
    body = []
    for line in old_lines or HEADER.splitlines():
        key = _key(line)
        if key is None or (key in values and old_values.get(key) == values[key]):
            body.append(line)
        elif key in values:
            body.append(f"{key}={values[key]}")
    body.extend(f"{key}={value}" for key, value in values.items() if key not in old_values)
    text = "\n".join(body) + "\n"
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)  # it holds a secret
    tmp.replace(path)
    return True


# --- What is in the way of a run -------------------------------------------------------------------------

def _proc_stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on; None where there is no /proc or no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def _alive(pid: int) -> bool:
    if Path("/proc/self/stat").is_file():
        stat = _proc_stat(pid)
        return stat is not None and stat[0] not in ("Z", "X")  # a zombie has exited
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _started(pid: int) -> str:
    stat = _proc_stat(pid)
    return stat[19] if stat else ""  # field 22, starttime: tells this process from a later one with its pid


def _command(pid: int) -> str:
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    except OSError:
        return ""
    command = " ".join(w.decode(errors="replace") for w in words)
    return command if len(command) <= 80 else command[:77] + "..."


def _process(pid: int) -> str:
    command = _command(pid)
    return f"pid {pid} ({command})" if command else f"pid {pid}"


def running_stack(var: Path) -> str | None:
    """The process of a `make run` of this checkout still running (var/make-run.pid), described; or None."""
    try:
        pid_text, _, started = (var / RUN_PID_FILE).read_text().strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    if pid <= 0 or not _alive(pid) or (started and _started(pid) not in ("", started)):
        return None  # gone, or its pid now belongs to another process
    return _process(pid)


def record_run(var: Path, pid: int) -> None:
    """PID (the shell that execs honcho: the same process from here to Ctrl-C) is this checkout's stack."""
    (var / RUN_PID_FILE).write_text(f"{pid} {_started(pid)}\n")


def _listeners(port: int) -> list[int]:
    """Processes listening on TCP `port` (Linux /proc; only those whose descriptors we may read)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rpartition(":")[2], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    pids = []
    if inodes:
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                    pids.append(int(proc.name))
            except OSError:
                continue
    return sorted(pids)


def _bind_error(host: str, port: int) -> OSError | None:
    """What binding host:port as the servers do (SO_REUSEADDR: a closed earlier run's TIME_WAIT is no
    obstacle, a listener is) fails with; None when it is free."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return exc
    return None


def _free_port_near(host: str, port: int, taken: set[int]) -> int | None:
    for candidate in range(port + 1, min(port + 50, 65535)):
        if candidate not in taken and _bind_error(host, candidate) is None:
            return candidate
    return None


def check_ports(binds: list[tuple[str, str, int]]) -> None:
    """Refuses (Refusal, one line) when a port the run binds is taken: (variable, host, port) each."""
    ports = [port for _, _, port in binds]
    for name, host, port in binds:
        if ports.count(port) > 1:
            raise Refusal(f"{' and '.join(n for n, _, p in binds if p == port)} are both {port}: "
                          f"give each its own port (make run {name}=...)")
        try:
            error = _bind_error(host, port)
        except socket.gaierror as exc:
            raise Refusal(f"HOST={host!r} cannot be bound: {exc.strerror}; expected an address of this machine, "
                          f"like 127.0.0.1 or 0.0.0.0") from None
        if error is None:
            continue
        if error.errno == errno.EADDRINUSE:
            pids = _listeners(port)
            who = ", ".join(_process(pid) for pid in pids) if pids else "another process"
            free = _free_port_near(host, port, set(ports))
            other = f"make run {name}={free}" if free else f"make run {name}=..."
            raise Refusal(f"port {port} ({name}) on {host} is in use by {who}; stop it, or use another port: {other}")
        raise Refusal(f"port {port} ({name}) cannot be bound on {host}: {error.strerror}")


# --- make run ---------------------------------------------------------------------------------------------

def _port(name: str, given: str | None, path: Path, stored: str | None, default: int) -> int:
    if given not in (None, ""):
        candidate, source = given, f"make run {name}=... or the environment"
    elif stored not in (None, ""):
        line = located(path)[0].get(name)
        candidate, source = stored, f"{path}, line {line}" if line else str(path)
    else:
        return default
    expected = "a port number from 1 to 65535, like 8000"
    try:
        port = int(candidate)
    except ValueError:
        raise SettingError(name, source, expected, candidate) from None
    if not 0 < port < 65536:
        raise SettingError(name, source, expected, candidate)
    return port


def _binds(host: str, web_port: int, fake_port: int | None, values: dict[str, str]) -> list[tuple[str, str, int]]:
    """Every (variable, host, port) the run's processes bind: the web server, the fake Stripe server, and the
    Celery worker's metrics endpoint when it serves one (CELERY_METRICS_PORT with PROMETHEUS_MULTIPROC_DIR)."""
    def setting(name: str) -> str:
        return os.environ[name] if name in os.environ else values.get(name, "")

    binds = [("PORT", host.strip("[]"), web_port)]
    if fake_port is not None:
        binds.append(("STRIPE_FAKE_PORT", "127.0.0.1", fake_port))
    metrics = setting("CELERY_METRICS_PORT").strip()
    if metrics.isdigit() and 0 < int(metrics) < 65536 and setting("PROMETHEUS_MULTIPROC_DIR"):
        binds.append(("CELERY_METRICS_PORT", setting("CELERY_METRICS_ADDR") or "127.0.0.1", int(metrics)))
    return binds  # a bad CELERY_METRICS_PORT is the settings' to refuse, naming its line


def prepare_run(*, host: str, port: str | None, stripe_fake_port: str | None) -> dict[str, str]:
    """Creates or updates the local file for a `make run` on host:port and returns what the run exports.
    Refuses (Refusal, SettingError) before it writes anything when a port is bad or taken, or when a stack
    of this checkout is running."""
    path = local_env_path() or var_dir() / "local.env"
    values = read(path)
    web_port = _port("PORT", port, path, values.get("PORT"), DEFAULT_PORT)
    fake_port = _port("STRIPE_FAKE_PORT", stripe_fake_port, path, values.get("STRIPE_FAKE_PORT"),
                      DEFAULT_STRIPE_FAKE_PORT)
    stripe_key = os.environ.get("STRIPE_SECRET_KEY") or values.get("STRIPE_SECRET_KEY") or FAKE_STRIPE_KEY
    fake_stripe = stripe_key == FAKE_STRIPE_KEY
    running = running_stack(var_dir())
    if running:
        raise Refusal(f"a stack of this checkout is already running as {running}, recorded in "
                      f"{var_dir() / RUN_PID_FILE}: stop it (Ctrl-C in its terminal) first")
    check_ports(_binds(host, web_port, fake_port if fake_stripe else None, values))

    for sub in ("mail", "broker/out", "broker/processed"):
        (var_dir() / sub).mkdir(parents=True, exist_ok=True)
    values.setdefault("SECRET_KEY", secrets.token_urlsafe(48))
    values.setdefault("DEBUG", "1")
    values["PORT"] = str(web_port)
    values["STRIPE_FAKE_PORT"] = str(fake_port)
    link_host = "127.0.0.1" if host in ("0.0.0.0", "::", "[::]") else host  # noqa: S104 - a bind address
    values["PUBLIC_BASE_URL"] = f"http://{link_host}:{web_port}"
    values.setdefault("STRIPE_WEBHOOK_SECRET", "whsec_fake")
    values.setdefault("WEBHOOKS_ALLOW_PRIVATE_URLS", "1")
    # Plain http on the loopback: production's HTTPS redirect would send the browser to a port nobody serves.
    values.setdefault("SECURE_SSL_REDIRECT", "0")
    if fake_stripe:
        values["STRIPE_API_BASE"] = f"http://127.0.0.1:{fake_port}"
    else:
        values.pop("STRIPE_API_BASE", None)
    write(path, values)

    procfiles = ["Procfile.dev"] + (["Procfile.fakestripe"] if fake_stripe else [])
    procfile = var_dir() / "Procfile"
    procfile.write_text("".join((ROOT / name).read_text() for name in procfiles))
    exports = {
        # WEB_PORT, not PORT, in the Procfile: honcho hands each process its own PORT (5000, 5100, ...).
        "HOST": host, "PORT": str(web_port), "WEB_PORT": str(web_port), "STRIPE_FAKE_PORT": str(fake_port),
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET") or values["STRIPE_WEBHOOK_SECRET"],
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL") or values["PUBLIC_BASE_URL"],
        "LOCAL_ENV_FILE": str(path), "PROCFILE": str(procfile), DEV_SWITCH: "1",
    }
    if fake_stripe:
        exports["STRIPE_API_BASE"] = os.environ.get("STRIPE_API_BASE") or values["STRIPE_API_BASE"]
    return exports


def check_settings(exports: dict[str, str]) -> list[str]:
    """Loads the settings as the run's processes will (a bad value raises SettingError, before migrate), and
    returns a warning line for each line of the local file that sets nothing."""
    os.environ.update(exports)
    settings = importlib.import_module("marketplace.settings")
    return warnings_for(settings._ENV_SOURCES, settings._ENV_NAMES_READ) if settings.LOCAL_ENV_READ else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m marketplace.localenv")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("prepare-run", help="check the ports, write var/local.env and var/Procfile, check the "
                                             "settings; print the exports")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", default="")
    run.add_argument("--stripe-fake-port", default="")
    run.add_argument("--run-pid", type=int, default=0, help="the process that becomes the stack (make: $$)")
    args = parser.parse_args(argv)
    try:
        exports = prepare_run(host=args.host, port=args.port, stripe_fake_port=args.stripe_fake_port)
        warnings = check_settings(exports)
    except (Refusal, ImproperlyConfigured) as exc:  # SettingError of either copy of this module (-m)
        sys.stderr.write(f"make run: {exc}\n")
        return 2
    for warning in warnings:
        sys.stderr.write(f"make run: warning: {warning}\n")
    if args.run_pid:
        record_run(var_dir(), args.run_pid)
    sys.stdout.write("".join(f"export {key}={shlex.quote(value)}\n" for key, value in exports.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
