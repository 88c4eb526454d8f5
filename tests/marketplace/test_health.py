import pytest

from marketplace.celery import app as celery_app

pytestmark = pytest.mark.django_db


def test_healthz_up(api):
    response = api.get("/healthz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["broker"] == "ok"
    assert body["outbox"] == {"pending": 0, "oldest_seconds": None, "in_flight": 0}


@pytest.mark.redis
def test_healthz_is_degraded_not_down_when_the_broker_is_down(api, monkeypatch):
    """Requests still work without the broker (jobs wait in the outbox): 200, status degraded, broker named."""
    # Port 1 on loopback refuses connections: the broker is down.
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    celery_app.pool.force_close_all()
    try:
        response = api.get("/healthz")
    finally:
        monkeypatch.undo()
        celery_app.pool.force_close_all()
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded" and body["database"] == "ok"
    assert body["broker"].startswith("down")


def test_healthz_filesystem_broker_down_when_folder_unwritable(api, monkeypatch, tmp_path, settings):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the broker folder should be")
    settings.CELERY_BROKER_DIR = blocked
    monkeypatch.setattr(celery_app.conf, "broker_url", "filesystem://")
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded" and response.json()["broker"].startswith("down")
