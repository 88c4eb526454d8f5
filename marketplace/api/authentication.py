"""Authentication for people (allauth headless session tokens). Clients use tasks.api_auth (Api-Key)."""

from allauth.headless.contrib.rest_framework.authentication import XSessionTokenAuthentication


class SessionTokenAuthentication(XSessionTokenAuthentication):
    """X-Session-Token from allauth headless (app client). A missing or bad token is a 401 with
    WWW-Authenticate, not allauth's permissive default (which lets DRF answer 403)."""

    allow_anonymous_users = False
    allow_invalid_session_tokens = False
