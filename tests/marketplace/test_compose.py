"""docker-compose.yml, .env.example and the Dockerfile, read as Docker would read them (Docker is not needed).

The rules (issue 32): compose honours .env; Stripe itself is one switch away (no YAML edit, no broken
depends_on); demo users with public passwords are never seeded unless asked for; .env.example's
placeholder secrets are refused; every long-running service restarts; the app user can write its mail
folder; .env.example can be sourced by sh. `_compose_services` follows compose's rules for what these
files use: `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset only), `${VAR:?error}`,
`$$`; the project's .env for interpolation, the shell's variables winning over it; profiles from
COMPOSE_PROFILES; `env_file` lines first, `environment:` over them.
"""

import json
import os
import re
import shlex
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
A_REAL_SECRET_KEY = "Hq2-vN8_tR4-yK6_wP0-sL3_mZ9-dF5_bX7-cJ1-gA"
A_REAL_WEBHOOK_SECRET = "whsec_" + "Vb4Nq" * 7
A_REAL_STRIPE_KEY = "sk_live_" + "Ld7Ke" * 6
# Set by the worker service itself and not settings one tunes in .env: the folder its command creates, and
# the address its metrics port binds on the compose network (the default, 127.0.0.1, would be unreachable).
CONTAINER_WIRING = {"worker": {"PROMETHEUS_MULTIPROC_DIR", "CELERY_METRICS_ADDR"}}


class MissingVariable(Exception):
    pass


_VARIABLE = re.compile(r"\$(?:\$|\{(?P<braced>\w+)(?P<op>:?[-?])?(?P<arg>[^}]*)\}|(?P<bare>\w+))")


def _interpolate(text: str, variables: dict[str, str]) -> str:
    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = variables.get(name)
        unset_or_empty = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return arg if unset_or_empty else value
        if op in (":?", "?"):
            if unset_or_empty:
                raise MissingVariable(f"{name}: {arg}")
            return value
        return value or ""

    return _VARIABLE.sub(one, text)


