"""Production headers (test settings run with DEBUG off): HTTPS redirect, HSTS, CSP, and the rest.

By class (issue 31): every HTML answer of every route in the URL resolver (as anonymous, a worker and a
superuser; error pages and the CSRF failure page too) carries a CSP that allows scripts and styles from
this origin only and forbids framing, and X-Frame-Options DENY; no template of ours carries what that
policy would block (inline script, event handlers, style attributes or blocks, javascript: URLs), nor
does HTML built in Python (format_html). tests/marketplace/test_stored_xss.py checks the same headers on
every page of its stored-XSS sweep, with real data behind each page.
"""

import re

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.conftest import ROOT, make_user

pytestmark = pytest.mark.django_db


def test_plain_http_is_redirected_to_https_except_the_health_check(settings):
    settings.SECURE_SSL_REDIRECT = True  # the test settings turn it off for the plain-http test client
    client = Client()
    response = client.get("/api/v1/me/")
    assert response.status_code == 301 and response["Location"].startswith("https://")
    assert client.get("/healthz").status_code in (200, 503)  # load balancers probe over plain http


def test_https_responses_carry_hsts_and_the_protective_headers(settings):
    response = Client().get("/healthz", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def _policy(response) -> dict[str, list[str]]:
    return {part.strip().split(" ", 1)[0]: part.strip().split(" ", 1)[1].split()
            for part in response["Content-Security-Policy"].split(";") if part.strip()}


def assert_protective_html_headers(response, where: str):
    """What every HTML answer carries: no framing by any site, scripts and styles from this origin only."""
    assert response.get("X-Frame-Options") == "DENY", where
    assert "Content-Security-Policy" in response, where
    policy = _policy(response)
    assert policy["script-src"] == ["'self'"], (where, policy)
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"], (where, policy)
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"], (where, policy)
    assert "'unsafe-inline'" not in policy["style-src"] or response.wsgi_request.path == "/api/docs/", where


def test_content_security_policy_forbids_inline_scripts_and_framing():
    response = Client().get("/api/docs/", secure=True)
    assert response.status_code == 200
    policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert policy["script-src"].split() == ["'self'"]  # Swagger UI and Chart.js are served from here
    # Swagger UI's one inline <style> block: its page alone allows inline styles; every other page does not.
    assert policy["style-src"].split() == ["'self'", "'unsafe-inline'"]
    assert _policy(Client().get("/accounts/login/", secure=True))["style-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    # Swagger UI works under that policy: every script it loads is a file, none is inline.
    scripts = re.findall(r"<script([^>]*)>", response.content.decode())
    assert scripts and all("src=" in attributes for attributes in scripts)
    assert all(re.search(r'src="/', attributes) for attributes in scripts), scripts  # no other origin


def test_session_cookies_are_secure_in_production(settings):
    assert settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE and settings.SESSION_COOKIE_HTTPONLY


def _routes(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def _paths() -> list[str]:
    """A path for every route outside the JSON API, its arguments filled in (1, a slug): existing rows or
    not, each answers something, and an HTML answer (a page, a 404 page, a redirect) gets the headers."""
    paths = set()
    for route in _routes(get_resolver().url_patterns):
        if route.startswith(("api/v1/", "_allauth/")):
            continue
        if route.startswith("admin/^("):  # the admin's app index (a regex): one per registered app
            paths |= {f"/admin/{m._meta.app_label}/" for m in admin.site._registry}
            continue
        if route.endswith("(?P<url>.*)$"):  # the admin's catch-all
            paths.add("/admin/no-such-page/")
            continue
        path = re.sub(r"<int:\w+>|<path:\w+>", "1", route)
        path = re.sub(r"<slug:\w+>", "python", path)
        paths.add("/" + re.sub(r"<str:\w+>", "x1", path))
    return sorted(paths)


def test_every_html_answer_of_every_route_carries_the_csp_and_refuses_framing():
    worker = make_user("headers-worker@example.com")
    root = make_user("headers-root@example.com")
    type(root).objects.filter(pk=root.pk).update(is_staff=True, is_superuser=True)
    clients = {"anonymous": Client()}
    for name, user in (("worker", worker), ("superuser", root)):
        clients[name] = Client()
        clients[name].force_login(user)
    html = 0
    for path in _paths():
        for who, client in clients.items():
            response = client.get(path, secure=True)
            assert response.status_code < 500, (who, path, response.status_code)
            if response.get("Content-Type", "").startswith("text/html"):
                html += 1
                assert_protective_html_headers(response, f"{who} {path} ({response.status_code})")
    assert html > 150  # the admin's pages, the consoles, the web app, allauth's and our account pages
    # Django's own HTML error pages: the CSRF failure page, and the web app's 404 page.
    forged = Client(enforce_csrf_checks=True).post("/accounts/login/", {"login": "a@example.com"}, secure=True)
    assert forged.status_code == 403 and forged["Content-Type"].startswith("text/html")
    assert b"<style" not in forged.content and b"The form could not be sent" in forged.content  # not Django's
    assert_protective_html_headers(forged, "the CSRF failure page")
    missing = clients["worker"].get("/work/tasks/999999/", secure=True)
    assert missing.status_code == 404 and missing["Content-Type"].startswith("text/html")
    assert_protective_html_headers(missing, "the web app's 404 page")


TEMPLATE_FOLDERS = [ROOT / "marketplace" / "templates", ROOT / "webapp" / "templates"]
APPS = ("marketplace", "webapp", "workers", "tasks", "payments", "quality", "sandbox", "simulation")
# What the CSP blocks, and so what no template or Python-built HTML of ours may hold.
BLOCKED = {
    "an inline script": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I),
    "an event handler attribute": re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I),
    "a style attribute": re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I),
    "a <style> block": re.compile(r"<style\b", re.I),
    "a javascript: URL": re.compile(r"javascript:", re.I),
}


def _blocked_in(text: str) -> list[str]:
    return [name for name, pattern in BLOCKED.items() if pattern.search(text)]


def test_no_template_or_python_built_html_holds_what_the_csp_blocks():
    offenders = []
    for folder in TEMPLATE_FOLDERS:
        for path in folder.rglob("*.html"):
            offenders += [(str(path.relative_to(ROOT)), name) for name in _blocked_in(path.read_text())]
    # HTML built in Python: the literal templates of format_html and format_html_join.
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            for literal in re.findall(r"format_html(?:_join)?\((?:[^,]*,\s*)?\s*(['\"])(.*?)\1", path.read_text()):
                offenders += [(str(path.relative_to(ROOT)), name) for name in _blocked_in(literal[1])]
    assert not offenders, offenders


def test_the_scan_finds_each_thing_the_csp_blocks():
    """The scan can fail: each blocked thing in a template is found, and the allowed forms are not."""
    assert _blocked_in("<script>alert(1)</script>") == ["an inline script"]
    assert _blocked_in('<img src=x onerror="alert(1)">') == ["an event handler attribute"]
    assert _blocked_in('<span style="width: 5%">') == ["a style attribute"]
    assert _blocked_in("<style>p{}</style>") == ["a <style> block"]
    assert _blocked_in('<a href="javascript:go()">') == ["a javascript: URL"]
    assert _blocked_in('<script src="/static/x.js" defer></script><progress class="bar" value="5">') == []
