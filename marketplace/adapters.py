"""allauth's hooks for this project: who may sign up, what mails say, and the sign-in guards of issue 31
(rate limits that answer 429, one count per account whatever the entry point, no account enumeration by
timing, redirects only to paths on this site). docs/security.md, "Sign-in, sign-up, verification and password reset"."""

import secrets
from types import SimpleNamespace

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import ratelimit
from allauth.core.exceptions import ImmediateHttpResponse
from django import forms
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.utils.http import url_has_allowed_host_and_scheme


def is_same_site_path(url: str | None) -> bool:
    """A redirect target we follow: a path on this site ("/work/?x=1"), never a host, a scheme, a
    scheme-relative "//host", a backslash or control-character trick a browser would read as one, nor a
    relative "evil.com" (allauth's own check also trusts the request's Host header and absolute URLs)."""
    return bool(url) and url.startswith("/") and url_has_allowed_host_and_scheme(url, allowed_hosts=None)


class AccountAdapter(DefaultAccountAdapter):
    """Freelancers sign themselves up; staff roles are only ever granted by ops in the admin."""

    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=False)
        user.email = user.email.lower()
        user.is_staff = False
        user.is_superuser = False
        if commit:
            user.save()
        return user

    def send_mail(self, template_prefix, email, context):
        # Without django.contrib.sites allauth names the site after the request's host ("Hello from
        # 127.0.0.1:8600!"); mails greet with settings.SITE_NAME and sign with the public web address.
        site = SimpleNamespace(name=settings.SITE_NAME, domain=f"{settings.PUBLIC_BASE_URL}/")
        return super().send_mail(template_prefix, email, {**context, "current_site": site})

    def get_login_redirect_url(self, request):
        # Staff work in the admin; freelancers in the web app (settings.LOGIN_REDIRECT_URL). A ?next= wins.
        if request.user.is_authenticated and request.user.is_staff:
            return "/admin/"
        return super().get_login_redirect_url(request)

    def is_safe_url(self, url):
        # Every next= allauth reads (sign-in, sign-up, sign-out, reauthentication, the admin's login).
        return is_same_site_path(url)

    def _get_login_attempts_cache_key(self, request, **credentials):
        # allauth keys the per-account failure count on "<request host>:<login>", so each Host header an
        # attacker sends ("example.com:1", "example.com:2", ...; Django accepts any port of an allowed
        # host) started a fresh count. One count per address, whatever the host or entry point.
        login = credentials.get("email", credentials.get("username", ""))
        return f"login:{login.strip().lower()}"

    def pre_authenticate(self, request, **credentials):
        # Past the failed-login limit allauth answers a form error (400 in the API, 200 on the page);
        # a 429 says "slow down" to clients and proxies alike, on every entry point.
        try:
            super().pre_authenticate(request, **credentials)
        except forms.ValidationError:
            raise ImmediateHttpResponse(ratelimit.respond_429(request)) from None

    def respond_email_verification_sent(self, request, user):
        # user is None when the address already has an account: allauth then creates nothing and hashes
        # no password, while a new signup hashes one (set_password). Hash once here too, or the time of
        # the answer tells who has an account.
        if user is None:
            make_password(secrets.token_urlsafe(16))
        return super().respond_email_verification_sent(request, user)

