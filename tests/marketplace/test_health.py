import pytest

from marketplace.celery import app as celery_app

pytestmark = pytest.mark.django_db


def test_healthz_up(api):
    response = api.get("/healthz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["database"] == "ok" and body["broker"] == "ok"


@pytest.mark.redis
def test_healthz_names_the_broker_when_it_is_down(api, monkeypatch):
    # Port 1 on loopback refuses connections: the broker is down.
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    celery_app.pool.force_close_all()
    try:
        response = api.get("/healthz")
    finally:
        monkeypatch.undo()
        celery_app.pool.force_close_all()
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"].startswith("down")


def test_healthz_filesystem_broker_down_when_folder_unwritable(api, monkeypatch, tmp_path, settings):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the broker folder should be")
    settings.CELERY_BROKER_DIR = blocked
    monkeypatch.setattr(celery_app.conf, "broker_url", "filesystem://")
    response = api.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"].startswith("down")
