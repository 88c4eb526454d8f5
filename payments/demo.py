"""Demo lines for `make run`: where Stripe calls go and how to walk the payout flow (docs/payments.md).
No demo money is created: the fake Stripe server keeps its accounts in memory, so Connect accounts are
made by walking onboarding (POST /api/v1/payout-account/, then open the returned link)."""

from django.conf import settings


def seed() -> list[str]:
    where = (f"fake Stripe at {settings.STRIPE_API_BASE} (python -m payments.fakestripe)" if settings.STRIPE_API_BASE
             else "Stripe itself (STRIPE_API_BASE unset)")
    return [
        f"Payments: {where}; webhooks at /webhooks/stripe/",
        "  payouts: POST /api/v1/payout-account/ (worker) -> open onboarding_url; finance and finance2 "
        "create/approve/execute /api/v1/payout-batches/ (docs/payments.md)",
    ]
