"""Production headers (test settings run with DEBUG off): HTTPS redirect, HSTS, CSP, and the rest."""

import re

import pytest
from django.test import Client

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


def test_content_security_policy_forbids_inline_scripts_and_framing():
    response = Client().get("/api/docs/", secure=True)
    assert response.status_code == 200
    policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert policy["script-src"].split() == ["'self'"]  # Swagger UI and Chart.js are served from here
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    # Swagger UI works under that policy: every script it loads is a file, none is inline.
    scripts = re.findall(r"<script([^>]*)>", response.content.decode())
    assert scripts and all("src=" in attributes for attributes in scripts)
    assert all(re.search(r'src="/', attributes) for attributes in scripts), scripts  # no other origin


def test_session_cookies_are_secure_in_production(settings):
    assert settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE and settings.SESSION_COOKIE_HTTPONLY
