"""Admin of tasks/: client-facing models here (clients, keys, tasks, webhook deliveries);
projects (progress, agreement, hourly pay) in admin_projects; queue models in admin_queue."""

from django.contrib import admin, messages
from django.db import transaction
from rest_framework_api_key.admin import APIKeyModelAdmin

from marketplace.admin_paging import LargeTableAdmin
from tasks import admin_projects, admin_queue  # noqa: F401
from tasks.models import Client, ClientAPIKey, Task, WebhookAttempt, WebhookDelivery
from tasks.services.clients import client_webhook_secret_rotate


class ClientAPIKeyInline(admin.TabularInline):
    model = ClientAPIKey
    fields = ("prefix", "name", "created", "last_used_at", "expiry_date", "revoked")
    readonly_fields = ("prefix", "name", "created", "last_used_at")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # keys are made on the API key page (or create_client_key), where the key is shown once


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "callback_url", "created_at")
    search_fields = ("name",)
    fields = ("name", "is_active", "callback_url", "created_at")
    readonly_fields = ("created_at",)
    inlines = [ClientAPIKeyInline]
    actions = ["rotate_webhook_secret"]

    @admin.action(description="Rotate the webhook secret (shown once)", permissions=["change"])
    def rotate_webhook_secret(self, request, queryset):
        for client in queryset:
            secret = client_webhook_secret_rotate(client_id=client.pk)
            self.message_user(request, f"New webhook secret for {client.name}: {secret} (store it now; it is not "
                                       "shown again).", messages.WARNING)

    def save_model(self, request, obj, form, change):
        if "callback_url" in form.changed_data and obj.callback_url:
            # The same SSRF guard as the API.
            from marketplace.errors import ValidationFailed
            from tasks.services.webhooks import callback_url_check

            try:
                callback_url_check(obj.callback_url)
            except ValidationFailed as exc:
                self.message_user(request, f"Callback URL not saved: {exc.message}", messages.ERROR)
                obj.callback_url = form.initial.get("callback_url", "")
        super().save_model(request, obj, form, change)


@admin.register(ClientAPIKey)
class ClientAPIKeyAdmin(APIKeyModelAdmin):
    list_display = ("prefix", "name", "client", "created", "last_used_at", "expiry_date", "_has_expired", "revoked")
    list_filter = ("revoked", "client")
    search_fields = ("name", "prefix", "client__name")
    actions = ["revoke"]

    @admin.action(description="Revoke selected keys (cannot be undone)", permissions=["change"])
    def revoke(self, request, queryset):
        n = queryset.update(revoked=True)
        self.message_user(request, f"Revoked {n} key(s).")


@admin.register(Task)
class TaskAdmin(LargeTableAdmin):
    list_display = ("external_id", "project", "status", "is_gold", "overlap", "n_active", "n_submitted", "created_at")
    list_filter = ("status", "is_gold")
    search_fields = ("external_id",)
    raw_id_fields = ("project",)
    list_select_related = ("project",)
    readonly_fields = ("n_active", "n_submitted", "created_at", "completed_at")

    def get_exclude(self, request, obj=None):
        # No staff API shows a gold answer (only the client who uploaded it has it), so the admin shows it
        # to nobody but a superuser either (issue 13 row 14). A form without the field leaves it unchanged.
        excluded = list(super().get_exclude(request, obj) or [])
        return excluded if request.user.is_superuser else [*excluded, "gold"]


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ("number", "at", "url", "status_code", "error", "duration_ms", "response_excerpt")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("event", "client", "status", "attempts", "last_status_code", "created_at", "delivered_at",
                    "next_attempt_at")
    list_filter = ("status", "event", "client")
    search_fields = ("event_key", "event_id")
    readonly_fields = ("client", "event", "event_key", "event_id", "payload", "url", "status", "attempts",
                       "last_status_code", "last_error", "next_attempt_at", "delivered_at", "created_at")
    inlines = [WebhookAttemptInline]
    actions = ["retry_now"]

    @admin.action(description="Retry now (failed or pending deliveries)", permissions=["change"])
    def retry_now(self, request, queryset):
        from marketplace.outbox import outbox_enqueue_many

        ids = list(queryset.exclude(status=WebhookDelivery.Status.DELIVERED).values_list("id", flat=True))
        # One more attempt each (a failed one fails again at once if this attempt fails too).
        with transaction.atomic():
            queryset.filter(id__in=ids).update(status=WebhookDelivery.Status.PENDING, next_attempt_at=None)
            outbox_enqueue_many([("tasks.jobs.clients.webhook_deliver", (pk,)) for pk in ids])
        self.message_user(request, f"Queued {len(ids)} delivery(ies).")

    def has_add_permission(self, request):
        return False
