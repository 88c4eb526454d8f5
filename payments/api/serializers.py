"""Input and output serializers of the payments API."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from payments.models import LedgerAdjustment, LedgerEntry, LedgerTransaction, PayoutBatch, PayoutLine


class CurrencyFiguresSerializer(serializers.Serializer):
    currency = serializers.CharField()
    balance_cents = serializers.IntegerField(help_text="Payable now (will be in the next payout batch).")
    held_cents = serializers.IntegerField(help_text="Held while a quality flag is reviewed.")
    pending_cents = serializers.IntegerField(help_text="Reserved in a payout batch, on its way to Stripe.")
    paid_cents = serializers.IntegerField(help_text="Transferred to the worker's Stripe account.")
    pending_clearance_cents = serializers.IntegerField(
        help_text="Earned, waiting until the worker's work has been checked (not payable yet; see clearance).")


class ClearanceSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["pending", "cleared"],
                                     help_text="cleared: new earnings are payable at once.")
    reason = serializers.ChoiceField(choices=["new", "doubt", "cleared"])
    message = serializers.CharField(help_text="Why earnings are pending, in fixed words.")
    expected_clear_at = serializers.DateTimeField(
        allow_null=True, help_text="When the oldest pending credit clears at the latest; null while under review "
                                   "or when nothing is pending.")


class LedgerEntryOutSerializer(serializers.ModelSerializer):
    account = serializers.CharField(source="account.kind")
    currency = serializers.CharField(source="account.currency")
    kind = serializers.CharField(source="transaction.kind")
    memo = serializers.CharField(source="transaction.memo")
    transaction = serializers.IntegerField(source="transaction_id")

    class Meta:
        model = LedgerEntry
        fields = ["id", "transaction", "kind", "account", "amount_cents", "currency", "memo", "created_at"]


class EarningsOutSerializer(CurrencyFiguresSerializer):
    by_currency = CurrencyFiguresSerializer(many=True)
    clearance = ClearanceSerializer()
    count = serializers.IntegerField(help_text="Number of ledger entries.")
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    entries = LedgerEntryOutSerializer(many=True)


class PayoutAccountOutSerializer(serializers.Serializer):
    connected = serializers.BooleanField()
    stripe_account_id = serializers.CharField(allow_null=True)
    payouts_enabled = serializers.BooleanField()
    details_submitted = serializers.BooleanField()
    last_payout_failure = serializers.CharField(allow_blank=True)


class OnboardingOutSerializer(PayoutAccountOutSerializer):
    onboarding_url = serializers.URLField()
    expires_at = serializers.IntegerField(allow_null=True, help_text="Unix time when the link expires.")


class PayoutBatchCreateInSerializer(serializers.Serializer):
    cutoff = serializers.DateTimeField(required=False,
                                       help_text="Only earnings credited up to this moment are paid. Default: now.")
    minimum_cents = serializers.IntegerField(min_value=1, help_text="Workers owed less are left for a later batch.")
    currency = serializers.RegexField(r"^[a-zA-Z]{3}$", required=False, help_text="Default: STRIPE_CURRENCY.")


class PayoutLineOutSerializer(serializers.ModelSerializer):
    worker_email = serializers.EmailField(source="worker.email")
    idempotency_key = serializers.CharField()

    class Meta:
        model = PayoutLine
        fields = ["id", "worker", "worker_email", "destination", "amount_cents", "currency", "status",
                  "stripe_transfer_id", "idempotency_key", "attempts", "last_error", "updated_at"]


class PayoutBatchOutSerializer(serializers.ModelSerializer):
    transfer_group = serializers.CharField()
    total_cents = serializers.IntegerField()
    line_counts = serializers.DictField(child=serializers.IntegerField())
    lines = PayoutLineOutSerializer(many=True, source="line_rows")

    class Meta:
        model = PayoutBatch
        fields = ["id", "status", "currency", "cutoff", "minimum_cents", "transfer_group", "created_by",
                  "approved_by", "executed_by", "created_at", "approved_at", "executed_at", "finished_at",
                  "total_cents", "line_counts", "lines"]


class PayoutBatchSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = PayoutBatch
        fields = ["id", "status", "currency", "cutoff", "minimum_cents", "created_by", "approved_by",
                  "created_at", "approved_at", "executed_at", "finished_at"]


class AdjustmentInSerializer(serializers.Serializer):
    worker = serializers.IntegerField(help_text="The worker's user id.")
    kind = serializers.ChoiceField(choices=["bonus", "adjustment"])
    amount_cents = serializers.IntegerField(
        help_text="A bonus is positive; an adjustment may be negative. At most PAYMENTS_ADJUSTMENT_MAX_CENTS either "
                  "way; above PAYMENTS_ADJUSTMENT_APPROVAL_ABOVE_CENTS it waits for a second finance user.")
    currency = serializers.RegexField(r"^[a-zA-Z]{3}$", required=False)
    memo = serializers.CharField(max_length=500)
    reference = serializers.CharField(max_length=150, help_text="Your idempotency reference: same reference, "
                                                                "same posting.")


class LedgerTransactionOutSerializer(serializers.ModelSerializer):
    entries = serializers.SerializerMethodField()

    class Meta:
        model = LedgerTransaction
        fields = ["id", "kind", "source_ref", "currency", "memo", "created_by", "created_at", "entries"]

    def get_entries(self, obj) -> list[dict]:
        return [{"account": e.account.kind, "worker": e.account.worker_id, "amount_cents": e.amount_cents}
                for e in obj.entries.select_related("account").order_by("id")]


class LedgerAdjustmentOutSerializer(serializers.ModelSerializer):
    transaction = serializers.SerializerMethodField(help_text="The posted ledger transaction (null until posted).")

    class Meta:
        model = LedgerAdjustment
        fields = ["id", "status", "kind", "worker", "amount_cents", "currency", "memo", "reference", "requested_by",
                  "decided_by", "created_at", "decided_at", "transaction"]

    @extend_schema_field(LedgerTransactionOutSerializer(allow_null=True))
    def get_transaction(self, obj):
        return LedgerTransactionOutSerializer(obj.transaction).data if obj.transaction_id else None


class DifferenceSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    batch = serializers.IntegerField(allow_null=True)
    line = serializers.IntegerField(allow_null=True)
    transfer = serializers.CharField(allow_null=True)
    ledger_cents = serializers.IntegerField(allow_null=True)
    stripe_cents = serializers.IntegerField(allow_null=True)


class ReconciliationOutSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    checked_batches = serializers.IntegerField()
    checked_lines = serializers.IntegerField()
    stripe_transfers = serializers.IntegerField()
    differences = DifferenceSerializer(many=True)
