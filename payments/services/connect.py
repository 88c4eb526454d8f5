"""Stripe Connect onboarding: one express account per worker, account links, account.updated."""

import logging

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction

from marketplace.errors import ServiceError
from payments.models import StripeAccount
from payments.stripe_api import error_code, stripe_client

logger = logging.getLogger(__name__)


class StripeUnavailable(ServiceError):
    status_code = 502
    default_code = "stripe_unavailable"


def payout_account_ensure(*, user) -> tuple[StripeAccount, bool]:
    """The worker's Stripe express account, created on first call. Returns (account, created).

    Exactly one account per person: Stripe is called with an idempotency key derived from the user id (two
    concurrent calls get the same account back from Stripe), and StripeAccount.user is unique (the loser
    of an insert race reads the winner's row). No database transaction is held open across the call.
    """
    existing = StripeAccount.objects.filter(user_id=user.pk).first()
    if existing is not None:
        return existing, False
    try:
        account = stripe_client().v1.accounts.create(
            params={"type": "express", "email": user.email, "metadata": {"user_id": str(user.pk)},
                    "capabilities": {"transfers": {"requested": True}}},
            options={"idempotency_key": f"connect-account-user-{user.pk}"})
    except stripe.StripeError as exc:
        logger.warning("Stripe account creation for user %s failed: %s", user.pk, exc)
        raise StripeUnavailable(f"Stripe did not create the account ({error_code(exc)}); try again.") from exc
    try:
        with transaction.atomic():
            row = StripeAccount.objects.create(user_id=user.pk, stripe_id=account["id"],
                                               payouts_enabled=bool(account["payouts_enabled"]),
                                               details_submitted=bool(account["details_submitted"]))
        return row, True
    except IntegrityError:
        return StripeAccount.objects.get(user_id=user.pk), False


def payout_account_onboarding_link(*, user, return_url: str | None = None) -> dict:
    """Ensures the account and returns a fresh Stripe account link: {onboarding_url, expires_at, created}.
    ``return_url``: where Stripe sends the person back to (the web app's earnings page); default the
    PAYMENTS_ONBOARDING_RETURN_URL / REFRESH_URL settings, else this server's payout-account endpoint."""
    row, created = payout_account_ensure(user=user)
    base = settings.PUBLIC_BASE_URL
    try:
        link = stripe_client().v1.account_links.create(params={
            "account": row.stripe_id, "type": "account_onboarding",
            "refresh_url": return_url or settings.PAYMENTS_ONBOARDING_REFRESH_URL or f"{base}/api/v1/payout-account/",
            "return_url": return_url or settings.PAYMENTS_ONBOARDING_RETURN_URL or f"{base}/api/v1/payout-account/"})
    except stripe.StripeError as exc:
        raise StripeUnavailable(f"Stripe did not create the onboarding link ({error_code(exc)}); try again.") from exc
    return {"account": row, "onboarding_url": link["url"], "expires_at": link["expires_at"], "created": created}


@transaction.atomic
def stripe_account_updated(*, account: dict, event_created: int) -> bool:
    """Applies an account.updated snapshot: payouts_enabled and details_submitted, and tells the workers
    app (onboarding state payout_ready). Events can arrive out of order: a snapshot older than the one
    already applied is ignored. Returns False for an account that is not ours."""
    row = StripeAccount.objects.select_for_update().filter(stripe_id=account["id"]).first()
    if row is None:
        return False
    if event_created < row.state_as_of:
        return True
    row.payouts_enabled = bool(account.get("payouts_enabled"))
    row.details_submitted = bool(account.get("details_submitted"))
    row.state_as_of = event_created
    row.save(update_fields=["payouts_enabled", "details_submitted", "state_as_of", "updated_at"])
    from workers.services import worker_payouts_enabled_set

    worker_payouts_enabled_set(user_id=row.user_id, enabled=row.payouts_enabled)
    return True


@transaction.atomic
def stripe_payout_failed(*, account_id: str, payout: dict) -> bool:
    """A connected account's payout to its bank failed: the money is still in the worker's Stripe balance
    (our transfer succeeded), so the ledger does not move; the failure is shown on the payout account."""
    message = f"{payout.get('failure_code') or 'failed'}: {payout.get('failure_message') or ''}".strip()
    return bool(StripeAccount.objects.filter(stripe_id=account_id).update(last_payout_failure=message[:1000]))
