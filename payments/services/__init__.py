"""Every write in the payments app. Other apps import from here (docs/internal-interfaces.md)."""

from payments.services.adjustments import ledger_adjustment_approve, ledger_adjustment_create, ledger_adjustment_reject
from payments.services.connect import payout_account_ensure, payout_account_onboarding_link
from payments.services.earnings import (
    earnings_credit_judgment,
    earnings_hold,
    earnings_hold_forfeit,
    earnings_hold_release,
)
from payments.services.ledger import ledger_account_get, ledger_post, ledger_transfer, worker_accounts_get
from payments.services.payouts import payout_batch_approve, payout_batch_create, payout_batch_execute

__all__ = [
    "earnings_credit_judgment",
    "earnings_hold",
    "earnings_hold_forfeit",
    "earnings_hold_release",
    "ledger_account_get",
    "ledger_adjustment_approve",
    "ledger_adjustment_create",
    "ledger_adjustment_reject",
    "ledger_post",
    "ledger_transfer",
    "payout_account_ensure",
    "payout_account_onboarding_link",
    "payout_batch_approve",
    "payout_batch_create",
    "payout_batch_execute",
    "worker_accounts_get",
]
