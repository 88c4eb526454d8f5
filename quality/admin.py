"""Admin: flags with their evidence and confirm/dismiss actions, standings, agreement, consensus, audit log."""

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from marketplace.errors import ServiceError
from quality.models import (
    ExplanationScore,
    Flag,
    ProjectAgreement,
    ProjectQualityPolicy,
    QualityAuditEvent,
    TaskConsensus,
    WorkerStanding,
)
from quality.services import flag_resolve


def _resolve(modeladmin, request, queryset, decision: str):
    done = 0
    for flag in queryset.filter(status=Flag.Status.OPEN):
        try:
            flag_resolve(flag_id=flag.pk, decision=decision, note=f"{decision} in the admin", actor_id=request.user.pk)
            done += 1
        except ServiceError as exc:
            modeladmin.message_user(request, f"Flag {flag.pk}: {exc.message}", messages.ERROR)
    modeladmin.message_user(request, f"{done} flag(s) {decision}ed.")


@admin.action(description="Confirm selected flags (forfeit held earnings)", permissions=["change"])
def confirm_flags(modeladmin, request, queryset):
    _resolve(modeladmin, request, queryset, "confirm")


@admin.action(description="Dismiss selected flags (release holds, reinstate)", permissions=["change"])
def dismiss_flags(modeladmin, request, queryset):
    _resolve(modeladmin, request, queryset, "dismiss")


@admin.register(Flag)
class FlagAdmin(admin.ModelAdmin):
    list_display = ["id", "worker", "project", "rule", "severity", "status", "created_at", "resolved_by"]
    list_filter = ["status", "rule", "severity"]
    search_fields = ["worker__email", "project__name"]
    list_select_related = ["worker", "project", "resolved_by"]
    actions = [confirm_flags, dismiss_flags]
    readonly_fields = ["worker", "project", "rule", "severity", "collusion_group", "evidence_pretty", "actions_pretty",
                       "standing",
                       "recent_judgments", "status", "resolved_by", "resolved_at", "note", "created_at"]
    exclude = ["evidence", "actions"]

    @admin.display(description="worker's standing on this project")
    def standing(self, obj):
        row = WorkerStanding.objects.filter(worker_id=obj.worker_id, project_id=obj.project_id).first()
        if row is None:
            return "not computed"
        return (f"{row.status}: {row.n_judgments} judgments, gold accuracy {row.gold_accuracy}, leave-one-out "
                f"agreement {row.loo_agreement} (project median {row.pool_loo_agreement}), median "
                f"{row.median_seconds} s, top answer share {row.top_answer_share}")

    @admin.display(description="latest judgments on this project")
    def recent_judgments(self, obj):
        from tasks.models import Judgment

        rows = (Judgment.objects.filter(worker_id=obj.worker_id, project_id=obj.project_id)
                .order_by("-id").values("id", "task_id", "answer", "seconds_spent", "is_gold", "gold_correct",
                                        "status")[:20])
        return format_html("<pre>{}</pre>", "\n".join(json.dumps(r, sort_keys=True, default=str) for r in rows)
                           or "none")

    @admin.display(description="group (collusion)")
    def collusion_group(self, obj):
        """Plain words for ops: who the worker agrees with, on which tasks, and what stands on each flag."""
        from quality.selectors import collusion_groups_list

        mine = [g for g in collusion_groups_list(project_id=obj.project_id)
                if any(w["id"] == obj.worker_id for w in g["workers"])]
        if not mine:
            return "none"
        g = mine[0]
        members = ", ".join(f"{w['email'] or w['id']} (flag {w['flag_id'] or '-'})" for w in g["workers"])
        tasks = ", ".join(str(t) for t in g["shared_tasks"][:50]) + (" ..." if len(g["shared_tasks"]) > 50 else "")
        return (f"A group of {len(g['workers'])} raters who agree with each other far more than with the rest: "
                f"{members}. Tasks they shared ({len(g['shared_tasks'])}): {tasks}. Consensus counts them as one "
                "voice until their flags are decided.")

    @admin.display(description="evidence")
    def evidence_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.evidence, indent=2, sort_keys=True))

    @admin.display(description="actions taken")
    def actions_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.actions, indent=2, sort_keys=True))

    def has_add_permission(self, request):
        return False  # flags come from the rules; ops resolve them


@admin.register(WorkerStanding)
class WorkerStandingAdmin(admin.ModelAdmin):
    list_display = ["worker", "project", "status", "n_judgments", "gold_accuracy", "gold_upper", "loo_agreement",
                    "pool_loo_agreement", "median_seconds", "top_answer_share", "gold_share", "computed_at"]
    list_filter = ["status"]
    search_fields = ["worker__email"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ProjectAgreement)
class ProjectAgreementAdmin(admin.ModelAdmin):
    list_display = ["project", "alpha", "level", "fleiss_kappa", "n_tasks", "n_judgments", "computed_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(TaskConsensus)
class TaskConsensusAdmin(admin.ModelAdmin):
    list_display = ["task", "project", "method", "confidence", "n_judgments", "computed_at"]
    list_filter = ["method"]
    raw_id_fields = ["task", "project"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ExplanationScore)
class ExplanationScoreAdmin(admin.ModelAdmin):
    """Peer-review scores of text answers, per author (issue 29): ops sort or search by worker."""

    list_display = ["judgment", "worker", "task", "rank", "score", "n_reviews", "computed_at"]
    search_fields = ["worker__email"]
    raw_id_fields = ["judgment", "task", "worker"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ProjectQualityPolicy)
class ProjectQualityPolicyAdmin(admin.ModelAdmin):
    list_display = ["project", "updated_at"]
    raw_id_fields = ["project"]


@admin.register(QualityAuditEvent)
class QualityAuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "action", "worker", "project", "flag", "actor"]
    list_filter = ["action"]
    search_fields = ["worker__email"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # append-only
