"""Open redirects through sign-in, sign-up and sign-out (issue 31): every parameter that names where to go
next (allauth's and Django's `next`) only ever sends the browser to a path on this site.

One table of hostile values, each tried on every endpoint that reads such a parameter: allauth's sign-in
(form post, and a signed-in visit), sign-up, sign-out, reauthentication and two-factor step; the admin's
login (which hands `next` to allauth) and logout (Django's own check). Each endpoint also honours a plain
path, so the table cannot pass by ignoring `next` altogether. The headless API takes no redirect parameter
(no allauth.socialaccount, so no `callback_url`); test_no_other_view_reads_a_redirect_parameter checks that
our own views read none either. marketplace.adapters.is_same_site_path is the rule."""

import re
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.core.cache import cache
from django.test import Client

from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]

# Each of these, as a Location, sends a browser to another site (or runs script).
HOSTILE = [
    "//evil.com", "//evil.com/account", "///evil.com", "////evil.com",
    "https://evil.com", "http://evil.com/", "HTTPS://EVIL.COM", "https:evil.com", "https:/evil.com",
    "/\\evil.com", "\\\\evil.com", "\\/evil.com", "/\\/evil.com",
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
    "/\t/evil.com", "/\n/evil.com", "\t//evil.com", " //evil.com", "/\r\n/evil.com",
    "//testserver@evil.com", "https://testserver@evil.com/", "https://evil.com\\@testserver/",
    "http://testserver.evil.com/", "https://evil.com#@testserver/",
]
# These stay on the site as a Location (relative to the current page, or our own host) but are not paths:
# refused too (percent-encoded slashes are "//evil.com" once more decoded; allauth trusts the Host header).
ODD = ["%2F%2Fevil.com", "%2f%2fevil.com", "evil.com", "evil.com/account", "http://testserver/work/"]
SAFE = "/work/?tab=1"


def _stays_here(location: str) -> bool:
    """Whether a browser given this Location stays on this site: after what browsers do to a URL (spaces
    and control characters at the ends dropped, tabs and newlines dropped anywhere, a backslash read as a
    slash), it has no other host and no other scheme."""
    url = location.strip("".join(map(chr, range(0x21))))
    url = re.sub(r"[\t\n\r]", "", url).replace("\\", "/")
    scheme = re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", url)
    if scheme:  # absolute: only http(s) to this very host
        return bool(re.match(r"https?://testserver(?=[/?#]|$)", url, re.IGNORECASE))
    return not url.startswith("//")  # a path, or a reference relative to the current page


def _worker():
    return make_user("worker-next@example.com")


def _staff(totp: bool = False):
    user = make_user("staff-next@example.com", groups=("ops",))
    if totp:
        secret = generate_totp_secret()
        TOTP.activate(user, secret)
        return user, secret
    return user, None


def _login_post(value):
    _worker()
    return [Client().post("/accounts/login/", {"login": "worker-next@example.com", "password": PASSWORD,
                                               "next": value})["Location"]]


def _login_visit_signed_in(value):
    client = Client()
    client.force_login(_worker())
    return [client.get("/accounts/login/", {"next": value})["Location"]]


def _login_page_then_post(value):
    """The page carries next in a hidden field; the browser posts what the page holds."""
    _worker()
    client = Client()
    page = client.get("/accounts/login/", {"next": value})
    held = re.search(r'name="next" value="([^"]*)"', page.content.decode())
    data = {"login": "worker-next@example.com", "password": PASSWORD}
    if held:
        from html import unescape

        data["next"] = unescape(held.group(1))
    return [client.post("/accounts/login/", data)["Location"]]


def _signup_post(value):
    response = Client().post(f"/accounts/signup/?next={quote(value, safe='')}",
                             {"email": "new-next@example.com", "password1": PASSWORD, "next": value})
    return [response["Location"]]


def _logout_post(value):
    client = Client()
    client.force_login(_worker())
    return [client.post("/accounts/logout/", {"next": value})["Location"]]


def _reauthenticate_post(value):
    client = Client()
    client.force_login(_worker())
    return [client.post(f"/accounts/reauthenticate/?next={quote(value, safe='')}",
                        {"password": PASSWORD, "next": value})["Location"]]


