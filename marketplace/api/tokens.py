"""allauth headless session tokens, looked up in one query instead of two."""

from allauth.headless.internal import sessionkit
from allauth.headless.tokens.strategies.sessions import SessionTokenStrategy as AllauthSessionTokenStrategy


class SessionTokenStrategy(AllauthSessionTokenStrategy):
    """allauth's strategy asks the session store whether the key exists, then loads it (two queries on
    every authenticated request). Loading alone tells the same: a missing or expired session comes back
    without a key. allauth's own sessionkit.lookup_session does exactly that."""

    def lookup_session(self, session_token: str):
        return sessionkit.lookup_session(session_token)
