"""The mailed verification link and signup with an address that already has an account.

Row 17 of issue 13: mail scanners (link previews, corporate URL checkers) follow every link in a mail, so a
plain GET on the verification link verified the address for whoever typed it in. Now the link shows a
confirm page and only its POST (with the page's CSRF token) verifies.

Row 7: signing up with an existing address answered 500 (allauth mails the owner a "you already have an
account" note with a password-reset link, and HEADLESS_FRONTEND_URLS had no account_reset_password), which
also told anyone which addresses have accounts. Now it answers exactly as a new signup does.
"""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from tests.conftest import AUTH, PASSWORD, login, make_user, verification_key_from_mail

pytestmark = pytest.mark.django_db


def _link_path(email: str) -> str:
    body = [m for m in mail.outbox if email in m.to][-1].body
    link = re.search(r"https?://\S+/account/verify-email/\S+", body).group(0)
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


def _verified(email: str) -> bool:
    return EmailAddress.objects.filter(email=email, verified=True).exists()


def test_a_plain_get_on_the_mailed_link_does_not_verify(api):
    api.post(f"{AUTH}/signup", {"email": "scan@example.com", "password": PASSWORD}, format="json")
    path = _link_path("scan@example.com")
    browser = Client(enforce_csrf_checks=True)
    for accept in ("text/html", "application/json", "*/*"):
        page = browser.get(path, HTTP_ACCEPT=accept)
        assert page.status_code == 200
        assert not _verified("scan@example.com")
    page = browser.get(path)
    html = page.content.decode()
    assert "scan@example.com" in html and '<form method="post"' in html and "csrfmiddlewaretoken" in html
    assert browser.head(path).status_code in (200, 405)
    assert not _verified("scan@example.com")


def test_the_confirm_page_verifies_on_post_with_its_csrf_token(api):
    api.post(f"{AUTH}/signup", {"email": "ok@example.com", "password": PASSWORD}, format="json")
    path = _link_path("ok@example.com")
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    done = browser.post(path, {"csrfmiddlewaretoken": token})
    assert done.status_code == 200
    assert "is verified" in done.content.decode()
    assert _verified("ok@example.com")
    assert login(api, "ok@example.com")


def test_a_cross_site_post_without_the_token_does_not_verify(api):
    api.post(f"{AUTH}/signup", {"email": "csrf@example.com", "password": PASSWORD}, format="json")
    path = _link_path("csrf@example.com")
    response = Client(enforce_csrf_checks=True).post(path)
    assert response.status_code == 403
    assert not _verified("csrf@example.com")


def test_a_forged_key_is_refused_on_get_and_post(api):
    api.post(f"{AUTH}/signup", {"email": "dee@example.com", "password": PASSWORD}, format="json")
    key = verification_key_from_mail("dee@example.com")
    bad = f"/account/verify-email/{key[:-2]}xx"
    assert api.get(bad, HTTP_ACCEPT="application/json").status_code == 400
    assert api.get(bad, HTTP_ACCEPT="application/json").json()["error"]["code"] == "invalid_key"
    assert Client().post(bad).status_code == 400
    assert not _verified("dee@example.com")


def test_the_app_flow_still_posts_the_key(api):
    """Apps keep posting the key to allauth's headless endpoint (what tests/conftest.signup_and_verify does)."""
    response = api.post(f"{AUTH}/signup", {"email": "app@example.com", "password": PASSWORD}, format="json")
    token = response.json()["meta"]["session_token"]
    key = verification_key_from_mail("app@example.com")
    response = api.post(f"{AUTH}/email/verify", {"key": key}, format="json", HTTP_X_SESSION_TOKEN=token)
    assert response.status_code == 200
    assert _verified("app@example.com")


def _shape(response) -> tuple:
    body = response.json()
    flows = sorted((f["id"], f.get("is_pending", False)) for f in body["data"]["flows"])
    return response.status_code, flows, sorted(body["meta"]), body["meta"]["is_authenticated"]


def test_signup_with_an_existing_address_answers_like_a_new_one(api):
    make_user("taken@example.com")
    new = api.__class__().post(f"{AUTH}/signup", {"email": "fresh@example.com", "password": PASSWORD},
                               format="json")
    mail.outbox.clear()
    taken = api.__class__().post(f"{AUTH}/signup", {"email": "taken@example.com", "password": PASSWORD},
                                 format="json")
    assert taken.status_code != 500
    assert _shape(taken) == _shape(new)
    # The owner is told by mail (with a link to reset the password), the caller learns nothing.
    note = [m for m in mail.outbox if "taken@example.com" in m.to]
    assert len(note) == 1
    assert "/account/reset-password" in note[0].body
    from marketplace.models import User

    assert User.objects.filter(email="taken@example.com").count() == 1


def test_signup_with_an_existing_unverified_address_answers_like_a_new_one(api):
    make_user("pending@example.com", verified=False)
    new = api.__class__().post(f"{AUTH}/signup", {"email": "fresh2@example.com", "password": PASSWORD},
                               format="json")
    again = api.__class__().post(f"{AUTH}/signup", {"email": "pending@example.com", "password": PASSWORD},
                                 format="json")
    assert _shape(again) == _shape(new)


def test_confirming_an_address_another_account_verified_meanwhile_is_a_409(api):
    api.post(f"{AUTH}/signup", {"email": "race@example.com", "password": PASSWORD}, format="json")
    path = _link_path("race@example.com")
    other = make_user("other-owner@example.com")
    EmailAddress.objects.create(user=other, email="race@example.com", verified=True, primary=False)
    response = Client().post(path, HTTP_ACCEPT="application/json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "cannot_verify"
    assert not EmailAddress.objects.filter(email="race@example.com", verified=True).exclude(user=other).exists()
