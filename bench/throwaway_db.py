"""A throwaway PostgreSQL database for a benchmark: created before the run, dropped after."""

import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent


def admin_dsn(url: str) -> str:
    """A libpq DSN for the server in `url` (its maintenance database), for CREATE/DROP DATABASE."""
    parsed = urlparse(url)
    return f"host={parsed.hostname or '127.0.0.1'} port={parsed.port or 5432} user={parsed.username or 'postgres'}" + (
        f" password={parsed.password}" if parsed.password else "") + f" dbname={parsed.path.lstrip('/') or 'postgres'}"


def recreate_db(server_url: str, name: str, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(admin_dsn(server_url), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if not drop_only:
            conn.execute(f"CREATE DATABASE {name}")


@contextmanager
def claim_load_database(prefix: str):
    """A throwaway, migrated database on BENCH_DATABASE_URL's server with bench/claim_load's settings
    (production: DEBUG=0, plain http on loopback with a secret of its own, no Redis), for this process and its
    children: yields the environment (already in os.environ), drops the database on the way out."""
    import psycopg

    server = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    dbname = f"bench_{prefix}_{os.getpid()}"
    var = tempfile.mkdtemp(prefix=f"bench-{prefix.replace('_', '-')}-")
    for sub in ("broker/out", "broker/processed", "mail", "static"):
        Path(var, sub).mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DATABASE_URL=urlparse(server)._replace(path=f"/{dbname}").geturl(),
               DJANGO_SETTINGS_MODULE="bench.claim_load_settings", DEBUG="0", VAR_DIR=var, PYTHONPATH=str(ROOT),
               SECRET_KEY="bench-secret-key-0123456789-abcdefghijklmnop", ALLOWED_HOSTS="testserver",
               QUEUE_MAX_LIVE_CLAIMS="100000000", LOG_LEVEL="WARNING", ACCOUNT_RATE_LIMITS_OFF="1",
               STRIPE_WEBHOOK_SECRET=f"whsec_{os.urandom(16).hex()}", SECURE_SSL_REDIRECT="0")
    env.pop("REDIS_URL", None)
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        os.environ.update(env)
        os.environ.pop("REDIS_URL", None)
        sys.path.insert(0, str(ROOT))
        yield env
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
