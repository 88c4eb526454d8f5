"""What GET /healthz checks: the database and the Celery broker, each with a short timeout."""

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"
    except Exception as exc:  # any driver error means "down" for a health check
        return f"down: {type(exc).__name__}"


def broker_status() -> str:
    from marketplace.celery import app

    url = str(app.conf.broker_url)
    if url.startswith("filesystem://"):
        folder = settings.CELERY_BROKER_DIR / "out"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".healthz"
            probe.write_text("ok")
            probe.unlink()
            return "ok"
        except OSError as exc:
            return f"down: {exc.strerror or type(exc).__name__}"
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
            # Redis accepts a TCP connection before it is usable; a round trip proves it answers.
            client = getattr(conn.default_channel, "client", None)
            if client is not None:
                client.ping()
        return "ok"
    except Exception as exc:  # kombu raises many types; all mean "not reachable"
        return f"down: {type(exc).__name__}"


def worker_status() -> dict:
    """Informational: when a Celery worker last ran the heartbeat job. Not part of the 200/503 decision,
    because the API still accepts work (queued on the broker) while workers restart."""
    from marketplace.models import Heartbeat

    beat = Heartbeat.objects.filter(name="worker").first()
    if beat is None:
        return {"status": "unknown", "last_heartbeat": None}
    stale_after = timedelta(seconds=settings.HEARTBEAT_SECONDS * 3)
    fresh = timezone.now() - beat.beat_at <= stale_after
    return {"status": "ok" if fresh else "stale", "last_heartbeat": beat.beat_at.isoformat()}


def outbox_status() -> dict:
    """Jobs committed but not yet published to the broker (marketplace.outbox): a growing backlog with an
    old oldest event means the relay is not running or the broker is down."""
    from marketplace.outbox import outbox_backlog

    return outbox_backlog(cap=10_000)
