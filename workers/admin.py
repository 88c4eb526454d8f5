"""Admin of workers/: the worker list (filters by state, skill, pool, quality standing; pool and
suspension actions), pools with their members, quizzes with their question bank (keys visible to ops)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Prefetch, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from marketplace.errors import ServiceError
from workers import selectors, services
from workers.models import (
    Pool,
    PoolMembership,
    Qualification,
    Question,
    Quiz,
    QuizAttempt,
    Skill,
    WorkerAppeal,
    WorkerAuditEvent,
    WorkerProfile,
)
from workers.services.pools import pool_members_add, pool_members_remove, pool_rule_worker_ids
from workers.services.quizzes import question_validate


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ["slug", "name"]
    search_fields = ["slug", "name"]


class StateFilter(admin.SimpleListFilter):
    title = "onboarding state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [(s, s.replace("_", " ")) for s in ("registered", "email_verified", "profile_complete", "qualified",
                                                    "active", "suspended", "banned")]

    def queryset(self, request, queryset):
        return selectors.worker_profiles_in_state(queryset=queryset, state=self.value()) if self.value() else queryset


class QualifiedSkillFilter(admin.SimpleListFilter):
    title = "qualified in (unexpired)"
    parameter_name = "qualified_in"

    def lookups(self, request, model_admin):
        return list(Skill.objects.values_list("slug", "name"))

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        rows = Qualification.objects.filter(skill__slug=self.value()).exclude(expires_at__lte=timezone.now())
        return queryset.filter(user_id__in=rows.values("worker_id"))


class PoolFilter(admin.SimpleListFilter):
    title = "active in pool"
    parameter_name = "pool"

    def lookups(self, request, model_admin):
        return [(str(pk), name) for pk, name in Pool.objects.values_list("pk", "name")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        rows = PoolMembership.objects.filter(pool_id=self.value(), status=PoolMembership.Status.ACTIVE)
        return queryset.filter(user_id__in=rows.values("worker_id"))


class QualityStandingFilter(admin.SimpleListFilter):
    """Reads the quality app's platform-wide standing through the reverse relation name only."""

    title = "quality standing"
    parameter_name = "standing"

    def lookups(self, request, model_admin):
        return [("good", "Good"), ("watch", "Watch"), ("flagged", "Flagged"), ("suspended", "Suspended")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        return queryset.filter(user__quality_standings__project__isnull=True,
                               user__quality_standings__status=self.value())


class WorkerActionForm(ActionForm):
    pool = forms.ModelChoiceField(Pool.objects.all(), required=False, help_text="For the pool actions.")
    reason = forms.CharField(required=False, help_text="Required for suspend and reinstate; audit logged.")


class QualificationInline(admin.TabularInline):
    model = Qualification
    fk_name = "worker"
    extra = 0


STATES = ("suspended", "banned", "registered", "email_verified", "profile_complete", "qualified", "active")


class OpenFlagFilter(admin.SimpleListFilter):
    title = "open quality flags"
    parameter_name = "open_flags"

    def lookups(self, request, model_admin):
        return [("yes", "Has open flags"), ("no", "None")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(n_open_flags__gt=0)
        if self.value() == "no":
            return queryset.filter(n_open_flags=0)
        return queryset


@admin.register(WorkerProfile)
class WorkerProfileAdmin(admin.ModelAdmin):
    """The worker list ops live in. Every column is annotated or prefetched in get_queryset, so a page
    costs the same few queries whatever its length (tests/workers/test_admin_ops.py counts them)."""

    class Media:
        css = {"all": ["marketplace/admin.css"]}  # the open-flags warning (no inline style: the CSP)

    list_display = ["user", "display_name", "country", "onboarding_state", "skill_list", "pool_list",
                    "quality_standing", "open_flags", "payouts_enabled", "created_at"]
    list_filter = [StateFilter, QualifiedSkillFilter, PoolFilter, QualityStandingFilter, OpenFlagFilter, "status",
                   "country"]
    search_fields = ["user__email", "display_name"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    filter_horizontal = ["skills"]
    readonly_fields = ["status", "status_reason", "payouts_enabled", "created_at", "updated_at"]
    action_form = WorkerActionForm
    actions = ["add_to_pool", "remove_from_pool", "suspend", "reinstate"]

    def get_queryset(self, request):
        from django.apps import apps

        # Quality's rows are read by model name only: workers/ does not import quality/ (arrows point one way).
        flag_model, standing_model = apps.get_model("quality", "Flag"), apps.get_model("quality", "WorkerStanding")
        open_flags = (flag_model.objects.filter(worker_id=OuterRef("user_id"), status="open").order_by()
                      .values("worker_id").annotate(n=Count("pk")).values("n"))
        standing = standing_model.objects.filter(worker_id=OuterRef("user_id"), project__isnull=True).values("status")
        # The derived onboarding state in SQL: the workers selector's own per-state conditions, in order.
        state = Case(*[When(Exists(selectors.worker_profiles_in_state(
            queryset=WorkerProfile.objects.filter(pk=OuterRef("pk")), state=name)), then=Value(name))
            for name in STATES], default=Value("registered"))
        now = timezone.now()
        return (super().get_queryset(request)
                .annotate(n_open_flags=Coalesce(Subquery(open_flags, output_field=IntegerField()), Value(0)),
                          standing=Subquery(standing[:1]), state=state)
                .prefetch_related("skills",
                                  Prefetch("user__qualifications", to_attr="live_qualifications",
                                           queryset=Qualification.objects.filter(
                                               Q(expires_at__isnull=True) | Q(expires_at__gt=now))),
                                  Prefetch("user__pool_memberships", to_attr="active_memberships",
                                           queryset=PoolMembership.objects.filter(
                                               status=PoolMembership.Status.ACTIVE).select_related("pool"))))

    @admin.display(description="state")
    def onboarding_state(self, obj):
        if hasattr(obj, "state"):
            return obj.state.replace("_", " ")
        return selectors.worker_onboarding_get(user=obj.user, profile=obj)["state"]

    @admin.display(description="skills (* = qualified)")
    def skill_list(self, obj):
        qualified = {q.skill_id for q in obj.user.live_qualifications}
        skills = sorted(obj.skills.all(), key=lambda s: s.slug)
        return ", ".join(f"{s.slug}{'*' if s.pk in qualified else ''}" for s in skills) or "-"

    @admin.display(description="pools")
    def pool_list(self, obj):
        return ", ".join(sorted(m.pool.name for m in obj.user.active_memberships)) or "-"

    @admin.display(description="quality standing", ordering="standing")
    def quality_standing(self, obj):
        return obj.standing or "-"

    @admin.display(description="open flags", ordering="n_open_flags")
    def open_flags(self, obj):
        if not obj.n_open_flags:
            return 0
        url = "/admin/quality/flag/?" + urlencode({"status": "open", "q": obj.user.email})
        return format_html('<a href="{}" class="marketplace-warning">{}</a>', url, obj.n_open_flags)

    def _form(self, request):
        return request.POST.get("pool"), request.POST.get("reason", "").strip()

    @admin.action(description="Add selected workers to the chosen pool", permissions=["change"])
    def add_to_pool(self, request, queryset):
        pool_id, reason = self._form(request)
        if not pool_id:
            return self.message_user(request, "Choose a pool.", messages.ERROR)
        try:
            result = pool_members_add(pool_id=int(pool_id), worker_ids=list(queryset.values_list("user_id", flat=True)),
                                      actor_id=request.user.id, reason=reason)
        except ServiceError as exc:
            return self.message_user(request, exc.message, messages.ERROR)
        self.message_user(request, f"Added {len(result['added'])}, already members {len(result['already'])}.")

    @admin.action(description="Remove selected workers from the chosen pool", permissions=["change"])
    def remove_from_pool(self, request, queryset):
        pool_id, reason = self._form(request)
        if not pool_id:
            return self.message_user(request, "Choose a pool.", messages.ERROR)
        try:
            result = pool_members_remove(pool_id=int(pool_id),
                                         worker_ids=list(queryset.values_list("user_id", flat=True)),
                                         actor_id=request.user.id, reason=reason)
        except ServiceError as exc:
            return self.message_user(request, exc.message, messages.ERROR)
        self.message_user(request, f"Removed {len(result['removed'])}.")

    def _status_action(self, request, queryset, service, verb):
        _, reason = self._form(request)
        if not reason:
            return self.message_user(request, f"Give a reason to {verb}.", messages.ERROR)
        done = 0
        for worker_id in queryset.values_list("user_id", flat=True):
            try:
                service(worker_id=worker_id, reason=reason, actor_id=request.user.id)
                done += 1
            except ServiceError as exc:
                self.message_user(request, f"Worker {worker_id}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{verb.title()}: {done} worker(s).")

    @admin.action(description="Suspend selected workers (reason required)", permissions=["change"])
    def suspend(self, request, queryset):
        self._status_action(request, queryset, services.worker_suspend, "suspend")

    @admin.action(description="Reinstate selected workers (reason required)", permissions=["change"])
    def reinstate(self, request, queryset):
        self._status_action(request, queryset, services.worker_reinstate, "reinstate")


@admin.register(Qualification)
class QualificationAdmin(admin.ModelAdmin):
    list_display = ["worker", "skill", "score", "granted_at", "expires_at"]
    list_filter = ["skill"]
    search_fields = ["worker__email"]
    raw_id_fields = ["worker"]


class PoolMembershipInline(admin.TabularInline):
    model = PoolMembership
    extra = 0
    raw_id_fields = ["worker"]
    readonly_fields = ["added_at"]


@admin.register(Pool)
class PoolAdmin(admin.ModelAdmin):
    list_display = ["name", "capacity", "created_at"]
    search_fields = ["name"]
    filter_horizontal = ["required_skills"]
    inlines = [PoolMembershipInline]
    actions = ["fill_from_required_skills"]

    @admin.action(description="Add every worker qualified (score >= 0.8) in all required skills", permissions=["change"])
    def fill_from_required_skills(self, request, queryset):
        for pool in queryset:
            slugs = list(pool.required_skills.values_list("slug", flat=True))
            if not slugs:
                self.message_user(request, f"{pool}: no required skills to match.", messages.WARNING)
                continue
            ids = set(pool_rule_worker_ids(skill_slug=slugs[0], min_score=0.8))
            for slug in slugs[1:]:
                ids &= set(pool_rule_worker_ids(skill_slug=slug, min_score=0.8))
            try:
                result = pool_members_add(pool_id=pool.id, worker_ids=sorted(ids), actor_id=request.user.id,
                                          reason="admin: fill from required skills")
            except ServiceError as exc:
                self.message_user(request, f"{pool}: {exc.message}", messages.ERROR)
                continue
            self.message_user(request, f"{pool}: added {len(result['added'])}.")


class ReasonActionForm(ActionForm):
    reason = forms.CharField(required=False, help_text="Required; audit logged.")


@admin.register(PoolMembership)
class PoolMembershipAdmin(admin.ModelAdmin):
    list_display = ["pool", "worker", "status", "reason", "added_at"]
    list_filter = ["pool", "status"]
    search_fields = ["worker__email"]
    raw_id_fields = ["worker"]
    list_select_related = ["pool", "worker"]
    action_form = ReasonActionForm
    actions = ["suspend_memberships", "reinstate_memberships"]

    def _each(self, request, queryset, service, verb):
        reason = request.POST.get("reason", "").strip()
        if not reason:
            return self.message_user(request, f"Give a reason to {verb}.", messages.ERROR)
        done = 0
        for pool_id, worker_id in queryset.values_list("pool_id", "worker_id"):
            try:  # the services lock each row and log the change (idempotent)
                service(pool_id=pool_id, worker_id=worker_id, reason=reason, actor_id=request.user.id)
                done += 1
            except ServiceError as exc:
                self.message_user(request, f"Worker {worker_id}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{verb.title()}: {done} membership(s).")

    @admin.action(description="Suspend selected memberships (reason required)", permissions=["change"])
    def suspend_memberships(self, request, queryset):
        self._each(request, queryset, services.pool_membership_suspend, "suspend")

    @admin.action(description="Reinstate selected memberships (reason required)", permissions=["change"])
    def reinstate_memberships(self, request, queryset):
        self._each(request, queryset, services.pool_membership_reinstate, "reinstate")


class QuestionForm(forms.ModelForm):
    class Meta:
        model = Question
        fields = ["quiz", "kind", "prompt", "code", "options", "correct", "weight", "explanation", "is_active"]

    def clean(self):
        data = super().clean()
        try:
            data["options"], data["correct"] = question_validate(
                kind=data.get("kind"), options=data.get("options"), correct=data.get("correct"))
        except ServiceError as exc:
            raise forms.ValidationError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())) from None
        return data


class QuestionInline(admin.StackedInline):
    model = Question
    form = QuestionForm
    extra = 0


@admin.register(Quiz)
class QuizAdmin(admin.ModelAdmin):
    list_display = ["slug", "skill", "title", "pass_mark", "questions_per_attempt", "time_limit_seconds",
                    "is_published"]
    list_filter = ["is_published"]
    inlines = [QuestionInline]


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    form = QuestionForm
    list_display = ["id", "quiz", "kind", "prompt", "weight", "is_active"]
    list_filter = ["quiz", "kind", "is_active"]
    search_fields = ["prompt"]


@admin.register(QuizAttempt)
class QuizAttemptAdmin(admin.ModelAdmin):
    list_display = ["id", "worker", "quiz", "status", "score", "passed", "started_at", "submitted_at"]
    list_filter = ["quiz", "status", "passed"]
    search_fields = ["worker__email"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WorkerAuditEvent)
class WorkerAuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "worker", "action", "pool", "actor", "reason"]
    list_filter = ["action"]
    search_fields = ["worker__email", "reason"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.action(description="Mark the selected appeals as answered", permissions=["change"])
def appeals_mark_handled(modeladmin, request, queryset):
    n = queryset.filter(handled_at__isnull=True).update(handled_at=timezone.now(), handled_by=request.user)
    modeladmin.message_user(request, f"{n} appeal(s) marked as answered.", messages.SUCCESS)


@admin.register(WorkerAppeal)
class WorkerAppealAdmin(admin.ModelAdmin):
    """Suspended workers' appeals from the web app's standing page; ops answer by email, then mark them."""

    list_display = ["created_at", "worker", "flag_id", "short_message", "handled_at", "handled_by"]
    list_filter = [("handled_at", admin.EmptyFieldListFilter)]
    search_fields = ["worker__email", "message"]
    list_select_related = ["worker", "handled_by"]
    readonly_fields = ["worker", "flag_id", "message", "created_at", "handled_at", "handled_by"]
    actions = [appeals_mark_handled]

    @admin.display(description="message")
    def short_message(self, obj):
        return obj.message if len(obj.message) <= 120 else obj.message[:119] + "…"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
