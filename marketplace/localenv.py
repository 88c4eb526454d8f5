"""The local settings file of the embedded default: `var/local.env`.

`make run` writes it on its first start (a generated SECRET_KEY, DEBUG=1, the ports and the addresses
built from them) and updates the ports and addresses on every start, so any later shell
(`manage.py create_client_key`, `manage.py simulate`, ...) sees the same settings as the running stack
without exporting anything. marketplace/settings.py reads it with django-environ; variables set in the
environment always win over its lines. Lines you add are kept.

    python -m marketplace.localenv prepare-run [--host H] [--port P] [--stripe-fake-port S]

writes the file and var/Procfile, and prints the `export ...` lines `make run` evaluates.
Settings read the file only when MARKETPLACE_DEV=1 is set (`make run` exports it; export it in a later
shell), never because it exists: a production start ignores it, and refuses without real secrets.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = ("# Written by `make run` on its first start; the ports and addresses are updated on every start.\n"
          "# Variables set in the environment win over these lines. Lines you add are kept.\n")
DEFAULT_PORT = 8000
DEFAULT_STRIPE_FAKE_PORT = 12111
FAKE_STRIPE_KEY = "sk_test_fake"


DEV_SWITCH = "MARKETPLACE_DEV"


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


def read(path: Path) -> dict[str, str]:
    """KEY=value lines (comments and blank lines skipped), in file order."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


def write(path: Path, values: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = HEADER + "".join(f"{key}={value}\n" for key, value in values.items())
    tmp = path.with_suffix(".tmp")
    tmp.write_text(body)
    tmp.chmod(0o600)  # it holds a secret
    tmp.replace(path)


def _port(given: str | None, stored: str | None, default: int) -> int:
    for candidate in (given, stored):
        if candidate not in (None, ""):
            port = int(candidate)
            if not 0 < port < 65536:
                raise SystemExit(f"port out of range: {port}")
            return port
    return default


def prepare_run(*, host: str, port: str | None, stripe_fake_port: str | None) -> dict[str, str]:
    """Creates or updates the local file for a `make run` on host:port and returns what the run exports."""
    for sub in ("mail", "broker/out", "broker/processed"):
        (var_dir() / sub).mkdir(parents=True, exist_ok=True)
    path = local_env_path() or var_dir() / "local.env"
    values = read(path)
    web_port = _port(port, values.get("PORT"), DEFAULT_PORT)
    fake_port = _port(stripe_fake_port, values.get("STRIPE_FAKE_PORT"), DEFAULT_STRIPE_FAKE_PORT)
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
    stripe_key = os.environ.get("STRIPE_SECRET_KEY") or values.get("STRIPE_SECRET_KEY") or FAKE_STRIPE_KEY
    fake_stripe = stripe_key == FAKE_STRIPE_KEY
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m marketplace.localenv")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("prepare-run", help="write var/local.env and var/Procfile; print the exports")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", default="")
    run.add_argument("--stripe-fake-port", default="")
    args = parser.parse_args(argv)
    exports = prepare_run(host=args.host, port=args.port, stripe_fake_port=args.stripe_fake_port)
    sys.stdout.write("".join(f"export {key}={shlex.quote(value)}\n" for key, value in exports.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
