"""Money: an append-only double-entry ledger, Stripe Connect accounts, payout batches, Stripe events.

Invariant 7: amounts are integer cents with a currency; every LedgerTransaction's entries sum to zero
(checked by the service before writing and, on PostgreSQL, by a deferred constraint trigger at commit);
entries and transactions are never updated or deleted (model save/delete refuse, and database triggers
refuse UPDATE/DELETE). LedgerAccount.balance_cents is a cache kept in the same transaction as the entries
(the row is locked while it changes); tests check it always equals the sum of the account's entries.
The platform_funding account is the exception: every credit touches it, so caching its balance would
make its row a lock every judgment submission waits on; its balance_cents stays 0 and its balance is
derived from its entries (payments.selectors.platform_funding_balance).

Invariant 8: one PayoutLine per (batch, worker); the line's Stripe idempotency key is derived from its id.
Invariant 9: one StripeEvent per Stripe event id.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

# Bounds that keep every sum of cents far inside a signed 64-bit integer (9.2e18), on PostgreSQL (bigint
# overflow is an error) and SQLite (integer overflow silently turns a sum into a float). One entry moves
# at most ten billion units, and a cached balance holds at most as much (so a payout line, which moves a
# whole balance, is one entry). Both are CHECK constraints; ledger_post refuses beyond them first.
LEDGER_ENTRY_MAX_CENTS = 10**12
LEDGER_BALANCE_MAX_CENTS = 10**12


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete a ledger row: corrections are new entries."""


class LedgerAccount(models.Model):
    class Kind(models.TextChoices):
        PLATFORM_FUNDING = "platform_funding", "Platform funding"
        WORKER_PAYABLE = "worker_payable", "Owed to the worker (payable)"
        # Earned, not yet cleared by the worker's quality evidence (payments.services.clearance).
        WORKER_PENDING = "worker_pending", "Earned, awaiting clearance"
        WORKER_HELD = "worker_held", "Held for quality review"
        PAYOUTS_IN_TRANSIT = "payouts_in_transit", "Reserved for a payout (in transit)"
        PAID_OUT = "paid_out", "Paid out to the worker"

    WORKER_KINDS = (Kind.WORKER_PENDING, Kind.WORKER_PAYABLE, Kind.WORKER_HELD, Kind.PAYOUTS_IN_TRANSIT, Kind.PAID_OUT)

    kind = models.CharField(max_length=32, choices=Kind.choices)
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="ledger_accounts")
    currency = models.CharField(max_length=3)
    # Cache of SUM(entries.amount_cents), changed only by payments.services.ledger under a row lock.
    # Not maintained for platform_funding (always 0; see the module docstring).
    balance_cents = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "worker", "currency"], condition=Q(worker__isnull=False),
                                    name="ledger_account_one_per_kind_worker_currency"),
            models.UniqueConstraint(fields=["kind", "currency"], condition=Q(worker__isnull=True),
                                    name="ledger_account_one_platform_per_kind_currency"),
            models.CheckConstraint(
                condition=(Q(kind="platform_funding", worker__isnull=True)
                           | Q(kind__in=["worker_pending", "worker_payable", "worker_held", "payouts_in_transit",
                                         "paid_out"],
                               worker__isnull=False)),
                name="ledger_account_kind_matches_owner"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[a-z]{3}$"), name="ledger_account_currency_iso"),
            # Only the platform's funding account runs negative (it is where money enters the ledger).
            models.CheckConstraint(condition=Q(kind="platform_funding") | Q(balance_cents__gte=0),
                                   name="ledger_worker_accounts_non_negative"),
            models.CheckConstraint(condition=Q(balance_cents__lte=LEDGER_BALANCE_MAX_CENTS),
                                   name="ledger_account_balance_bounded"),
        ]

    def __str__(self) -> str:
        owner = f"worker {self.worker_id}" if self.worker_id else "platform"
        return f"{self.kind} {owner} {self.currency}"


