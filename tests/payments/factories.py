"""Small builders for payments tests: approved judgments (through the tasks models), paid workers."""

import itertools
from datetime import timedelta

from django.utils import timezone

_seq = itertools.count(1)


def make_project(*, reward_cents: int = 125, currency: str = "usd", client=None):
    from tasks.models import Client, Project

    client = client or Client.objects.create(name=f"client-{next(_seq)}")
    return Project.objects.create(client=client, name=f"project-{next(_seq)}", task_type="rating",
                                  label_schema={"min": 1, "max": 5}, instructions="Rate it.",
                                  data_use_statement="Training data.", reward_cents=reward_cents, currency=currency,
                                  overlap=3)


def make_judgment(*, worker, project, status: str = "approved"):
    from tasks.models import Assignment, Judgment, Task

    now = timezone.now()
    task = Task.objects.create(project=project, external_id=f"t-{next(_seq)}", data={"content": "x"}, overlap=3,
                               n_active=1, n_submitted=1)
    assignment = Assignment.objects.create(task=task, worker=worker, project=project, status="submitted",
                                           claimed_at=now, expires_at=now + timedelta(minutes=15), finished_at=now)
    return Judgment.objects.create(assignment=assignment, task=task, project=project, worker=worker,
                                   answer={"score": 3}, status=status)


def clear(worker):
    """Marks the worker cleared by quality evidence (what payments.services.clearance does when their
    standings pass), so their credits are payable at once: tests about payouts and adjustments start there."""
    from payments.models import EarningsClearance

    EarningsClearance.objects.update_or_create(worker=worker, defaults={"status": "cleared", "reason": "evidence"})


def credit(worker, *, n: int = 1, reward_cents: int = 125, currency: str = "usd", project=None,
           cleared: bool = True) -> list[int]:
    """n approved judgments for the worker, each credited through the real service. Returns judgment ids.
    cleared (default): the worker's evidence has cleared them, the credits are payable; False: they start
    pending (the credit's default for a new worker)."""
    from payments.services import earnings_credit_judgment

    if cleared:
        clear(worker)

    project = project or make_project(reward_cents=reward_cents, currency=currency)
    ids = []
    for _ in range(n):
        judgment = make_judgment(worker=worker, project=project)
        assert earnings_credit_judgment(judgment_id=judgment.pk) is True
        ids.append(judgment.pk)
    return ids


def connect(worker, *, stripe_id: str | None = None, enabled: bool = True):
    """A StripeAccount row with payouts enabled (without going through Stripe)."""
    from payments.models import StripeAccount

    return StripeAccount.objects.create(user=worker, stripe_id=stripe_id or f"acct_test{worker.pk}",
                                        payouts_enabled=enabled, details_submitted=enabled)


def assert_ledger_consistent():
    """Every transaction sums to zero, the whole ledger sums to zero, every cached balance equals the sum
    of its entries, and the platform funding account's cache is untouched (it is derived, not cached)."""
    from django.db.models import Sum

    from payments.models import LedgerAccount, LedgerEntry
    from payments.selectors import ledger_account_entry_sums, ledger_unbalanced_transactions

    assert ledger_unbalanced_transactions() == []
    assert (LedgerEntry.objects.aggregate(t=Sum("amount_cents"))["t"] or 0) == 0
    sums = ledger_account_entry_sums()
    for account in LedgerAccount.objects.all():
        expected = 0 if account.kind == "platform_funding" else sums.get(account.pk, 0)
        assert account.balance_cents == expected, account
