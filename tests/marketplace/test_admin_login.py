"""The admin signs in through allauth (issue 13 rows 2 and 3): a staff user with TOTP on cannot reach
/admin/ with the password alone, and repeated wrong passwords are rate limited like every allauth login.

Each test walks the admin's own way in: GET /admin/, follow the redirects to whatever login form the admin
sends a browser to, and post the credentials there (both field names: Django's admin form calls the email
"username", allauth's calls it "login"), so the tests also fail if a second, weaker login form appears."""

import re

import pytest
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.core.cache import cache
from django.test import Client, override_settings

from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db
LIMITS = {"login_failed": "10/m/ip,5/5m/key", "login": "30/m/ip"}


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # rate-limit counters and used TOTP codes live in the cache
    yield
    cache.clear()


def _staff(email="ops-login@example.com", groups=("ops",)):
    return make_user(email, groups=groups)


def _login_form(client: Client) -> str:
    """The URL of the form the admin sends a signed-out browser to."""
    response = client.get("/admin/", follow=True)
    assert response.status_code == 200
    return response.redirect_chain[-1][0] if response.redirect_chain else "/admin/"


def _post_password(client: Client, email: str, password: str):
    url = _login_form(client)
    return client.post(url, {"username": email, "login": email, "password": password}, follow=True)


def _in_admin(client: Client) -> bool:
    response = client.get("/admin/")
    return response.status_code == 200 and b"Site administration" in response.content


def _totp_code(secret: str) -> str:
    import time

    from allauth.mfa import app_settings

    return format_hotp_value(hotp_value(secret, int(time.time()) // app_settings.TOTP_PERIOD))


def test_the_admin_login_page_is_allauths():
    client = Client()
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    page = client.get(response["Location"])
    assert page.status_code == 200 and b'name="login"' in page.content and b"csrfmiddlewaretoken" in page.content


def test_staff_without_mfa_signs_in_to_the_admin():
    _staff()
    client = Client()
    _post_password(client, "ops-login@example.com", PASSWORD)
    assert _in_admin(client)


def test_totp_staff_cannot_reach_the_admin_with_the_password_alone():
    user = _staff()
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    client = Client()
    # Django's own admin form, posted directly (what an attacker with the password would try first).
    client.post("/admin/login/?next=/admin/", {"username": user.email, "password": PASSWORD,
                                               "next": "/admin/"})
    assert not _in_admin(client)
    # The form the admin sends a browser to: the password leads to the second factor, not in.
    page = _post_password(client, user.email, PASSWORD)
    assert page.redirect_chain and page.redirect_chain[-1][0].startswith("/accounts/2fa/authenticate/")
    assert not _in_admin(client)
    # A wrong code keeps the door shut; the right one opens it.
    wrong = f"{(int(_totp_code(secret)) + 1) % 1_000_000:06d}"
    client.post("/accounts/2fa/authenticate/", {"code": wrong})
    assert not _in_admin(client)
    response = client.post("/accounts/2fa/authenticate/", {"code": _totp_code(secret)}, follow=True)
    assert response.status_code == 200
    assert _in_admin(client)


@override_settings(ACCOUNT_RATE_LIMITS=LIMITS)
def test_repeated_wrong_passwords_are_rate_limited():
    _staff()
    client = Client()
    for _ in range(10):
        _post_password(client, "ops-login@example.com", "wrong-password-123")
        assert not _in_admin(client)
    page = _post_password(client, "ops-login@example.com", PASSWORD)
    assert not _in_admin(client), "the right password after 10 wrong ones was accepted"
    text = page.content.decode()
    assert page.status_code == 429 or re.search(r"[Tt]oo many", text), text[:2000]


@override_settings(ACCOUNT_RATE_LIMITS=LIMITS)
def test_the_limit_is_per_account_and_lifts_for_others():
    _staff()
    _staff("other@example.com")
    attacker = Client()
    for _ in range(6):
        _post_password(attacker, "ops-login@example.com", "wrong-password-123")
    colleague = Client()
    _post_password(colleague, "other@example.com", PASSWORD)
    assert _in_admin(colleague)


def test_a_worker_signing_in_there_gets_no_admin():
    make_user("worker-login@example.com")
    client = Client()
    _post_password(client, "worker-login@example.com", PASSWORD)
    assert not _in_admin(client)
    assert client.get("/admin/").status_code in (302, 403)


def test_an_unverified_staff_address_gets_a_page_not_a_500():
    make_user("unverified-staff@example.com", groups=("ops",), verified=False)
    client = Client()
    page = _post_password(client, "unverified-staff@example.com", PASSWORD)
    assert page.status_code == 200
    assert not _in_admin(client)


def test_a_superuser_from_createsuperuser_verifies_its_address_on_first_sign_in():
    """No EmailAddress row yet (manage.py createsuperuser): allauth mails a link; the confirm page's POST
    verifies it; the next sign-in opens the admin (README, "Ops: pools and suspensions")."""
    from django.core import mail

    from marketplace.models import User

    User.objects.create_superuser(email="root-new@example.com", password=PASSWORD)
    client = Client()
    page = _post_password(client, "root-new@example.com", PASSWORD)
    assert page.status_code == 200 and not _in_admin(client)
    body = [m for m in mail.outbox if "root-new@example.com" in m.to][-1].body
    path = "/" + re.search(r"https?://[^/\s]+/(account/verify-email/\S+)", body).group(1)
    client.post(path)
    _post_password(client, "root-new@example.com", PASSWORD)
    assert _in_admin(client)
