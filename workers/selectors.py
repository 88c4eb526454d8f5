"""Reads about workers. Onboarding state is derived from the facts, never stored twice."""

from allauth.account.models import EmailAddress


def worker_email_verified(*, user) -> bool:
    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


def worker_onboarding_get(*, user) -> dict:
    """The worker's onboarding state and what is still missing, in the order it must be done."""
    missing = []
    if not worker_email_verified(user=user):
        missing.append("email_verified")
    state = "registered" if missing else "email_verified"
    return {"state": state, "missing": missing}
