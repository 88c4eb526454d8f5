"""/api/ answers in the one error shape even where Django answers itself, with DEBUG on; Swagger UI is
served from our own static files."""

import re

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _shape(response, status, code):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert set(body["error"]) >= {"code", "message", "fields"}


@pytest.mark.parametrize("debug", [True, False])
def test_unknown_api_url_is_a_json_404(settings, debug):
    settings.DEBUG = debug
    _shape(APIClient().get("/api/v1/no-such-thing/"), 404, "not_found")


@pytest.mark.parametrize("debug", [True, False])
def test_an_unexpected_exception_is_a_json_500_and_still_logged(settings, monkeypatch, caplog, debug):
    settings.DEBUG = debug
    from marketplace import views

    def broken(request):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.health, "database_status", broken)
    # /healthz is outside /api/: Django's own page there; inside /api/ the schema view is patched instead.
    from drf_spectacular.views import SpectacularAPIView

    monkeypatch.setattr(SpectacularAPIView, "get", lambda self, request, *a, **kw: broken(request))
    client = APIClient(raise_request_exception=False)
    with caplog.at_level("ERROR", logger="django.request"):
        response = client.get("/api/schema/")
    _shape(response, 500, "server_error")
    assert "boom" not in response.content.decode()
    assert any("boom" in (r.exc_text or "") or (r.exc_info and "boom" in str(r.exc_info[1])) for r in caplog.records)


def test_drf_errors_keep_their_detail_under_debug(settings):
    settings.DEBUG = True
    _shape(APIClient().get("/api/v1/me/"), 401, "not_authenticated")


def test_swagger_ui_loads_nothing_from_another_host(settings):
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"""(src|href)=["']https?://""", html), html
    assert "swagger-ui-bundle.js" in html


def test_a_sqlite_bug_is_not_mistaken_for_the_database_being_away(tmp_path):
    """SQLite reports a syntax error as OperationalError, like a locked database: only the second is a 503
    (try again); a bug stays a 500 with its traceback in the log, never hidden as "unavailable"."""
    import sqlite3

    from django.db import OperationalError
    from django.db.utils import DatabaseErrorWrapper

    from marketplace.api.errors import is_database_unavailable

    def raised(sql, path):
        conn = sqlite3.connect(path)
        try:
            with DatabaseErrorWrapper(type("W", (), {"Database": sqlite3})()):
                conn.execute(sql)
        except OperationalError as exc:
            return exc
        finally:
            conn.close()

    bug = raised("SELECT FROM nowhere", ":memory:")
    assert bug is not None and not is_database_unavailable(bug)
    locked_db = tmp_path / "locked.sqlite3"
    holder = sqlite3.connect(locked_db, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        conn = sqlite3.connect(locked_db, timeout=0)
        try:
            with DatabaseErrorWrapper(type("W", (), {"Database": sqlite3})()):
                conn.execute("SELECT * FROM t")
        except OperationalError as exc:
            locked = exc
        finally:
            conn.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "locked" in str(locked) and is_database_unavailable(locked)
