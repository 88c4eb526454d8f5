"""A throwaway PostgreSQL database for a benchmark: created before the run, dropped after."""

from urllib.parse import urlparse


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