def _interpolate_all(node, variables):
    if isinstance(node, str):
        return _interpolate(node, variables)
    if isinstance(node, list):
        return [_interpolate_all(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_all(value, variables) for key, value in node.items()}
    return node


def read_dotenv(text: str) -> dict[str, str]:
    """An env file as compose reads it, for the forms .env.example uses (and a refusal of any other)."""
    values = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = re.fullmatch(r'([A-Za-z_]\w*)=(?:"([^"\\$`]*)"|\'([^\']*)\'|([^\s"\'$`#\\]*))(\s+#.*)?', stripped)
        assert match, f".env line {number} is not KEY=\"value\": {line!r}"
        key, double, single, bare, _ = match.groups()
        values[key] = next(v for v in (double, single, bare) if v is not None)
    return values


def _compose_services(dotenv: dict[str, str] | None, shell: dict[str, str] | None = None) -> dict[str, dict]:
    """The active services as `docker compose up` would start them: interpolated, environment merged."""
    variables = {**(dotenv or {}), **(shell or {})}
    document = yaml.safe_load(COMPOSE.read_text())  # PyYAML resolves the << merge keys, as compose does
    profiles = {p.strip() for p in variables.get("COMPOSE_PROFILES", "").split(",") if p.strip()}
    services = {}
    for name, service in document["services"].items():
        if service.get("profiles") and not profiles & set(service["profiles"]):
            continue
        service = _interpolate_all(service, variables)
        environment = {}
        for env_file in service.get("env_file", []):
            path = env_file["path"] if isinstance(env_file, dict) else env_file
            assert path == ".env", path
            environment.update(dotenv or {})
        declared = service.get("environment", {})
        if isinstance(declared, list):
            declared = dict(item.split("=", 1) for item in declared)
        environment.update({key: "" if value is None else str(value) for key, value in declared.items()})
        services[name] = {**service, "environment": environment, "declared": set(declared)}
    return services


def _app_services(services):
    return {name: s for name, s in services.items() if s.get("image") == "labeling-marketplace:latest"
            and name != "fakestripe"}


def _env_example(**changes) -> dict[str, str]:
    values = read_dotenv(ENV_EXAMPLE.read_text())
    values.update(changes)
    return values


def _settings(environment: dict[str, str], expression: str = "s.DEBUG"):
    """Import the settings with exactly a container's environment (plus PATH), as the image would."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **environment}
    return subprocess.run([sys.executable, "-c", f"import marketplace.settings as s; print({expression})"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)


# --- .env is honoured ---------------------------------------------------------------------------------


def test_every_variable_compose_sets_takes_the_value_in_dot_env():
    """`environment:` beats `env_file:`: a constant there silently overrides .env (DATABASE_URL, ALLOWED_HOSTS,
    PUBLIC_BASE_URL, EMAIL_BACKEND were). Each must be `${NAME...}`, so .env (or the shell) wins."""
    services = _app_services(_compose_services(_env_example(SECRET_KEY=A_REAL_SECRET_KEY)))
    names = set().union(*(s["declared"] for s in services.values()))
    assert {"DATABASE_URL", "ALLOWED_HOSTS", "PUBLIC_BASE_URL", "EMAIL_BACKEND"} <= names
    dotenv = _env_example(**{name: f"from-dot-env-{name.lower()}" for name in names})
    ignored = []
    for service_name, service in _app_services(_compose_services(dotenv)).items():
        for name in names - CONTAINER_WIRING.get(service_name, set()):
            if service["environment"].get(name) != dotenv[name]:
                ignored.append(f"{service_name}: {name}={service['environment'].get(name)!r}")
    assert ignored == [], "docker-compose.yml ignores .env for " + ", ".join(ignored)
    # The shell wins over .env, as compose does it.
    shell = _compose_services(dotenv, shell={"ALLOWED_HOSTS": "shell.example.com"})
    assert shell["web"]["environment"]["ALLOWED_HOSTS"] == "shell.example.com"


def test_the_local_stack_from_env_example_starts_the_production_settings():
    """.env.example with a SECRET_KEY of one's own: DEBUG=0 over plain http on localhost, the stack's own
    PostgreSQL and Redis, the bundled fake Stripe, and settings that start."""
    services = _compose_services(_env_example(SECRET_KEY=A_REAL_SECRET_KEY))
    web = services["web"]["environment"]
    assert "fakestripe" in services
    assert web["DATABASE_URL"].endswith("@postgres:5432/marketplace") and web["REDIS_URL"].startswith("redis://redis:")
    assert web["STRIPE_API_BASE"] == "http://fakestripe:12111"
    for name, service in _app_services(services).items():
        result = _settings(service["environment"], "(s.DEBUG, s.SECURE_SSL_REDIRECT, s.ALLOWED_HOSTS)")
        assert result.returncode == 0, f"{name}: {result.stderr[-2000:]}"
        assert result.stdout.strip() == "(False, False, ['localhost', '127.0.0.1', 'web'])", name
    # The fake Stripe signs its events with the secret the web verifies them with.
    assert f"--webhook-secret {web['STRIPE_WEBHOOK_SECRET']} " in services["fakestripe"]["command"]


def test_env_example_as_is_and_no_env_file_refuse_to_start():
    """Its SECRET_KEY is a placeholder: refused, naming it. Without a .env compose has no key at all (a default
    written in docker-compose.yml would be public): it refuses before starting anything."""
    web = _compose_services(_env_example())["web"]["environment"]
    result = _settings(web)
    assert result.returncode != 0
    assert "SECRET_KEY is a placeholder ('change-me-to-at-least-32-random-characters'" in result.stderr
    with pytest.raises(MissingVariable, match="SECRET_KEY: set SECRET_KEY in .env"):
        _compose_services(None)


# --- Stripe itself by variables --------------------------------------------------------------------------


def _real_stripe(**changes):
    return _env_example(SECRET_KEY=A_REAL_SECRET_KEY, COMPOSE_PROFILES="", STRIPE_API_BASE="",
                        STRIPE_SECRET_KEY=A_REAL_STRIPE_KEY, STRIPE_WEBHOOK_SECRET=A_REAL_WEBHOOK_SECRET, **changes)


def _missing_dependencies(services) -> list[str]:
    return [f"{name} -> {target}" for name, service in services.items()
            for target, rule in (service.get("depends_on") or {}).items()
            if target not in services and (not isinstance(rule, dict) or rule.get("required", True))]


def test_stripe_itself_is_a_dot_env_switch_with_no_broken_dependency():
    """COMPOSE_PROFILES="" and STRIPE_API_BASE="" (.env.example says so): no fake Stripe started, no service
    waiting for it, and the app talks to Stripe itself (an empty STRIPE_API_BASE means Stripe itself)."""
    services = _compose_services(_real_stripe())
    assert "fakestripe" not in services
    assert _missing_dependencies(services) == []
    for name, service in _app_services(services).items():
        assert service["environment"]["STRIPE_API_BASE"] == "", name
        assert service["environment"]["STRIPE_SECRET_KEY"] == A_REAL_STRIPE_KEY, name
    result = _settings(services["web"]["environment"], "repr(s.STRIPE_API_BASE)")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "''"
    # With the fake Stripe on, everything still waits for it to be healthy before migrating.
    local = _compose_services(_env_example(SECRET_KEY=A_REAL_SECRET_KEY))
    assert _missing_dependencies(local) == [] and "fakestripe" in local["migrate"]["depends_on"]


def test_stripe_itself_with_compose_s_public_webhook_secret_refuses_to_start():
    """Switching to Stripe itself but forgetting the webhook secret: compose's documented local value is
    public, tolerated only against the fake Stripe."""
    dotenv = _real_stripe()
    del dotenv["STRIPE_WEBHOOK_SECRET"]
    result = _settings(_compose_services(dotenv)["web"]["environment"])
    assert result.returncode != 0 and "STRIPE_WEBHOOK_SECRET is a public value" in result.stderr


# --- demo users, restarts, the image ---------------------------------------------------------------------


def _run_migrate_command(tmp_path, **dotenv_changes) -> list[str]:
    """The migrate service's command, run by sh with a `python` that records its arguments."""
    service = _compose_services(_env_example(SECRET_KEY=A_REAL_SECRET_KEY, **dotenv_changes))["migrate"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "python-calls"
    log.write_text("")
    fake = bin_dir / "python"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {shlex.quote(str(log))}\n')
    fake.chmod(0o755)
    command = service["command"]
    argv = shlex.split(command) if isinstance(command, str) else command
    env = {**service["environment"], "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return log.read_text().splitlines()


def test_demo_users_are_seeded_only_when_asked_for(tmp_path):
    """The demo logins (admin@example.com / demo-password-123, a superuser) in a DEBUG=0 stack anyone can
    reach: only with SEED_DEMO=1, and then seed_demo must be told it is allowed (it refuses DEBUG=0)."""
    assert _run_migrate_command(tmp_path) == ["manage.py migrate --noinput"]
    assert _run_migrate_command(tmp_path, SEED_DEMO="yes") == ["manage.py migrate --noinput"]
    assert _run_migrate_command(tmp_path, SEED_DEMO="1") == ["manage.py migrate --noinput",
                                                             "manage.py seed_demo --allow-production"]
    others = {name: s.get("command") for name, s in _compose_services(_env_example(SECRET_KEY=A_REAL_SECRET_KEY)).items()
              if name != "migrate"}
    assert [name for name, command in others.items() if "seed_demo" in str(command)] == []


def test_every_long_running_service_restarts_and_one_shots_do_not():
    services = _compose_services(_env_example(SECRET_KEY=A_REAL_SECRET_KEY))
    one_shots = {target for s in services.values() for target, rule in (s.get("depends_on") or {}).items()
                 if isinstance(rule, dict) and rule.get("condition") == "service_completed_successfully"}
    assert one_shots == {"migrate"}
    def restarts_as_it_should(name: str, restart) -> bool:
        if name in one_shots:  # done once it succeeded; a failure is for a person to read, not a loop
            return restart == "no" or str(restart).startswith("on-failure")
        return restart in {"always", "unless-stopped"}

    wrong = {name: s.get("restart") for name, s in services.items() if not restarts_as_it_should(name, s.get("restart"))}
    assert wrong == {}


def test_the_image_creates_every_folder_the_app_writes_owned_by_its_user():
    """A named volume mounted on a folder the image lacks is root's: the app user could not write mail.
    Every volume of an app service under /app must exist in the image, owned by the user it runs as."""
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    user_line = max(i for i, line in enumerate(lines) if line.startswith("USER "))
    user = lines[user_line].split()[1]
    before = " && ".join(line.removeprefix("RUN ") for line in lines[:user_line] if line.startswith("RUN "))
    steps = [shlex.split(step) for step in before.split("&&")]
    made = {arg for step in steps if step[:2] == ["mkdir", "-p"] for arg in step[2:]}
    owned = [arg for step in steps if step[:3] == ["chown", "-R", user] for arg in step[3:]]
    targets = {volume.split(":")[1] for s in _app_services(_compose_services(_env_example(SECRET_KEY="k"))).values()
               if s.get("user") is None for volume in s.get("volumes", [])}
    assert "/app/var/mail" in targets  # settings: EMAIL_FILE_PATH = VAR_DIR / "mail", VAR_DIR = /app/var
    for target in targets:
        assert any(path == target or path.startswith(target + "/") for path in made), f"{target} is not in the image"
        assert any(target == path or target.startswith(path.rstrip("/") + "/") for path in owned), \
            f"{target} is not owned by {user}"


def test_the_web_health_check_asks_as_an_allowed_host(tmp_path):
    """.env may allow only the public host name: the check must not be refused with 400 (DisallowedHost)."""
    from django.http.request import validate_host

    test = _compose_services(_env_example(SECRET_KEY="k"))["web"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    capture = ("import json, sys, urllib.request\n"
               "urllib.request.urlopen = lambda request, timeout: print(json.dumps([request.full_url, "
               "request.get_header('Host')]))\n"
               f"exec({test[3]!r})\n")
    for allowed in ("marketplace.example.com,localhost", ".example.com", "*", "localhost,127.0.0.1,web"):
        result = subprocess.run([sys.executable, "-c", capture], env={"ALLOWED_HOSTS": allowed}, capture_output=True,
                                text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        url, host = json.loads(result.stdout)
        assert url == "http://127.0.0.1:8000/healthz"
        assert validate_host(host, [h.strip() for h in allowed.split(",")]), (allowed, host)


# --- .env.example as a shell file ------------------------------------------------------------------------


def test_env_example_sources_in_sh_with_the_values_compose_reads():
    """`set -a; . ./.env.example` in sh (an unquoted value with a space ran its second word as a command), and
    sh reads every value exactly as compose does."""
    script = 'set -ae; . ./.env.example; exec "$0" -c "import json, os; print(json.dumps(dict(os.environ)))"'
    result = subprocess.run(["sh", "-c", script, sys.executable], cwd=ROOT, env={"PATH": os.environ["PATH"]},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    sourced = json.loads(result.stdout)
    compose = read_dotenv(ENV_EXAMPLE.read_text())
    assert {k: sourced.get(k) for k in compose} == compose
    assert compose["MFA_TOTP_ISSUER"] == "Labeling Marketplace"
