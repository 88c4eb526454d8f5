"""The base class of allauth's signup forms (ACCOUNT_SIGNUP_FORM_CLASS), the API's and the web app's alike.
Its own module: allauth imports it while building allauth.account.forms, so it imports nothing of that."""

from allauth.core import context, ratelimit
from allauth.core.exceptions import ImmediateHttpResponse
from django import forms


class SignupGuard(forms.Form):
    """The base of both allauth signup forms, the API's and the web app's (ACCOUNT_SIGNUP_FORM_CLASS):
    a per-address limit on sign-ups (action "signup_email" of ACCOUNT_RATE_LIMITS), counted alike whether or
    not the address has an account, so a 429 tells nothing about it. allauth's own "signup" limit is per
    IP only, and each signup with a taken address mails its owner."""

    def clean(self):
        cleaned_data = super().clean()
        email = cleaned_data.get("email")
        if email and not ratelimit.consume(context.request, action="signup_email", key=email.strip().lower()):
            raise ImmediateHttpResponse(ratelimit.respond_429(context.request))
        return cleaned_data

    def signup(self, request, user):
        """allauth calls this after saving a new user; nothing to add."""