class AppendOnly(models.Model):
    """Rows are written once: saving an existing row or deleting one is refused (the database refuses it
    too, with triggers from migration 0002); corrections are new rows."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError(f"{self._meta.verbose_name_plural.capitalize()} are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{self._meta.verbose_name_plural.capitalize()} are append-only.")


class LedgerTransaction(AppendOnly):
    class Kind(models.TextChoices):
        JUDGMENT_CREDIT = "judgment_credit", "Approved judgment"
        CLEARANCE = "clearance", "Pending earnings cleared"
        PENDING_REVERSAL = "pending_reversal", "Pending earnings reversed (quality flag)"
        HOLD = "hold", "Held (quality flag)"
        HOLD_RELEASE = "hold_release", "Hold released"
        HOLD_FORFEIT = "hold_forfeit", "Hold forfeited"
        PAYOUT_RESERVE = "payout_reserve", "Reserved for a payout"
        PAYOUT_PAID = "payout_paid", "Paid out"
        PAYOUT_RELEASE = "payout_release", "Payout failed, reservation released"
        PAYOUT_REVERSED = "payout_reversed", "Transfer reversed"
        ADJUSTMENT = "adjustment", "Finance adjustment"
        BONUS = "bonus", "Finance bonus"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    # What caused it (e.g. "judgment:42", "payout-line:7"): unique with kind, so posting twice is impossible.
    source_ref = models.CharField(max_length=200)
    currency = models.CharField(max_length=3)
    memo = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "source_ref"], name="ledger_transaction_once_per_source"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.source_ref}"


class LedgerEntry(AppendOnly):
    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="entries")
    # No index of its own: (account, id) leads with it (two entries are written on every submit).
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="entries", db_index=False)
    amount_cents = models.BigIntegerField(help_text="Signed: positive increases the account's balance.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(condition=~Q(amount_cents=0), name="ledger_entry_nonzero"),
            models.CheckConstraint(condition=Q(amount_cents__gte=-LEDGER_ENTRY_MAX_CENTS,
                                               amount_cents__lte=LEDGER_ENTRY_MAX_CENTS),
                                   name="ledger_entry_bounded"),
        ]
        indexes = [models.Index(fields=["account", "id"])]

    def __str__(self) -> str:
        return f"{self.amount_cents:+d} on {self.account_id}"


class LedgerAdjustment(models.Model):
    """A finance bonus or adjustment on a worker's payable balance, as requested and as decided.

    Up to PAYMENTS_ADJUSTMENT_APPROVAL_ABOVE_CENTS (either sign) it is posted when requested; above, it
    waits (pending) until a second finance user approves it, and only then reaches the ledger. In the
    database: the decider is never the requester (four eyes), nobody adjusts their own balance (the
    worker is neither the requester nor the decider), the amount is bounded, a posted row has its
    ledger transaction, and a reference names one adjustment (idempotency)."""

    class Kind(models.TextChoices):
        BONUS = "bonus", "Bonus"
        ADJUSTMENT = "adjustment", "Adjustment"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending (awaiting a second finance user)"
        POSTED = "posted", "Posted to the ledger"
        REJECTED = "rejected", "Rejected"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ledger_adjustments")
    currency = models.CharField(max_length=3)
    amount_cents = models.BigIntegerField(help_text="Signed: positive credits the worker, negative debits.")
    memo = models.CharField(max_length=500)
    reference = models.CharField(max_length=150, unique=True, help_text="The requester's idempotency reference.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", help_text="The second finance user who approved or rejected.")
    transaction = models.OneToOneField(LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="adjustment")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "id"])]
        constraints = [
            models.CheckConstraint(condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("requested_by")),
                                   name="ledger_adjustment_four_eyes"),
            models.CheckConstraint(condition=~Q(worker=F("requested_by")), name="ledger_adjustment_not_own_request"),
            models.CheckConstraint(condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("worker")),
                                   name="ledger_adjustment_not_own_decision"),
            models.CheckConstraint(condition=~Q(amount_cents=0) & Q(amount_cents__gte=-LEDGER_ENTRY_MAX_CENTS,
                                                                    amount_cents__lte=LEDGER_ENTRY_MAX_CENTS),
                                   name="ledger_adjustment_amount_bounded"),
            models.CheckConstraint(condition=~Q(kind="bonus") | Q(amount_cents__gt=0),
                                   name="ledger_adjustment_bonus_positive"),
            models.CheckConstraint(condition=~Q(status="posted") | Q(transaction__isnull=False),
                                   name="ledger_adjustment_posted_has_transaction"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_cents:+d} {self.currency} for {self.worker_id} ({self.status})"


class EarningsHold(models.Model):
    """Unpaid earnings held because of a quality flag, until ops release or forfeit them."""

    class Status(models.TextChoices):
        HELD = "held", "Held"
        RELEASED = "released", "Released"
        FORFEITED = "forfeited", "Forfeited"

    flag_id = models.BigIntegerField()
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="earnings_holds")
    currency = models.CharField(max_length=3)
    amount_cents = models.BigIntegerField()
    judgment_ids = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.HELD)
    created_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["flag_id", "currency"], name="earnings_hold_once_per_flag_currency"),
            models.CheckConstraint(condition=Q(amount_cents__gte=0), name="earnings_hold_non_negative"),
        ]

    def __str__(self) -> str:
        return f"hold {self.amount_cents} {self.currency} (flag {self.flag_id}, {self.status})"


class EarningsClearance(models.Model):
    """Whether a worker's new credits are paid at once (cleared) or wait in worker_pending, and how far
    the pending account has been drained (payments.services.clearance).

    The pending account is a queue: credits are appended, and every debit of it (clearance, hold,
    reversal) drains a prefix of them, up to the entry id it records in drained_through_entry_id. So the
    pending credits are the account's positive entries above that id, and they sum to its balance.
    A credit reads this row FOR SHARE and a clearing run locks it FOR UPDATE: a run never misses a credit
    in flight, and a credit never lands in pending after its worker's run cleared the account."""

    class Status(models.TextChoices):
        PENDING = "pending", "New earnings wait for quality evidence"
        CLEARED = "cleared", "New earnings are payable at once"

    class Reason(models.TextChoices):
        NEW = "new", "Not enough checked work yet"
        EVIDENCE = "evidence", "Quality evidence passed"
        DOUBT = "doubt", "Under quality review"

    worker = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.PROTECT,
                                  related_name="earnings_clearance")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=16, choices=Reason.choices, default=Reason.NEW)
    drained_through_entry_id = models.BigIntegerField(default=0)
    cleared_at = models.DateTimeField(null=True, blank=True, help_text="When the evidence last cleared the worker.")
    reviewed_at = models.DateTimeField(null=True, blank=True, help_text="The last clearing run for this worker.")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["pending", "cleared"]), name="earnings_clearance_status"),
            models.CheckConstraint(condition=~Q(status="cleared") | Q(reason="evidence"),
                                   name="earnings_clearance_cleared_by_evidence"),
        ]

    def __str__(self) -> str:
        return f"clearance of {self.worker_id}: {self.status} ({self.reason})"


