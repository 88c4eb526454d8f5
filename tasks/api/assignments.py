"""The worker's queue endpoints: claim, submit, release, list. Thin: validate, call a service, render.

Nothing here ever renders a task's gold answer, whether a task is gold, gold_correct, or another
worker's answer (docs/design.md invariant 5): the serializers below name every field that leaves.
"""

from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.permissions import IsWorker
from marketplace.errors import ValidationFailed
from marketplace.observability.instruments import TimedClaim, TimedSubmit
from tasks.models import Assignment, CompletionRun
from tasks.selectors.queue import worker_assignments_list
from tasks.services.queue import assignment_claim, assignment_release, assignment_submit

ErrorSerializer = inline_serializer("QueueError", {
    "error": inline_serializer("QueueErrorBody", {
        "code": serializers.CharField(), "message": serializers.CharField(), "fields": serializers.DictField()}),
})


class ClaimRequestSerializer(serializers.Serializer):
    project = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                       help_text="Claim from this project only (default: any you may work on).")


class TaskForWorkerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    data = serializers.JSONField()


class ProjectForWorkerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    task_type = serializers.CharField()
    label_schema = serializers.JSONField()
    instructions = serializers.CharField()
    data_use_statement = serializers.CharField()
    reward_cents = serializers.IntegerField()
    currency = serializers.CharField()


class ClaimTaskSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="task_id")
    data = serializers.JSONField(source="task_data")


class ClaimSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="assignment_id")
    task = ClaimTaskSerializer(source="*")
    project = ProjectForWorkerSerializer()
    expires_at = serializers.DateTimeField()
    reason = serializers.CharField(help_text="Why the queue served this task.")


class SubmitRequestSerializer(serializers.Serializer):
    answer = serializers.JSONField(help_text="Shape by task type: see the API guide (e.g. {\"choice\": \"a\"}).")
    seconds_spent = serializers.FloatField(
        required=False, allow_null=True, min_value=0, max_value=86400,
        help_text="How long you think you spent; kept as reported_seconds. The time that counts is measured by "
                  "the server, from your claim to this submit.")


class FixRunSerializer(serializers.Serializer):
    passed = serializers.BooleanField()
    status = serializers.ChoiceField(choices=CompletionRun.Status.choices)
    failures = serializers.CharField(help_text="Why it did not pass; empty if it passed.")
    duration = serializers.FloatField()


def fix_run_body(judgment, project) -> dict | None:
    """A fix task's answer checked by its tests (tasks.FixRun), or None: not a fix task, or not run yet.
    Read only for fix projects, so other submits pay no query for it."""
    if project.task_type != "fix":
        return None
    try:
        run = judgment.fix_run
    except ObjectDoesNotExist:
        return None
    return {"passed": run.passed, "status": run.status, "failures": run.failures, "duration": round(run.duration, 4)}


class OwnJudgmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    answer = serializers.JSONField()
    seconds_spent = serializers.FloatField(allow_null=True, help_text="Measured by the server: claim to submit.")
    reported_seconds = serializers.FloatField(allow_null=True, help_text="What you reported (not used).")
    submitted_at = serializers.DateTimeField(source="created_at")
    execution = serializers.SerializerMethodField()

    @extend_schema_field(FixRunSerializer(allow_null=True))
    def get_execution(self, obj) -> dict | None:
        """Fix tasks: your code's run against the task's tests (null until the sandbox ran it)."""
        return fix_run_body(obj, obj.assignment.project)


class AssignmentSerializer(serializers.ModelSerializer):
    task = serializers.SerializerMethodField()
    project = serializers.SerializerMethodField()
    reason = serializers.CharField(source="served_reason")
    judgment = serializers.SerializerMethodField()

    class Meta:
        model = Assignment
        fields = ["id", "status", "task", "project", "reason", "claimed_at", "expires_at", "finished_at", "judgment"]

    @extend_schema_field(TaskForWorkerSerializer)
    def get_task(self, obj) -> dict:
        return {"id": obj.task_id, "data": obj.task.data}

    @extend_schema_field(ProjectForWorkerSerializer)
    def get_project(self, obj) -> dict:
        return ProjectForWorkerSerializer(obj.project).data

    @extend_schema_field(OwnJudgmentSerializer(allow_null=True))
    def get_judgment(self, obj) -> dict | None:
        judgment = getattr(obj, "judgment", None)
        return OwnJudgmentSerializer(judgment).data if judgment is not None else None


# The claim and submit answers are built here rather than by ClaimSerializer / AssignmentSerializer (which
# still define the schema): instantiating a DRF serializer deep-copies its fields, and a ModelSerializer builds
# them from the model each time, a measurable share of the two hottest requests. The same fields leave;
# tests/tasks/test_queue_api.py::test_fast_bodies_equal_the_serializers holds the two together.
_DATETIME = serializers.DateTimeField()
_PROJECT_FIELDS = ("id", "name", "task_type", "label_schema", "instructions", "data_use_statement", "reward_cents",
                   "currency")


