"""The password-reset pages the mails link to (HEADLESS_FRONTEND_URLS account_reset_password and
account_reset_password_from_key). Like the verification link, nothing happens on a GET; the forms POST with
a CSRF token; the request page answers the same whether or not the address has an account."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from django.test import Client, override_settings

from tests.conftest import AUTH, PASSWORD, login, make_user

pytestmark = pytest.mark.django_db
NEW = "a-brand-new-password-77"


def _form_post(client: Client, path: str, data: dict):
    page = client.get(path)
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    return client.post(path, {**data, "csrfmiddlewaretoken": token})


def _reset_link(email: str) -> str:
    body = [m for m in mail.outbox if email in m.to][-1].body
    return "/" + re.search(r"https?://\S+(/account/reset-password/\S+)", body).group(1).lstrip("/")


def test_the_request_page_answers_alike_for_known_and_unknown_addresses():
    make_user("known@example.com")
    known = _form_post(Client(enforce_csrf_checks=True), "/account/reset-password", {"email": "known@example.com"})
    unknown = _form_post(Client(enforce_csrf_checks=True), "/account/reset-password", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.content.decode().replace("known", "X") == unknown.content.decode().replace("nobody", "X")
    # The owner gets a reset link; an unknown address gets allauth's "no account here" note without one.
    mails = {m.to[0]: m.body for m in mail.outbox}
    assert re.search(r"/account/reset-password/\S+", mails["known@example.com"])
    assert not re.search(r"/account/reset-password/\S+", mails.get("nobody@example.com", ""))


def test_the_mailed_key_sets_a_new_password_only_on_post(api):
    user = make_user("reset@example.com")
    _form_post(Client(enforce_csrf_checks=True), "/account/reset-password", {"email": "reset@example.com"})
    path = _reset_link("reset@example.com")
    browser = Client(enforce_csrf_checks=True)
    assert browser.get(path).status_code == 200  # a scanner fetching the link changes nothing
    assert browser.post(path, {"password": NEW}).status_code == 403  # no CSRF token: refused
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    done = _form_post(browser, path, {"password": NEW})
    assert done.status_code == 200 and "password is changed" in done.content.decode()
    assert login(api, "reset@example.com", NEW)
    # The key is spent: its token hashes the old password.
    assert Client().get(path).status_code == 400
    assert Client().post(path, {"password": "another-password-88"}).status_code == 400
    assert get_user_model().objects.get(pk=user.pk).check_password(NEW)


def test_a_weak_password_or_a_forged_key_is_a_400_and_changes_nothing():
    user = make_user("weak@example.com")
    _form_post(Client(), "/account/reset-password", {"email": "weak@example.com"})
    path = _reset_link("weak@example.com")
    response = _form_post(Client(), path, {"password": "123"})
    assert response.status_code == 400
    assert Client().get(path[:-3] + "zzz/").status_code in (400, 404)
    assert Client().post(path.rstrip("/")[:-3] + "zzz", {"password": NEW}).status_code == 400
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@override_settings(ACCOUNT_RATE_LIMITS={"reset_password": "20/m/ip,2/m/key"})
def test_requests_are_rate_limited_per_address():
    cache.clear()
    make_user("many@example.com")
    codes = [_form_post(Client(), "/account/reset-password", {"email": "many@example.com"}).status_code
             for _ in range(4)]
    assert codes[:2] == [200, 200] and codes[-1] == 429
    assert len(mail.outbox) == 2
    cache.clear()


def test_signup_with_a_taken_address_mails_a_working_reset_link(api):
    make_user("taken2@example.com")
    api.post(f"{AUTH}/signup", {"email": "taken2@example.com", "password": PASSWORD}, format="json")
    body = [m for m in mail.outbox if "taken2@example.com" in m.to][-1].body
    path = "/" + re.search(r"https?://[^/\s]+/(account/reset-password)\b", body).group(1)
    assert Client().get(path).status_code == 200
