"""Client API: projects (create, list, detail, deadline, pause, resume, agreement)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from marketplace import events
from marketplace.api.pagination import Pagination
from marketplace.errors import NotFound
from tasks.api.base import ClientAPIView
from tasks.label_schemas import TASK_TYPES
from tasks.models import Project
from tasks.selectors.pay import projects_attach_hourly
from tasks.selectors.projects import project_list
from tasks.services.projects import project_create, project_pause, project_resume, project_set_deadline


class ErrorSerializer(serializers.Serializer):
    error = inline_serializer("ErrorBody", {
        "code": serializers.CharField(), "message": serializers.CharField(),
        "fields": serializers.DictField(child=serializers.JSONField()),
    })


class ProjectInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    task_type = serializers.ChoiceField(choices=TASK_TYPES)
    label_schema = serializers.JSONField(required=False, default=dict,
                                         help_text="Per task type; see docs/tasks.md. Stored normalised.")
    instructions = serializers.CharField()
    data_use_statement = serializers.CharField(help_text="How the judgments will be used; shown to workers "
                                                         "before they claim.")
    reward_cents = serializers.IntegerField(min_value=1, max_value=1_000_000, help_text="Pay per judgment.")
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", required=False, default="usd")
    overlap = serializers.IntegerField(min_value=1, max_value=50, required=False, default=3)
    max_overlap = serializers.IntegerField(min_value=1, max_value=50, required=False, allow_null=True, default=None)
    confidence_threshold = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True,
                                                  default=None)
    required_qualifications = serializers.ListField(child=serializers.SlugField(), required=False, default=list,
                                                    help_text="Skill slugs, e.g. [\"python\"].")
    pool = serializers.IntegerField(required=False, allow_null=True, default=None, help_text="Worker pool id.")
    lease_seconds = serializers.IntegerField(min_value=30, max_value=86400, required=False, default=900)
    gold_share = serializers.FloatField(min_value=0, max_value=1, required=False, default=0.0)
    priority = serializers.IntegerField(min_value=-1000, max_value=1000, required=False, default=0)
    max_judgments_per_worker = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    status = serializers.ChoiceField(choices=["draft", "active"], required=False, default="active")
    deadline = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                         help_text="When you want the work done (ISO 8601, in the future). The "
                                                   "ops console marks the project late when its pace would "
                                                   "finish after it.")


class ProjectUpdateSerializer(serializers.Serializer):
    deadline = serializers.DateTimeField(allow_null=True, help_text="A new deadline in the future, or null to "
                                                                    "clear it.")


class ProgressSerializer(serializers.Serializer):
    tasks = serializers.IntegerField(help_text="Non-gold tasks.")
    complete = serializers.IntegerField()
    gold = serializers.IntegerField()


class ProjectOutSerializer(serializers.ModelSerializer):
    required_qualifications = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    pool = serializers.PrimaryKeyRelatedField(read_only=True)
    progress = serializers.SerializerMethodField()
    effective_hourly_cents = serializers.SerializerMethodField(
        help_text="What workers are paid per hour now, counting cleared pay only: rate_hourly_cents times the "
                  "cleared share of the sampled judgments' credits (a credit is pending while the worker's work "
                  "is checked), in the project's currency (minor units); null until PAY_HOURLY_MIN_JUDGMENTS "
                  "timed judgments exist.")
    low_pay = serializers.SerializerMethodField(
        help_text="effective_hourly_cents (cleared pay) is known and under the platform's floor "
                  "(PAY_FLOOR_HOURLY_CENTS).")
    pending_hourly_cents = serializers.SerializerMethodField(
        help_text="The part of rate_hourly_cents still pending (earned, waiting for the workers' work to be "
                  "checked): rate_hourly_cents - effective_hourly_cents; null when the rate is.")
    rate_hourly_cents = serializers.SerializerMethodField(
        help_text="Reward per judgment / median seconds * 3600 over the project's newest PAY_HOURLY_SAMPLE approved "
                  "timed judgments, cleared or not; null until PAY_HOURLY_MIN_JUDGMENTS timed judgments exist.")

    class Meta:
        model = Project
        fields = ["id", "name", "task_type", "label_schema", "instructions", "data_use_statement", "reward_cents",
                  "currency", "overlap", "max_overlap", "confidence_threshold", "required_qualifications", "pool",
                  "lease_seconds", "gold_share", "priority", "max_judgments_per_worker", "status", "deadline", "progress",
                  "effective_hourly_cents", "low_pay", "pending_hourly_cents", "rate_hourly_cents", "created_at",
                  "updated_at", "completed_at"]

    @extend_schema_field(ProgressSerializer(allow_null=True))
    def get_progress(self, project) -> dict | None:
        if not hasattr(project, "n_tasks"):
            return None
        return {"tasks": project.n_tasks, "complete": project.n_complete, "gold": project.n_gold}

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_effective_hourly_cents(self, project) -> int | None:
        return getattr(project, "effective_hourly_cents", None)

    @extend_schema_field(serializers.BooleanField())
    def get_low_pay(self, project) -> bool:
        return bool(getattr(project, "below_pay_floor", False))

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_pending_hourly_cents(self, project) -> int | None:
        return getattr(project, "pending_hourly_cents", None)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_rate_hourly_cents(self, project) -> int | None:
        return getattr(project, "rate_hourly_cents", None)


class SpanCategoryAgreementSerializer(serializers.Serializer):
    f1 = serializers.FloatField(allow_null=True, help_text="Pooled F1 (Dice) of the lines two raters put in it.")
    jaccard = serializers.FloatField(allow_null=True)
    pairs = serializers.IntegerField(help_text="Rater pairs where at least one of the two used the category.")


class SpanAgreementSerializer(serializers.Serializer):
    alpha = serializers.FloatField(allow_null=True, help_text="Krippendorff's alpha over per-line nominal labels "
                                                              "(the set of categories on a line; no flag is a value).")
    level = serializers.CharField()
    n_tasks = serializers.IntegerField(help_text="Tasks with two or more raters who pointed at lines.")
    n_lines = serializers.IntegerField(help_text="Lines (units) rated by two or more of them.")
    n_judgments = serializers.IntegerField()
    f1 = serializers.FloatField(allow_null=True, help_text="Pooled over every category (micro).")
    jaccard = serializers.FloatField(allow_null=True)
    pairs = serializers.IntegerField()
    categories = serializers.DictField(child=SpanCategoryAgreementSerializer(), help_text="Per taxonomy slug.")


class AgreementSerializer(serializers.Serializer):
    alpha = serializers.FloatField(allow_null=True)
    level = serializers.CharField()
    fleiss_kappa = serializers.FloatField(allow_null=True)
    n_tasks = serializers.IntegerField()
    n_judgments = serializers.IntegerField()
    spans = SpanAgreementSerializer(allow_null=True, required=False,
                                    help_text="Flags projects whose answers point at lines: line-level agreement. "
                                              "Null otherwise.")
    computed_at = serializers.DateTimeField()


def _out(project) -> dict:
    projects_attach_hourly([project])
    return ProjectOutSerializer(project).data


class ProjectListView(ClientAPIView):
    @extend_schema(tags=["client: projects"], summary="List your projects",
                   responses={200: ProjectOutSerializer(many=True)})
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(project_list(client=self.client), request, view=self)
        page = projects_attach_hourly(page)  # two queries for the page (the sample, the ledger)
        return paginator.get_paginated_response(ProjectOutSerializer(page, many=True).data)

    @extend_schema(tags=["client: projects"], summary="Create a project", request=ProjectInSerializer,
                   responses={201: ProjectOutSerializer, 400: ErrorSerializer})
    def post(self, request):
        data = ProjectInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = project_create(client=self.client, **data.validated_data)
        return Response(_out(self.project(project.pk, with_counts=True)), status=status.HTTP_201_CREATED)


class ProjectDetailView(ClientAPIView):
    @extend_schema(tags=["client: projects"], summary="One of your projects",
                   responses={200: ProjectOutSerializer, 404: ErrorSerializer})
    def get(self, request, project_id: int):
        return Response(_out(self.project(project_id, with_counts=True)))

    @extend_schema(tags=["client: projects"], summary="Change a project's deadline", request=ProjectUpdateSerializer,
                   responses={200: ProjectOutSerializer, 400: ErrorSerializer, 404: ErrorSerializer})
    def patch(self, request, project_id: int):
        data = ProjectUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project_set_deadline(project_id=self.project(project_id).pk, deadline=data.validated_data["deadline"])
        return Response(_out(self.project(project_id, with_counts=True)))


class ProjectPauseView(ClientAPIView):
    @extend_schema(tags=["client: projects"], summary="Pause: workers get no more of its tasks", request=None,
                   responses={200: ProjectOutSerializer, 404: ErrorSerializer, 409: ErrorSerializer})
    def post(self, request, project_id: int):
        project_pause(project_id=self.project(project_id).pk)
        return Response(_out(self.project(project_id, with_counts=True)))


class ProjectResumeView(ClientAPIView):
    @extend_schema(tags=["client: projects"], summary="Resume a paused (or draft) project", request=None,
                   responses={200: ProjectOutSerializer, 404: ErrorSerializer, 409: ErrorSerializer})
    def post(self, request, project_id: int):
        project_resume(project_id=self.project(project_id).pk)
        return Response(_out(self.project(project_id, with_counts=True)))


class ProjectAgreementView(ClientAPIView):
    @extend_schema(tags=["client: results"], summary="Inter-rater agreement of the project",
                   responses={200: AgreementSerializer,
                              404: OpenApiResponse(ErrorSerializer, description="No such project, or no "
                                                   "agreement computed yet (code agreement_not_computed).")})
    def get(self, request, project_id: int):
        project = self.project(project_id)
        agreement = events.project_agreement.ask(project_id=project.pk)  # quality's (marketplace/events.py)
        if agreement is None:
            raise NotFound("No agreement computed yet for this project.", code="agreement_not_computed")
        return Response(AgreementSerializer(agreement).data)