def _datetime(value):
    return None if value is None else _DATETIME.to_representation(value)


def _project_body(project) -> dict:
    return {name: getattr(project, name) for name in _PROJECT_FIELDS}


def claim_body(claim) -> dict:
    """ClaimSerializer(claim).data, without the serializer."""
    return {"id": claim.assignment_id, "task": {"id": claim.task_id, "data": claim.task_data},
            "project": _project_body(claim.project), "expires_at": _datetime(claim.expires_at),
            "reason": claim.reason}


def assignment_body(assignment) -> dict:
    """AssignmentSerializer(assignment).data, without the serializer (task, project and judgment loaded)."""
    judgment = getattr(assignment, "judgment", None)
    return {
        "id": assignment.id, "status": assignment.status,
        "task": {"id": assignment.task_id, "data": assignment.task.data},
        "project": _project_body(assignment.project), "reason": assignment.served_reason,
        "claimed_at": _datetime(assignment.claimed_at), "expires_at": _datetime(assignment.expires_at),
        "finished_at": _datetime(assignment.finished_at),
        "judgment": None if judgment is None else {
            "id": judgment.id, "answer": judgment.answer,
            "seconds_spent": None if judgment.seconds_spent is None else float(judgment.seconds_spent),
            "reported_seconds": None if judgment.reported_seconds is None else float(judgment.reported_seconds),
            "submitted_at": _datetime(judgment.created_at),
            "execution": fix_run_body(judgment, assignment.project)},
    }


class ClaimView(TimedClaim, APIView):
    permission_classes = [IsWorker]

    @extend_schema(
        operation_id="assignments_claim", tags=["queue"], request=ClaimRequestSerializer,
        responses={201: ClaimSerializer, 204: OpenApiResponse(description="Nothing available for you right now."),
                   403: OpenApiResponse(ErrorSerializer, description="not_qualified, suspended, "
                                        "onboarding_incomplete or too_many_live_claims"),
                   404: OpenApiResponse(ErrorSerializer, description="No such project.")},
        summary="Lease the next task you may do",
    )
    def post(self, request):
        data = ClaimRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        claim = assignment_claim(user=request.user, project_id=data.validated_data.get("project"))
        if claim is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(claim_body(claim), status=status.HTTP_201_CREATED)


class SubmitView(TimedSubmit, APIView):
    permission_classes = [IsWorker]

    @extend_schema(
        operation_id="assignments_submit", tags=["queue"], request=SubmitRequestSerializer,
        responses={200: AssignmentSerializer,
                   400: OpenApiResponse(ErrorSerializer, description="The answer does not fit the label schema."),
                   403: OpenApiResponse(ErrorSerializer, description="suspended: your account (or your membership "
                                        "in the project's pool) is suspended; nothing stored, the task released"),
                   404: OpenApiResponse(ErrorSerializer, description="Not your assignment."),
                   409: OpenApiResponse(ErrorSerializer, description="lease_expired or already_submitted")},
        summary="Submit your answer on a live assignment",
    )
    def post(self, request, pk: int):
        data = SubmitRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        judgment = assignment_submit(user=request.user, assignment_id=pk, answer=data.validated_data["answer"],
                                     seconds_spent=data.validated_data.get("seconds_spent"))
        return Response(assignment_body(judgment.assignment))  # as committed; no read-back


class ReleaseView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(
        operation_id="assignments_release", tags=["queue"], request=None,
        responses={200: AssignmentSerializer,
                   404: OpenApiResponse(ErrorSerializer, description="Not your assignment."),
                   409: OpenApiResponse(ErrorSerializer, description="Not live any more.")},
        summary="Give a live assignment back (its slot returns to the queue at once)",
    )
    def post(self, request, pk: int):
        assignment_release(user=request.user, assignment_id=pk)
        return Response(AssignmentSerializer(worker_assignments_list(user=request.user).get(pk=pk)).data)


class AssignmentListView(ListAPIView):
    permission_classes = [IsWorker]
    serializer_class = AssignmentSerializer
    filter_backends: list = []

    def get_queryset(self):
        wanted = self.request.query_params.get("status") or None
        if wanted and wanted not in Assignment.Status.values:
            raise ValidationFailed(f"Unknown status {wanted!r}.",
                                   fields={"status": [f"must be one of {', '.join(Assignment.Status.values)}"]})
        return worker_assignments_list(user=self.request.user, status=wanted)

    @extend_schema(
        operation_id="assignments_list", tags=["queue"],
        parameters=[OpenApiParameter("status", str, enum=list(Assignment.Status.values),
                                     description="Only assignments in this status.")],
        summary="Your own assignments, newest first",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

