"""Admin for the queue: assignments, judgments, work notifications. Read-mostly on purpose: the counters
on tasks (n_active, n_submitted) are kept by the queue services, so editing rows here would break them;
ops act through the services (release, requeue) instead. Each list pages without a full COUNT(*)
(marketplace.admin_paging): these are the tables with millions of rows."""

from django.contrib import admin

from marketplace.admin_paging import LargeTableAdmin
from tasks.models import Assignment, Judgment, WorkNotification


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Assignment)
class AssignmentAdmin(LargeTableAdmin, _ReadOnly):
    list_display = ["id", "task", "worker", "project", "status", "served_reason", "claimed_at", "expires_at"]
    list_filter = ["status", "project"]
    search_fields = ["worker__email", "task__external_id"]
    raw_id_fields = ["task", "worker", "project"]
    list_select_related = ["task", "worker", "project"]


@admin.register(Judgment)
class JudgmentAdmin(LargeTableAdmin, _ReadOnly):
    list_display = ["id", "task", "worker", "project", "status", "is_gold", "gold_correct", "seconds_spent",
                    "created_at"]
    list_filter = ["status", "is_gold", "project"]
    search_fields = ["worker__email", "task__external_id"]
    raw_id_fields = ["assignment", "task", "worker", "project"]
    list_select_related = ["task", "worker", "project"]


@admin.register(WorkNotification)
class WorkNotificationAdmin(LargeTableAdmin, _ReadOnly):
    list_display = ["id", "worker", "project", "sent_at"]
    raw_id_fields = ["worker", "project"]
    list_select_related = ["worker", "project"]
