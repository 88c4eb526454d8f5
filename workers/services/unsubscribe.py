"""One-click unsubscribe from the "new work" mails, from a signed link in the mail (no sign-in needed).

The token is the worker's id signed with SECRET_KEY and a salt of its own (django.core.signing), so it can
neither be forged nor derived from another worker's token, and it is only good for this one purpose. It
expires after UNSUBSCRIBE_TOKEN_MAX_AGE_SECONDS; a bad or expired token changes nothing.
"""

from django.conf import settings
from django.core import signing
from django.db import transaction

from marketplace.errors import ValidationFailed
from workers.models import WorkerProfile

_SALT = "workers.unsubscribe.notify_new_work"


def unsubscribe_token(*, user_id: int) -> str:
    return signing.dumps(user_id, salt=_SALT, compress=False)


def unsubscribe_url(*, user_id: int) -> str:
    return f"{settings.PUBLIC_BASE_URL}/unsubscribe/{unsubscribe_token(user_id=user_id)}"


def worker_for_unsubscribe_token(token: str) -> int:
    """The worker id the token was made for; ValidationFailed if it is altered, forged or expired."""
    try:
        user_id = signing.loads(token, salt=_SALT, max_age=settings.UNSUBSCRIBE_TOKEN_MAX_AGE_SECONDS)
    except signing.SignatureExpired:
        raise ValidationFailed("This unsubscribe link has expired. Switch the mails off on your profile page.",
                               code="token_expired") from None
    except signing.BadSignature:
        raise ValidationFailed("This unsubscribe link is not valid. Switch the mails off on your profile page.",
                               code="token_invalid") from None
    if not isinstance(user_id, int):
        raise ValidationFailed("This unsubscribe link is not valid.", code="token_invalid")
    return user_id


@transaction.atomic
def unsubscribe_new_work(*, token: str) -> int:
    """Switches the token's worker's "new work" mails off (idempotent); returns the worker id."""
    user_id = worker_for_unsubscribe_token(token)
    WorkerProfile.objects.filter(user_id=user_id).update(notify_new_work=False)
    return user_id
