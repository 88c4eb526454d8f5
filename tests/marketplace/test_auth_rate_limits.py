"""Rate limits on sign-in, sign-up and password reset (issue 31), with the limits production runs
(marketplace.settings._ACCOUNT_RATE_LIMITS_ON; the rest of the suite runs with them off).

Every entry point counts in the same buckets and answers 429 past a limit: the API (/_allauth/app/v1/...),
the web app's pages (/accounts/..., /account/reset-password) and the admin (which sends a browser to the
web app's sign-in). The per-account count folds case and spaces, and ignores the Host header (allauth keyed
it on "<host>:<email>", so each port of an allowed host started a fresh count); the per-IP count ignores
X-Forwarded-For (TRUSTED_PROXY_COUNT is 0). A 429 on sign-up and reset comes at the same count whether
or not the address has an account."""

import itertools

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client, override_settings
from rest_framework.test import APIClient

from marketplace.settings import _ACCOUNT_RATE_LIMITS_ON
from tests.conftest import AUTH, PASSWORD, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_production_limits")]
WRONG = "wrong-password-123"
EMAIL = "victim@example.com"
# The same address as a browser, a script or a sloppy typist sends it.
SPELLINGS = ["victim@example.com", "  VICTIM@Example.COM ", "Victim@EXAMPLE.com", "victim@example.com\t",
             "VICTIM@example.com"]
HOSTS = ["testserver", "testserver:8001", "TESTSERVER:8002", "127.0.0.1", "testserver:1"]
ENTRIES = ("api", "web", "admin")


@pytest.fixture
def _production_limits():
    cache.clear()  # the counters live in the cache
    with override_settings(ACCOUNT_RATE_LIMITS=_ACCOUNT_RATE_LIMITS_ON):
        yield
    cache.clear()


def _ip(n: int) -> str:
    return f"203.0.113.{n}"


def _login(entry: str, email: str, password: str, *, ip: str, host: str = "testserver",
           forwarded: str | None = None) -> tuple[int, bool]:
    """(status code of the last answer, signed in?) for one sign-in through one entry point."""
    extra = {"REMOTE_ADDR": ip, "HTTP_HOST": host}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    if entry == "api":
        response = APIClient().post(f"{AUTH}/login", {"email": email, "password": password}, format="json",
                                    **extra)
        return response.status_code, response.status_code == 200
    client = Client()
    url = "/accounts/login/"
    if entry == "admin":  # the admin's own way in: whatever form /admin/ sends a signed-out browser to
        chain = client.get("/admin/", follow=True, **extra).redirect_chain
        url = chain[-1][0] if chain else "/admin/"
        assert url.startswith("/accounts/login/"), chain
    response = client.post(url, {"login": email, "password": password}, **extra)
    return response.status_code, "_auth_user_id" in client.session


@pytest.mark.parametrize("last", ENTRIES)
def test_failed_logins_on_one_account_are_429_on_every_entry_point_whatever_the_spelling_host_or_ip(last):
    """Five failures (allauth's 5/5m/key) spread over the API, the web app and the admin, each from another
    address, another Host and another spelling of the address; the sixth, with the right password, is a
    429 wherever it comes from and signs nobody in."""
    make_user(EMAIL, groups=("ops",))
    entries = itertools.cycle(ENTRIES)
    for n, (spelling, host) in enumerate(zip(SPELLINGS, HOSTS, strict=True)):
        status, signed_in = _login(next(entries), spelling, WRONG, ip=_ip(n), host=host)
        assert status != 429 and not signed_in, (n, status)
    status, signed_in = _login(last, EMAIL, PASSWORD, ip=_ip(99), host="testserver:9999")
    assert status == 429 and not signed_in


@pytest.mark.parametrize("last", ENTRIES)
def test_failed_logins_from_one_address_are_429_across_accounts_and_entry_points(last):
    """Ten failures (10/m/ip) on ten different accounts, through all entry points, each claiming another
    X-Forwarded-For; the eleventh, a right password for another account, is a 429."""
    make_user(EMAIL)
    entries = itertools.cycle(ENTRIES)
    for n in range(10):
        status, _ = _login(next(entries), f"guess{n}@example.com", WRONG, ip=_ip(1), forwarded=_ip(100 + n))
        assert status != 429, (n, status)
    status, signed_in = _login(last, EMAIL, PASSWORD, ip=_ip(1), forwarded=_ip(200))
    assert status == 429 and not signed_in


def test_the_429_is_json_for_apps_and_a_page_for_browsers():
    for n in range(5):
        _login("api", EMAIL, WRONG, ip=_ip(n))
    api = APIClient().post(f"{AUTH}/login", {"email": EMAIL, "password": WRONG}, format="json",
                           REMOTE_ADDR=_ip(50))
    assert api.status_code == 429 and api.json()["status"] == 429
    page = Client().post("/accounts/login/", {"login": EMAIL, "password": WRONG}, REMOTE_ADDR=_ip(51))
    assert page.status_code == 429 and page["Content-Type"].startswith("text/html")
    assert b"Too many attempts" in page.content and b"<form" not in page.content