def _two_factor_step(value):
    cache.clear()  # used TOTP codes live in the cache
    _, secret = _staff(totp=True)
    client = Client()
    first = client.post("/accounts/login/", {"login": "staff-next@example.com", "password": PASSWORD,
                                             "next": value})["Location"]
    code = format_hotp_value(hotp_value(secret, int(time.time()) // mfa_settings.TOTP_PERIOD))
    return [first, client.post("/accounts/2fa/authenticate/", {"code": code})["Location"]]


def _admin_login(value):
    """/admin/login/?next=... sends the browser to allauth's form; the staff member signs in there and is
    followed through every redirect."""
    _staff()
    client = Client()
    hops = []
    response = client.get(f"/admin/login/?next={quote(value, safe='')}")
    while response.status_code in (301, 302):
        hops.append(response["Location"])
        response = client.get(response["Location"])
    form_url = hops[-1] if hops else "/admin/login/"
    page = response.content.decode()
    held = re.search(r'name="next" value="([^"]*)"', page)
    data = {"login": "staff-next@example.com", "password": PASSWORD}
    if held:
        from html import unescape

        data["next"] = unescape(held.group(1))
    response = client.post(form_url, data)
    while response.status_code in (301, 302) and len(hops) < 10:
        hops.append(response["Location"])
        if not _stays_here(response["Location"]):
            break
        response = client.get(response["Location"])
    return hops


def _admin_logout(value):
    user, _ = _staff()
    client = Client()
    client.force_login(user)
    response = client.post(f"/admin/logout/?next={quote(value, safe='')}")
    return [response["Location"]] if response.status_code in (301, 302) else []


ENDPOINTS = {
    "login": (_login_post, SAFE),
    "login signed in": (_login_visit_signed_in, SAFE),
    "login page": (_login_page_then_post, SAFE),
    "signup": (_signup_post, None),  # verification is mandatory: always "check your mail"
    "logout": (_logout_post, SAFE),
    "reauthenticate": (_reauthenticate_post, SAFE),
    "two-factor": (_two_factor_step, SAFE),
    "admin login": (_admin_login, "/admin/marketplace/user/"),
    "admin logout": (_admin_logout, SAFE),
}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_plain_path_is_followed(endpoint):
    """The positive control: each endpoint really reads its parameter."""
    send, safe = ENDPOINTS[endpoint]
    hops = send(safe or SAFE)
    assert hops and all(_stays_here(hop) for hop in hops), hops
    if safe:
        assert hops[-1] == safe, hops


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("value", HOSTILE + ODD, ids=[repr(v) for v in HOSTILE + ODD])
def test_a_hostile_next_never_leaves_the_site(endpoint, value):
    send, _ = ENDPOINTS[endpoint]
    hops = send(value)
    assert hops, "no redirect at all"
    assert all(_stays_here(hop) for hop in hops), hops


@pytest.mark.parametrize("value", ["https://evil.com/", "//evil.com"])
def test_a_forged_host_header_does_not_make_another_host_same_site(value):
    """allauth's own check trusts the request's Host ("is the target on the host asked for?"): with
    ALLOWED_HOSTS="*" (these tests, or a careless deployment) a request for Host: evil.com made
    https://evil.com/ "safe". Only paths are followed, whatever the Host."""
    _worker()
    response = Client().post("/accounts/login/", {"login": "worker-next@example.com", "password": PASSWORD,
                                                  "next": value}, HTTP_HOST="evil.com")
    assert _stays_here(response["Location"]), response["Location"]


def test_the_rule_itself():
    from marketplace.adapters import is_same_site_path

    assert is_same_site_path("/") and is_same_site_path(SAFE) and is_same_site_path("/admin/?q=//x")
    assert [v for v in HOSTILE + ODD if is_same_site_path(v)] == []
    assert not is_same_site_path("") and not is_same_site_path(None)


def test_the_checker_catches_what_browsers_follow():
    """_stays_here must not be the weak link: every hostile value, as a Location, leaves the site."""
    assert [v for v in HOSTILE if _stays_here(v)] == []
    assert all(_stays_here(v) for v in [*ODD, "/work/", "/%2F%2Fevil.com", "http://testserver"])


def test_no_other_view_reads_a_redirect_parameter():
    """Our own views never read `next`, `redirect_to`, `redirect_url`, `return_to` or `callback_url` from a
    request (a client's webhook `callback_url` is a validated serializer field, not a redirect): allauth's pages (with the adapter's rule) and Django's admin are the only readers, and the
    table above covers them. A new reader has to join the table."""
    pattern = re.compile(r"""request\.(GET|POST|query_params|data|REQUEST)(\.get\(|\[)\s*["'](next|redirect\w*|return\w*|"""
                         r"""callback\w*|continue)["']""")
    readers = []
    for app in ("marketplace", "webapp", "workers", "tasks", "payments", "quality", "sandbox", "simulation"):
        for path in (ROOT / app).rglob("*.py"):
            if pattern.search(path.read_text()):
                readers.append(str(path.relative_to(ROOT)))
    assert readers == []
    from django.urls import Resolver404, resolve

    for path in ("/_allauth/app/v1/auth/provider/redirect", "/_allauth/browser/v1/auth/provider/redirect"):
        with pytest.raises(Resolver404):
            resolve(path)
