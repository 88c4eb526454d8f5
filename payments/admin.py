"""Admin: the ledger is read-only for everyone, superusers included (append-only: corrections are new
entries, made by services); payout batches are approved and executed by finance through the services;
Stripe events can be replayed when their processing failed."""

from contextvars import ContextVar

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from marketplace.admin_paging import LargeTableAdmin
from marketplace.errors import ServiceError
from marketplace.models import FINANCE_GROUP
from marketplace.money import money_text
from payments.exports import payout_batch_csv
from payments.models import (
    EarningsClearance,
    EarningsHold,
    LedgerAccount,
    LedgerAdjustment,
    LedgerEntry,
    LedgerTransaction,
    PayoutBatch,
    PayoutLine,
    StripeAccount,
    StripeEvent,
)
from payments.services.adjustments import ledger_adjustment_approve, ledger_adjustment_reject
from payments.services.payouts import payout_batch_approve, payout_batch_execute


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

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "worker", "currency", "balance"]
    list_select_related = ["worker"]
    list_filter = ["kind", "currency"]
    search_fields = ["worker__email"]

    @admin.display(description="balance", ordering="balance_cents")
    def balance(self, obj):  # money in the currency's units where people read it (cents stay in the API)
        return money_text(obj.balance_cents, obj.currency)


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(LargeTableAdmin, ReadOnlyAdmin):
    list_display = ["id", "kind", "source_ref", "currency", "memo", "created_by", "created_at"]
    list_select_related = ["created_by"]
    list_filter = ["kind", "currency"]
    search_fields = ["source_ref", "memo"]
    inlines = [LedgerEntryInline]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(LargeTableAdmin, ReadOnlyAdmin):
    list_display = ["id", "transaction", "account", "amount", "created_at"]
    list_select_related = ["transaction", "account"]
    search_fields = ["account__worker__email", "transaction__source_ref"]

    @admin.display(description="amount", ordering="amount_cents")
    def amount(self, obj):
        return money_text(obj.amount_cents, obj.account.currency)


@admin.register(EarningsHold)
class EarningsHoldAdmin(ReadOnlyAdmin):
    list_display = ["id", "flag_id", "worker", "currency", "amount", "status", "created_at", "settled_at"]
    list_select_related = ["worker"]
    list_filter = ["status"]

    @admin.display(description="amount", ordering="amount_cents")
    def amount(self, obj):
        return money_text(obj.amount_cents, obj.currency)


@admin.register(EarningsClearance)
class EarningsClearanceAdmin(LargeTableAdmin, ReadOnlyAdmin):
    """Whether a worker's new credits wait in pending (docs/payments.md "Pending earnings"): read-only, the
    clearing run (payments.services.clearance) is its only writer. One row per worker: a large table."""

    list_display = ["worker", "status", "reason", "drained_through_entry_id", "cleared_at", "reviewed_at"]
    list_select_related = ["worker"]
    list_filter = ["status", "reason"]
    search_fields = ["worker__email"]


@admin.register(StripeAccount)
class StripeAccountAdmin(ReadOnlyAdmin):
    list_display = ["user", "stripe_id", "payouts_enabled", "details_submitted", "last_payout_failure", "updated_at"]
    list_select_related = ["user"]
    search_fields = ["user__email", "stripe_id"]


class PayoutLineInline(admin.TabularInline):
    model = PayoutLine
    extra = 0
    can_delete = False
    readonly_fields = ["worker", "destination", "amount_cents", "currency", "status", "stripe_transfer_id",
                       "reversed_cents", "attempts", "last_error"]
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("worker")

    def has_add_permission(self, request, obj=None):
        return False


# Who is viewing a batch's change page (set by PayoutBatchAdmin.change_view for its rendering only): the
# creator is not offered an Approve the service would refuse (four eyes).
_viewer: ContextVar[int | None] = ContextVar("payout_batch_admin_viewer", default=None)