def _signup(entry: str, email: str, *, ip: str) -> int:
    if entry == "api":
        return APIClient().post(f"{AUTH}/signup", {"email": email, "password": PASSWORD}, format="json",
                                REMOTE_ADDR=ip).status_code
    return Client().post("/accounts/signup/", {"email": email, "password1": PASSWORD},
                         REMOTE_ADDR=ip).status_code


def _signup_codes(email: str) -> list[int]:
    """Four sign-ups of one address in four spellings, from four IPs, alternating API and web app."""
    cache.clear()
    spellings = [email, f"  {email.upper()} ", email.capitalize(), f"{email}\t"]
    return [_signup(entry, spelling, ip=_ip(n))
            for n, (entry, spelling) in enumerate(zip(itertools.cycle(("api", "web")), spellings))]


def test_signups_of_one_address_are_429_after_three_whether_or_not_it_has_an_account():
    make_user("taken@example.com")
    taken = _signup_codes("taken@example.com")
    fresh = _signup_codes("fresh@example.com")
    # The API answers 401 (verification pending), the page a redirect to "check your mail", then 429.
    assert taken == fresh == [401, 302, 401, 429]
    mailed = [m.to for m in mail.outbox]
    assert all(to in (["taken@example.com"], ["fresh@example.com"]) for to in mailed), mailed
    from marketplace.models import User

    assert User.objects.filter(email__in=["taken@example.com", "fresh@example.com"]).count() == 2


@pytest.mark.parametrize("last", ("api", "web"))
def test_signups_from_one_address_are_429_after_sixty(last):
    for n in range(60):
        assert _signup(("api", "web")[n % 2], f"new{n}@example.com", ip=_ip(7)) in (401, 302), n
    assert _signup(last, "one-more@example.com", ip=_ip(7)) == 429
    assert _signup(last, "one-more@example.com", ip=_ip(8)) in (401, 302)


def _reset(entry: str, email: str, *, ip: str) -> int:
    if entry == "api":
        return APIClient().post(f"{AUTH}/password/request", {"email": email}, format="json",
                                REMOTE_ADDR=ip).status_code
    return Client().post("/account/reset-password", {"email": email}, REMOTE_ADDR=ip).status_code


def _reset_codes(email: str) -> list[int]:
    cache.clear()
    spellings = [email, f" {email.upper()}", email.capitalize(), f"{email} "]
    return [_reset(entry, spelling, ip=_ip(n))
            for n, (entry, spelling) in enumerate(zip(itertools.cycle(("api", "web")), spellings))]


def test_reset_requests_for_one_address_are_429_after_three_whether_or_not_it_has_an_account():
    make_user("known@example.com")
    mail.outbox.clear()
    known = _reset_codes("known@example.com")
    unknown = _reset_codes("nobody@example.com")
    assert known == unknown == [200, 200, 200, 429]
    assert sorted(m.to[0] for m in mail.outbox) == ["known@example.com"] * 3 + ["nobody@example.com"] * 3


@pytest.mark.parametrize("last", ("api", "web"))
def test_reset_requests_from_one_address_are_429_after_twenty(last):
    for n in range(20):
        assert _reset(("api", "web")[n % 2], f"someone{n}@example.com", ip=_ip(9)) == 200, n
    assert _reset(last, "one-more@example.com", ip=_ip(9)) == 429
    assert _reset(last, "one-more@example.com", ip=_ip(10)) == 200


def test_with_the_cache_down_the_limits_fail_open_and_sign_in_still_works():
    """The cache (Redis) is down: allauth's counters cannot be read or written. As README and docs/design.md
    say, the limits then fail open; before, allauth could not take its counting lock and answered every
    sign-in, sign-up and reset with a 429 for the whole outage."""
    dead = {"default": {"BACKEND": "marketplace.cache.ResilientRedisCache", "LOCATION": "redis://127.0.0.1:1/0",
                        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
    make_user(EMAIL)
    with override_settings(CACHES=dead):
        assert _login("api", EMAIL, PASSWORD, ip=_ip(1)) == (200, True)
        assert _login("web", EMAIL, WRONG, ip=_ip(1))[0] == 200  # the form again, with its error
        assert _reset("api", EMAIL, ip=_ip(1)) == 200
        assert _signup("api", "outage@example.com", ip=_ip(1)) == 401


def test_a_password_reset_lifts_the_lock_on_the_account():
    """The owner of a locked account gets back in by resetting the password (allauth clears the count of
    each of the account's addresses, under the same key the adapter counts with)."""
    import re
    from urllib.parse import unquote

    make_user(EMAIL)
    for n in range(5):
        _login("api", EMAIL, WRONG, ip=_ip(n))
    assert _login("api", EMAIL, PASSWORD, ip=_ip(20)) == (429, False)
    mail.outbox.clear()
    assert _reset("web", EMAIL, ip=_ip(21)) == 200
    key = unquote(re.search(r"/account/reset-password/(\S+)", mail.outbox[-1].body).group(1))
    response = APIClient().post(f"{AUTH}/password/reset", {"key": key, "password": "a-new-password-4567"},
                                format="json", REMOTE_ADDR=_ip(21))
    assert response.status_code in (200, 401), response.content
    assert _login("web", f" {EMAIL.upper()}", "a-new-password-4567", ip=_ip(22)) == (302, True)