class StripeAccount(models.Model):
    """A worker's Stripe Connect (express) account. One per person."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="stripe_account")
    stripe_id = models.CharField(max_length=64, unique=True)
    payouts_enabled = models.BooleanField(default=False)
    details_submitted = models.BooleanField(default=False)
    # `created` of the Stripe event the flags above come from: an older event arriving late is ignored.
    state_as_of = models.BigIntegerField(default=0)
    last_payout_failure = models.TextField(blank=True, help_text="From the last payout.failed event.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.stripe_id} ({self.user_id})"


class PayoutBatch(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft (awaiting approval)"
        APPROVED = "approved", "Approved"
        EXECUTING = "executing", "Executing"
        COMPLETED = "completed", "Completed"
        COMPLETED_WITH_FAILURES = "completed_with_failures", "Completed, some lines failed"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=32, choices=Status.choices, default=Status.DRAFT)
    currency = models.CharField(max_length=3)
    cutoff = models.DateTimeField(help_text="Only earnings credited up to this moment are paid.")
    minimum_cents = models.PositiveIntegerField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    executed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "payout batches"
        constraints = [
            # Four eyes, in the database: the approver is never the creator.
            models.CheckConstraint(condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("created_by")),
                                   name="payout_batch_four_eyes"),
        ]

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.status})"

    @property
    def transfer_group(self) -> str:
        return f"payout-batch-{self.pk}"


class PayoutLine(models.Model):
    class Status(models.TextChoices):
        RESERVED = "reserved", "Reserved (not sent yet)"
        SENDING = "sending", "Sending (outcome may be unknown)"
        PAID = "paid", "Paid (transfer created)"
        FAILED = "failed", "Failed (reservation released)"
        REVERSED = "reversed", "Reversed (balance restored)"

    batch = models.ForeignKey(PayoutBatch, on_delete=models.PROTECT, related_name="lines")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payout_lines")
    destination = models.CharField(max_length=64, help_text="Stripe account id at batch creation.")
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RESERVED)
    stripe_transfer_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    reversed_cents = models.BigIntegerField(default=0, help_text="Reversed on Stripe and restored to the balance.")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "worker"], name="payout_line_one_per_batch_worker"),
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="payout_line_positive"),
            models.CheckConstraint(condition=~Q(status="paid") | Q(stripe_transfer_id__isnull=False),
                                   name="payout_line_paid_has_transfer"),
        ]
        indexes = [models.Index(fields=["batch", "status"])]

    def __str__(self) -> str:
        return f"line {self.pk} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        # Derived from the line and never changes (docs/design.md invariant 8): every retry of this line, after any
        # crash, sends the same key, so Stripe creates at most one transfer for it.
        return f"payout-line-{self.pk}"


class StripeEvent(models.Model):
    """A Stripe webhook event as received (raw body), processed once."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (type not handled)"
        FAILED = "failed", "Processing failed"

    event_id = models.CharField(max_length=64, unique=True)
    type = models.CharField(max_length=100)
    account = models.CharField(max_length=64, blank=True, help_text="Connected account, for Connect events.")
    payload = models.TextField(help_text="The raw request body, as signed.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type} ({self.status})"