def _is_finance(request) -> bool:
    return bool(request.user.is_active and request.user.has_role(FINANCE_GROUP))


@admin.register(PayoutBatch)
class PayoutBatchAdmin(ReadOnlyAdmin):
    """Batches are created through the API (or services); here finance approve and execute them through
    the payments services, which enforce four eyes and the status order. The actions, the buttons and the
    CSV export are for the finance group only; ops may look."""

    list_display = ["id", "status", "currency", "n_lines", "total", "line_status", "cutoff", "minimum",
                    "created_by", "approved_by", "created_at", "csv_link"]
    list_filter = ["status"]
    list_select_related = ["created_by", "approved_by"]
    readonly_fields = ["finance_actions", "status", "currency", "cutoff", "minimum_cents", "line_status", "total",
                       "created_by", "created_at", "approved_by", "approved_at", "executed_by", "executed_at",
                       "finished_at", "csv_link"]
    fields = readonly_fields
    inlines = [PayoutLineInline]
    actions = ["approve", "execute"]

    def get_queryset(self, request):
        counts = {f"n_{s}": Count("lines", filter=Q(lines__status=s)) for s in PayoutLine.Status.values}
        return super().get_queryset(request).annotate(n_lines=Count("lines"), total_cents=Sum("lines__amount_cents"),
                                                      **counts)

    def has_finance_permission(self, request):
        return _is_finance(request)

    def get_list_display(self, request):
        shown = super().get_list_display(request)
        return shown if _is_finance(request) else [f for f in shown if f != "csv_link"]

    def get_fields(self, request, obj=None):
        shown = super().get_fields(request, obj)
        return shown if _is_finance(request) else [f for f in shown if f not in ("finance_actions", "csv_link")]

    @admin.display(description="lines", ordering="n_lines")
    def n_lines(self, obj):
        return obj.n_lines

    @admin.display(description="total", ordering="total_cents")
    def total(self, obj):
        return money_text(obj.total_cents or 0, obj.currency)

    @admin.display(description="minimum", ordering="minimum_cents")
    def minimum(self, obj):
        return money_text(obj.minimum_cents, obj.currency)

    @admin.display(description="line status")
    def line_status(self, obj):
        return ", ".join(f"{s} {getattr(obj, f'n_{s}')}" for s in PayoutLine.Status.values
                         if getattr(obj, f"n_{s}")) or "-"

    @admin.display(description="CSV")
    def csv_link(self, obj):
        return format_html('<a href="{}">export.csv</a>', reverse("admin:payments_payoutbatch_csv", args=[obj.pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        token = _viewer.set(request.user.pk)  # finance_actions gets the object only: who is looking
        try:
            response = super().change_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render"):  # readonly fields are computed while the template renders
                response.render()
            return response
        finally:
            _viewer.reset(token)

    @admin.display(description="finance")
    def finance_actions(self, obj):
        # Buttons inside the change form submit it (with its CSRF token) to the approve/execute views.
        buttons = []
        if obj.status == PayoutBatch.Status.DRAFT and obj.created_by_id == _viewer.get():
            return "you created it: waiting for another finance user to approve (four eyes)"
        if obj.status == PayoutBatch.Status.DRAFT:
            buttons.append(("approve", "Approve (not the creator)"))
        if obj.status in (PayoutBatch.Status.APPROVED, PayoutBatch.Status.EXECUTING):
            buttons.append(("execute", "Execute (send transfers)" if obj.status == PayoutBatch.Status.APPROVED
                            else "Resume (re-send open lines)"))
        if not buttons:
            return "nothing to do"
        return format_html_join(" ", '<button type="submit" formmethod="post" formaction="{}">{}</button>',
                                ((reverse(f"admin:payments_payoutbatch_{name}", args=[obj.pk]), label)
                                 for name, label in buttons))

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:batch_id>/export.csv", wrap(self.csv_view), name="payments_payoutbatch_csv"),
            path("<int:batch_id>/approve/", wrap(self.approve_view), name="payments_payoutbatch_approve"),
            path("<int:batch_id>/execute/", wrap(self.execute_view), name="payments_payoutbatch_execute"),
        ] + super().get_urls()

    def csv_view(self, request, batch_id: int):
        if not _is_finance(request):
            raise PermissionDenied
        batch = PayoutBatch.objects.filter(pk=batch_id).first()
        if batch is None:
            raise Http404
        response = HttpResponse(payout_batch_csv(batch=batch), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="payout-batch-{batch.pk}.csv"'
        return response

    def _one(self, request, batch_id: int, service, verb: str):
        if not _is_finance(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._run(request, [batch_id], service, verb)
        return HttpResponseRedirect(reverse("admin:payments_payoutbatch_change", args=[batch_id]))

    def approve_view(self, request, batch_id: int):
        return self._one(request, batch_id, payout_batch_approve, "approved")

    def execute_view(self, request, batch_id: int):
        return self._one(request, batch_id, payout_batch_execute, "started")

    def _run(self, request, batch_ids, service, verb: str) -> None:
        for batch_id in batch_ids:
            try:
                service(batch_id=batch_id, actor_id=request.user.pk)
            except ServiceError as exc:
                self.message_user(request, f"Batch {batch_id}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"Batch {batch_id} {verb}.")

    @admin.action(description="Approve selected draft batches (four eyes: not your own)", permissions=["finance"])
    def approve(self, request, queryset):
        self._run(request, list(queryset.values_list("pk", flat=True)), payout_batch_approve, "approved")

    @admin.action(description="Execute selected approved batches (Celery sends one transfer per line)",
                  permissions=["finance"])
    def execute(self, request, queryset):
        self._run(request, list(queryset.values_list("pk", flat=True)), payout_batch_execute, "started")


@admin.register(LedgerAdjustment)
class LedgerAdjustmentAdmin(ReadOnlyAdmin):
    """Adjustments are requested through the API; here finance approve (four eyes: not the requester, not
    the worker) or reject the pending ones through the payments services, which post to the ledger."""

    list_display = ["id", "status", "kind", "worker", "amount", "reference", "requested_by", "decided_by",
                    "created_at", "decided_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["worker", "requested_by", "decided_by"]
    search_fields = ["reference", "worker__email", "memo"]
    actions = ["approve", "reject"]

    def has_finance_permission(self, request):
        return _is_finance(request)

    def add_view(self, request, form_url="", extra_context=None):
        # Adjustments are requested through the service (four eyes, idempotency), never added as rows: the
        # refusal (an HTML page in a browser) points finance to the console's form.
        if _is_finance(request):
            raise PermissionDenied("Adjustments and bonuses are requested in the finance console "
                                   "(New adjustment or bonus), under the same four eyes as the API.")
        return super().add_view(request, form_url, extra_context)

    @admin.display(description="amount", ordering="amount_cents")
    def amount(self, obj):
        return f"{obj.amount_cents / 100:+,.2f} {obj.currency.upper()}"

    def _run(self, request, queryset, service, verb: str) -> None:
        for adjustment_id in queryset.values_list("pk", flat=True):
            try:
                service(adjustment_id=adjustment_id, actor_id=request.user.pk)
            except ServiceError as exc:
                self.message_user(request, f"Adjustment {adjustment_id}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"Adjustment {adjustment_id} {verb}.")

    @admin.action(description="Approve and post the selected pending adjustments (four eyes)", permissions=["finance"])
    def approve(self, request, queryset):
        self._run(request, queryset, ledger_adjustment_approve, "approved and posted")

    @admin.action(description="Reject the selected pending adjustments", permissions=["finance"])
    def reject(self, request, queryset):
        self._run(request, queryset, ledger_adjustment_reject, "rejected")


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

    @admin.action(description="Replay (process again) the selected failed events", permissions=["change"])
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
