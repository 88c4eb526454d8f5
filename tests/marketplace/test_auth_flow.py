"""Signup -> verification mail -> verify -> login -> /me, through the real allauth headless endpoints."""

import re

import pytest
from django.core import mail

from tests.conftest import AUTH, PASSWORD, login, signup_and_verify, verification_key_from_mail

pytestmark = pytest.mark.django_db


def test_signup_verify_login_me(api):
    token = signup_and_verify(api, "ada@example.com")

    me = api.get("/api/v1/me/", HTTP_X_SESSION_TOKEN=token)
    assert me.status_code == 200
    body = me.json()
    assert body["email"] == "ada@example.com"
    assert body["onboarding"]["state"] != "registered"
    assert "email_verified" not in body["onboarding"]["missing"]

    # A fresh login works too and gives another token.
    token2 = login(api, "ada@example.com")
    assert token2 and token2 != token
    assert api.get("/api/v1/me/", HTTP_X_SESSION_TOKEN=token2).status_code == 200


def test_login_before_verification_is_refused(api):
    response = api.post(f"{AUTH}/signup", {"email": "bob@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 401
    flows = {f["id"]: f for f in response.json()["data"]["flows"]}
    assert flows["verify_email"]["is_pending"]
    response = api.post(f"{AUTH}/login", {"email": "bob@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 401  # still pending verification, no session
    assert response.json()["meta"].get("is_authenticated") is False


def test_mail_link_shows_a_confirm_page_and_its_post_verifies(api):
    """A GET never verifies (mail scanners follow links: tests/marketplace/test_verify_link_and_signup.py)."""
    api.post(f"{AUTH}/signup", {"email": "cy@example.com", "password": PASSWORD}, format="json")
    body = mail.outbox[-1].body
    link = re.search(r"http://\S+/account/verify-email/\S+", body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    response = api.get("/" + path, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["verified"] is False
    response = api.post("/" + path, HTTP_ACCEPT="application/json")  # APIClient skips CSRF like a form post
    assert response.json() == {"email": "cy@example.com", "verified": True}
    assert login(api, "cy@example.com")


def test_forged_verification_link_is_refused(api):
    api.post(f"{AUTH}/signup", {"email": "dee@example.com", "password": PASSWORD}, format="json")
    key = verification_key_from_mail("dee@example.com")
    response = api.get(f"/account/verify-email/{key[:-2]}xx", HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_key"


def test_me_without_or_with_bad_token_is_401_in_error_format(api):
    response = api.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "X-Session-Token"
    response = api.get("/api/v1/me/", HTTP_X_SESSION_TOKEN="forged-token")
    assert response.status_code == 401
    assert set(response.json()["error"]) >= {"code", "message", "fields"}


def test_unknown_api_path_is_json_404(api):
    response = api.get("/api/v1/does-not-exist/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_signup_cannot_make_itself_staff(api):
    response = api.post(f"{AUTH}/signup", {"email": "eve@example.com", "password": PASSWORD, "is_staff": True,
                                          "is_superuser": True}, format="json")
    assert response.status_code == 401
    from marketplace.models import User

    user = User.objects.get(email="eve@example.com")
    assert not user.is_staff and not user.is_superuser


def test_staff_roles_exist_with_permissions():
    from django.contrib.auth.models import Group

    ops = Group.objects.get(name="ops")
    finance = Group.objects.get(name="finance")
    assert ops.permissions.filter(codename="view_user").exists()
    assert not finance.permissions.filter(codename="view_user").exists()  # its API shows no accounts
    assert not finance.permissions.filter(content_type__app_label__in=("workers", "tasks", "quality")).exists()
    from marketplace.roles import is_security_model

    for group in (ops, finance):  # no role writes an account-security row (issue 13 row 1)
        writes = group.permissions.exclude(codename__startswith="view_").select_related("content_type")
        assert [p.codename for p in writes if is_security_model(p.content_type.app_label, p.content_type.model)] == []
    assert not finance.permissions.filter(content_type__app_label="payments", codename__startswith="delete_").exists()


@pytest.mark.django_db
def test_expired_or_deleted_session_token_is_401(api, person):
    """Tokens are looked up with one query (marketplace.api.tokens): a session that has expired or was
    deleted (logout elsewhere, admin) must still be refused, not half-loaded."""
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    who = person("sessions@example.com")
    assert who.get("/api/v1/me/").status_code == 200
    token = who.token
    Session.objects.filter(session_key=token).update(expire_date=timezone.now() - timezone.timedelta(seconds=1))
    assert api.get("/api/v1/me/", HTTP_X_SESSION_TOKEN=token).status_code == 401
    Session.objects.filter(session_key=token).delete()
    assert api.get("/api/v1/me/", HTTP_X_SESSION_TOKEN=token).status_code == 401
