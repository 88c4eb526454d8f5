"""Admin: the ledger is read-only (append-only: corrections are new entries, made by services);
Stripe events can be replayed when their processing failed."""

from django.contrib import admin, messages

from marketplace.errors import ServiceError
from payments.models import (
    EarningsHold,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    PayoutBatch,
    PayoutLine,
    StripeAccount,
    StripeEvent,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class LedgerEntryInline(admin.TabularInline):
    model = LedgerEntry
    extra = 0
    can_delete = False
    readonly_fields = ["account", "amount_cents", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "worker", "currency", "balance_cents"]
    list_filter = ["kind", "currency"]
    search_fields = ["worker__email"]


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "source_ref", "currency", "memo", "created_by", "created_at"]
    list_filter = ["kind", "currency"]
    search_fields = ["source_ref", "memo"]
    inlines = [LedgerEntryInline]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "transaction", "account", "amount_cents", "created_at"]
    search_fields = ["account__worker__email", "transaction__source_ref"]


@admin.register(EarningsHold)
class EarningsHoldAdmin(ReadOnlyAdmin):
    list_display = ["id", "flag_id", "worker", "currency", "amount_cents", "status", "created_at", "settled_at"]
    list_filter = ["status"]


@admin.register(StripeAccount)
class StripeAccountAdmin(ReadOnlyAdmin):
    list_display = ["user", "stripe_id", "payouts_enabled", "details_submitted", "last_payout_failure", "updated_at"]
    search_fields = ["user__email", "stripe_id"]


class PayoutLineInline(admin.TabularInline):
    model = PayoutLine
    extra = 0
    can_delete = False
    readonly_fields = ["worker", "destination", "amount_cents", "currency", "status", "stripe_transfer_id",
                       "reversed_cents", "attempts", "last_error"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PayoutBatch)
class PayoutBatchAdmin(ReadOnlyAdmin):
    """Read-only: creating, approving and executing go through the API (four eyes, reservations)."""

    list_display = ["id", "status", "currency", "cutoff", "minimum_cents", "created_by", "approved_by", "created_at"]
    list_filter = ["status"]
    inlines = [PayoutLineInline]


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "account", "status", "attempts", "received_at", "processed_at"]
    list_filter = ["status", "type"]
    search_fields = ["event_id", "account"]
    actions = ["replay"]

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser or request.user.has_perm(
            "payments.change_stripeevent")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    @admin.action(description="Replay (process again) the selected failed events")
    def replay(self, request, queryset):
        from payments.services.webhooks import stripe_event_process

        done = failed = 0
        for event in queryset.filter(status=StripeEvent.Status.FAILED):
            try:
                stripe_event_process(event_id=event.event_id)
                done += 1
            except ServiceError as exc:
                failed += 1
                self.message_user(request, f"{event.event_id}: {exc.message}", messages.ERROR)
        self.message_user(request, f"Replayed {done} event(s); {failed} failed again.")
