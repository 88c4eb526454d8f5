"""Project admin for ops: progress (tasks, complete, judgments), agreement, and effective hourly pay (cleared
pay, with the pending part apart) with the pay-floor alert (tasks.selectors.pay). The list page costs a fixed
number of queries: counts are subqueries on the page's rows and the hourly figures are two queries for the
whole page (the sample, the ledger)."""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.html import format_html

from marketplace import events
from tasks.models import Judgment, Project, Task
from tasks.selectors.pay import projects_attach_hourly


def _count(queryset, fk: str = "project_id"):
    """A correlated COUNT subquery (a JOIN + Count over tasks and judgments together would multiply rows)."""
    counted = (queryset.filter(**{fk: OuterRef("pk")}).order_by().values(fk).annotate(n=Count("pk")).values("n"))
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _money(cents: int | None, currency: str) -> str:
    return "-" if cents is None else f"{cents / 100:,.2f} {currency.upper()}"


class PayChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        # Two queries for the page (never one per row).
        self.result_list = projects_attach_hourly(self.result_list)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    class Media:
        css = {"all": ["marketplace/admin.css"]}  # the low-pay warning (no inline style: the CSP)

    list_display = ("name", "client", "task_type", "status", "progress", "judgments", "reward", "hourly_pay",
                    "overlap", "deadline", "created_at")
    list_filter = ("status", "task_type", "client")
    search_fields = ("name", "client__name")
    filter_horizontal = ("required_qualifications",)
    readonly_fields = ("created_at", "updated_at", "completed_at", "progress_detail", "agreement_detail",
                       "hourly_pay_detail")
    list_select_related = ("client",)
    fieldsets = (
        ("Ops view", {"fields": ("progress_detail", "agreement_detail", "hourly_pay_detail")}),
        (None, {"fields": ("client", "name", "task_type", "status", "label_schema", "instructions",
                           "data_use_statement")}),
        ("Pay and overlap", {"fields": ("reward_cents", "currency", "overlap", "max_overlap",
                                        "confidence_threshold", "max_judgments_per_worker")}),
        ("Who may work", {"fields": ("required_qualifications", "pool", "lease_seconds", "gold_share", "priority")}),
        ("Dates", {"fields": ("deadline", "created_at", "updated_at", "completed_at")}),
    )

    def get_queryset(self, request):
        real = Task.objects.filter(is_gold=False)
        return super().get_queryset(request).annotate(
            n_tasks=_count(real), n_complete=_count(real.filter(status=Task.Status.COMPLETE)),
            n_gold=_count(Task.objects.filter(is_gold=True)),
            n_judgments=_count(Judgment.objects.filter(status=Judgment.Status.APPROVED)))

    def get_changelist(self, request, **kwargs):
        return PayChangeList

    @admin.display(description="progress", ordering="n_complete")
    def progress(self, obj):
        return f"{obj.n_complete} / {obj.n_tasks}"

    @admin.display(description="judgments", ordering="n_judgments")
    def judgments(self, obj):
        return obj.n_judgments

    @admin.display(description="reward / judgment", ordering="reward_cents")
    def reward(self, obj):
        return _money(obj.reward_cents, obj.currency)

    @admin.display(description="effective hourly pay")
    def hourly_pay(self, obj):
        cents = getattr(obj, "effective_hourly_cents", None)
        if cents is None:
            return "-"
        pending = obj.pending_hourly_cents
        if obj.below_pay_floor:
            return format_html('<strong class="marketplace-warning" title="Under the pay floor ({})">{} ⚠ low pay</strong>{}',
                               _money(settings.PAY_FLOOR_HOURLY_CENTS, obj.currency), _money(cents, obj.currency),
                               f" (+{_money(pending, obj.currency)} pending)" if pending else "")
        return _money(cents, obj.currency) + (f" (+{_money(pending, obj.currency)} pending)" if pending else "")

    @admin.display(description="progress")
    def progress_detail(self, obj):
        if obj.pk is None:
            return "-"
        return (f"{obj.n_complete} of {obj.n_tasks} tasks complete; {obj.n_gold} gold checks; "
                f"{obj.n_judgments} approved judgments")

    @admin.display(description="agreement")
    def agreement_detail(self, obj):
        agreement = events.project_agreement.ask(project_id=obj.pk) if obj.pk else None
        if agreement is None:
            return "not computed yet"
        fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        return (f"Krippendorff's alpha ({agreement['level']}) {fmt(agreement['alpha'])}, Fleiss' kappa "
                f"{fmt(agreement['fleiss_kappa'])} over {agreement['n_tasks']} tasks / {agreement['n_judgments']} "
                f"judgments (computed {agreement['computed_at']:%Y-%m-%d %H:%M})")

    @admin.display(description="effective hourly pay")
    def hourly_pay_detail(self, obj):
        if obj.pk is None:
            return "-"
        projects_attach_hourly([obj])
        if obj.effective_hourly_cents is None:
            return (f"not enough evidence yet ({obj.n_timed} timed approved judgments; "
                    f"{settings.PAY_HOURLY_MIN_JUDGMENTS} needed)")
        pending = ""
        if obj.pending_hourly_cents:
            pending = (f"; cleared pay only: another {_money(obj.pending_hourly_cents, obj.currency)} per hour is "
                       f"pending while the workers' work is checked (rate {_money(obj.rate_hourly_cents, obj.currency)})")
        return format_html("{} per hour ({} per judgment, median {} s over {} judgments){}{}",
                           _money(obj.effective_hourly_cents, obj.currency), _money(obj.reward_cents, obj.currency),
                           f"{obj.median_seconds:.1f}", obj.n_timed,
                           " - UNDER THE PAY FLOOR" if obj.below_pay_floor else "", pending)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        project = self.get_object(request, object_id)
        if project is not None and request.method == "GET":
            projects_attach_hourly([project])
            if project.below_pay_floor:
                self.message_user(request, (
                    f"This project pays {_money(project.effective_hourly_cents, project.currency)} per hour in "
                    f"cleared pay at the median pace (+{_money(project.pending_hourly_cents, project.currency)} "
                    f"pending), under the floor of {_money(settings.PAY_FLOOR_HOURLY_CENTS, project.currency)} "
                    "(PAY_FLOOR_HOURLY_CENTS). Raise reward_cents or ask the client to."), messages.WARNING)
        return super().change_view(request, object_id, form_url, extra_context)
