"""No account enumeration through sign-in, sign-up or password reset (issue 31).

An outsider compares the answers for an address that has an account with those for one that has none: the
status, the body, the headers and cookies, and how long it took. All must be the same; the only difference
is the mail the owner of the address gets (and no mail goes anywhere else).

Time is compared deterministically, by counting password hashes (a hash is what makes a slow answer: the
production hasher takes tens of milliseconds, everything else on these paths about one): a counting hasher
stands in for the test MD5 hasher, and each case must hash exactly as often as the unknown address.
Django's ModelBackend hashes a dummy password for an unknown user and allauth's backend does too; allauth
hashed nothing for a sign-up with a taken address while a new sign-up hashes its password
(marketplace.adapters.AccountAdapter.respond_email_verification_sent hashes once there)."""

import re

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core import mail
from django.core.cache import cache
from django.test import Client, override_settings
from rest_framework.test import APIClient

from tests.conftest import AUTH, PASSWORD, make_user

pytestmark = pytest.mark.django_db
WRONG = "wrong-password-123"
HASHES = [0]


class CountingHasher(MD5PasswordHasher):
    """The test hasher (algorithm "md5", so it reads the users' stored hashes), counting every hash it
    computes: make_password and check_password both end in encode()."""

    def encode(self, password, salt):
        HASHES[0] += 1
        return super().encode(password, salt)


@pytest.fixture(autouse=True)
def _counting_hasher():
    cache.clear()
    with override_settings(PASSWORD_HASHERS=["tests.marketplace.test_auth_enumeration.CountingHasher"]):
        yield
    cache.clear()


def _accounts():
    """Every kind of account an address can have, by a name used in the test ids."""
    make_user("verified@example.com")
    make_user("unverified@example.com", verified=False)
    inactive = make_user("inactive@example.com")
    inactive.is_active = False
    inactive.save()
    staff = make_user("staff-totp@example.com", groups=("ops",))
    TOTP.activate(staff, generate_totp_secret())
    # An account whose address row is missing (e.g. made by createsuperuser), and one without a password.
    from marketplace.models import User

    User.objects.create_superuser(email="no-address-row@example.com", password=PASSWORD)
    no_password = make_user("no-password@example.com")
    no_password.set_unusable_password()
    no_password.save()


KNOWN = ["verified@example.com", "unverified@example.com", "inactive@example.com", "staff-totp@example.com",
         "no-address-row@example.com", "no-password@example.com"]
UNKNOWN = "nobody-here@example.com"


def _normalised(response, email: str) -> tuple:
    """What an outsider sees, with the address itself and per-response randomness (CSRF tokens, session
    tokens, CSP nonces, request ids) blanked out."""
    text = response.content.decode()
    text = re.sub(re.escape(email), "EMAIL", text, flags=re.IGNORECASE)
    text = re.sub(r'(name="csrfmiddlewaretoken" value=")[^"]+', r"\1CSRF", text)
    text = re.sub(r'("session_token": ")[^"]+', r"\1TOKEN", text)
    text = re.sub(r"nonce-[A-Za-z0-9+/=_-]+|nonce=\"[^\"]+\"", "NONCE", text)
    volatile = {"x-request-id", "date", "expires", "content-length"}
    headers = sorted((name.lower(), re.sub(r"nonce-[A-Za-z0-9+/=_-]+", "NONCE",
                                           re.sub(re.escape(email), "EMAIL", value, flags=re.IGNORECASE)))
                     for name, value in response.headers.items() if name.lower() not in volatile)
    cookies = sorted((name, morsel["path"], morsel["samesite"], bool(morsel["httponly"]), bool(morsel["secure"]),
                      bool(morsel.value)) for name, morsel in response.cookies.items())
    return response.status_code, text, headers, cookies


def _observe(send, email: str) -> dict:
    """The answer to one request as an outsider sees it, and what it cost: hashes, and who got mail."""
    cache.clear()  # each request starts with the same rate-limit counters
    mail.outbox.clear()
    HASHES[0] = 0
    response = send(email)
    return {"answer": _normalised(response, email), "hashes": HASHES[0],
            "mailed": sorted(address for m in mail.outbox for address in m.to + m.cc + m.bcc)}


def _api_login(email):
    return APIClient().post(f"{AUTH}/login", {"email": email, "password": WRONG}, format="json")


def _page_login(email):
    return Client().post("/accounts/login/", {"login": email, "password": WRONG})


def _admin_login(email):
    client = Client()
    chain = client.get("/admin/", follow=True).redirect_chain
    assert chain and chain[-1][0].startswith("/accounts/login/")
    return client.post(chain[-1][0], {"login": email, "password": WRONG})


@pytest.mark.parametrize("send", [_api_login, _page_login, _admin_login], ids=["api", "web", "admin"])
def test_a_wrong_password_answers_like_an_unknown_address_and_hashes_alike(send):
    _accounts()
    unknown = _observe(send, UNKNOWN)
    assert unknown["hashes"] >= 1, "an unknown address must cost a hash like a known one"
    assert unknown["mailed"] == []
    for email in KNOWN:
        assert _observe(send, email) == unknown, email
        assert _observe(send, f"  {email.upper()} ") == unknown, email


def _api_signup(email):
    return APIClient().post(f"{AUTH}/signup", {"email": email, "password": PASSWORD}, format="json")


def _page_signup(email):
    return Client().post("/accounts/signup/", {"email": email, "password1": PASSWORD})


def _fresh(n: int) -> str:
    return f"fresh{n}@example.com"


@pytest.mark.parametrize("send", [_api_signup, _page_signup], ids=["api", "web"])
def test_a_signup_with_a_taken_address_answers_like_a_new_one_and_hashes_alike(send):
    _accounts()
    new = _observe(send, _fresh(0))
    assert new["hashes"] >= 1 and new["mailed"] == [_fresh(0)]
    assert EmailAddress.objects.filter(email=_fresh(0)).exists()
    for n, email in enumerate(KNOWN, 1):
        taken = _observe(send, email)
        assert taken["answer"] == new["answer"], email
        assert taken["hashes"] == new["hashes"], f"{email}: {taken['hashes']} hashes, a new signup {new['hashes']}"
        assert taken["mailed"] in ([], [email]), email  # its owner may be told; nobody else
        assert _observe(send, _fresh(n)) == {**new, "mailed": [_fresh(n)]}


def _api_reset(email):
    return APIClient().post(f"{AUTH}/password/request", {"email": email}, format="json")


def _page_reset(email):
    return Client().post("/account/reset-password", {"email": email})


@pytest.mark.parametrize("send", [_api_reset, _page_reset], ids=["api", "web"])
def test_a_reset_request_for_an_account_answers_like_one_for_an_unknown_address(send):
    _accounts()
    unknown = _observe(send, UNKNOWN)
    assert unknown["mailed"] == [UNKNOWN]  # allauth's "no account with this address" note
    for email in KNOWN:
        known = _observe(send, email)
        assert known["answer"] == unknown["answer"], email
        assert known["hashes"] == unknown["hashes"], email
        assert known["mailed"] == [email], email
