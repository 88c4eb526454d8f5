"""The account pages of the web app: allauth's own views with our templates (signup, sign-in, verify)."""

import re
from urllib.parse import unquote

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def test_signup_sends_the_mail_and_verify_then_sign_in_lands_on_the_start_page():
    browser = Client(enforce_csrf_checks=False)
    page = browser.get("/accounts/signup/")
    assert page.status_code == 200 and b'name="password1"' in page.content
    mail.outbox.clear()
    response = browser.post("/accounts/signup/", {"email": "New@Example.com", "password1": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/accounts/confirm-email/"
    assert not EmailAddress.objects.get(email__iexact="new@example.com").verified
    key = unquote(re.search(r"/account/verify-email/(\S+)", mail.outbox[-1].body).group(1))
    confirm = browser.get(f"/account/verify-email/{key}")
    assert confirm.status_code == 200 and b"Confirm" in confirm.content
    browser.post(f"/account/verify-email/{key}")
    assert EmailAddress.objects.get(email__iexact="new@example.com").verified
    response = browser.post("/accounts/login/", {"login": "new@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert browser.get("/", follow=True).redirect_chain[-1][0] == "/start/"


def test_an_unverified_address_cannot_sign_in_and_is_told_to_verify():
    make_user("unverified@example.com", verified=False)
    response = Client().post("/accounts/login/", {"login": "unverified@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/accounts/confirm-email/"
    assert b"Verify your email address" in Client().get("/accounts/confirm-email/").content


def test_staff_land_in_the_admin_and_workers_on_the_start_page():
    from marketplace.models import OPS_GROUP

    make_user("ops@example.com", groups=(OPS_GROUP,))
    response = Client().post("/accounts/login/", {"login": "ops@example.com", "password": PASSWORD})
    assert response["Location"] == "/admin/"


def test_anonymous_visitors_are_sent_to_sign_in_and_back():
    response = Client().get("/start/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/start/"



def test_the_front_page_says_what_this_is_and_offers_sign_up_and_sign_in_and_the_icon_is_served():
    page = Client().get("/")
    html = page.content.decode()
    assert page.status_code == 200, page.status_code
    assert 'href="/accounts/signup/"' in html and 'href="/accounts/login/"' in html and "Paid work" in html
    assert 'rel="icon"' in html
    sign_in = Client().get("/accounts/login/").content.decode()
    assert "_allauth" not in sign_in and "POST " not in sign_in  # people get a form, not an API's address
    icon = Client().get("/favicon.ico")
    assert icon.status_code == 302 and icon["Location"].endswith("webapp/favicon.svg"), icon


@pytest.mark.parametrize("path,data", [
    ("/accounts/signup/", {"email": "csrf@example.com", "password1": PASSWORD}),
    ("/accounts/login/", {"login": "csrf@example.com", "password": PASSWORD}),
])
def test_account_forms_refuse_a_post_without_the_csrf_token(path, data):
    response = Client(enforce_csrf_checks=True).post(path, data)
    assert response.status_code == 403
    assert not EmailAddress.objects.filter(email="csrf@example.com").exists()


def test_staff_turn_two_factor_on_in_allauths_pages_and_then_sign_in_needs_the_code():
    import time

    from allauth.mfa import app_settings
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
    from django.core.cache import cache

    from marketplace.models import OPS_GROUP

    cache.clear()
    ops = make_user("ops@example.com", groups=(OPS_GROUP,))
    browser = Client()
    browser.force_login(ops)
    assert browser.get("/accounts/2fa/").status_code == 200
    response = browser.get("/accounts/2fa/totp/activate/")
    assert response["Location"].startswith("/accounts/reauthenticate/")
    browser.post("/accounts/reauthenticate/", {"password": PASSWORD})
    page = browser.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200 and b'name="code"' in page.content
    assert not re.search(rb"<script(?![^>]*\bsrc=)", page.content)  # allauth's page in our layout: no inline script
    secret = page.context["form"].secret
    code = format_hotp_value(hotp_value(secret, int(time.time()) // app_settings.TOTP_PERIOD))
    response = browser.post("/accounts/2fa/totp/activate/", {"code": code})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=ops, type=Authenticator.Type.TOTP).exists()
    fresh = Client()
    response = fresh.post("/accounts/login/", {"login": "ops@example.com", "password": PASSWORD})
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert fresh.get("/admin/").status_code == 302  # not signed in on the password alone


def test_a_spent_or_forged_mail_link_is_a_plain_page_for_a_browser_and_json_for_an_app():
    for path in ("/account/verify-email/not-a-key", "/account/reset-password/not-a-key"):
        page = Client().get(path, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
        assert page.status_code == 400 and b"This link does not work" in page.content
        app = Client().get(path, HTTP_ACCEPT="application/json")
        assert app.status_code == 400 and app.json()["error"]["code"] == "invalid_key"
