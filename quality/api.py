"""Ops endpoints: flags (GET /api/v1/flags/?status=open, detail, resolve: confirm | dismiss) and one worker's
full quality standing (GET /api/v1/workers/{id}/standing/)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.permissions import IsOps
from marketplace.errors import NotFound, ValidationFailed
from quality.models import Flag
from quality.selectors import flag_list, worker_standing_for_ops
from quality.services import flag_resolve


class FlagSerializer(serializers.ModelSerializer):
    worker_email = serializers.EmailField(source="worker.email", read_only=True)
    project_name = serializers.CharField(source="project.name", read_only=True)
    resolved_by = serializers.EmailField(source="resolved_by.email", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Flag
        fields = ["id", "worker", "worker_email", "project", "project_name", "rule", "severity", "evidence",
                  "status", "actions", "resolved_by", "resolved_at", "note", "created_at"]
        read_only_fields = fields


class FlagResolveSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["confirm", "dismiss"])
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


STATUS_PARAM = OpenApiParameter("status", OpenApiTypes.STR, enum=[s.value for s in Flag.Status],
                                description="Only flags with this status.")


@extend_schema(tags=["ops"], parameters=[STATUS_PARAM])
class FlagListView(generics.ListAPIView):
    """Quality flags, newest first, with the evidence and the actions taken (ops only)."""

    permission_classes = [IsOps]
    serializer_class = FlagSerializer

    def get_queryset(self):
        status = self.request.query_params.get("status") or None
        if status and status not in Flag.Status.values:
            raise ValidationFailed("Unknown status.", fields={"status": [f"must be one of {', '.join(Flag.Status.values)}"]})
        return flag_list(status=status)


@extend_schema(tags=["ops"])
class FlagDetailView(generics.RetrieveAPIView):
    permission_classes = [IsOps]
    serializer_class = FlagSerializer

    def get_queryset(self):
        return flag_list()


@extend_schema(tags=["ops"], request=FlagResolveSerializer, responses={200: FlagSerializer})
class FlagResolveView(APIView):
    """Confirm (held earnings forfeited, suspension stays) or dismiss (hold released, worker reinstated).
    A flag already resolved answers 409 and nothing changes."""

    permission_classes = [IsOps]

    def post(self, request, pk: int):
        payload = FlagResolveSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        flag = flag_resolve(flag_id=pk, decision=payload.validated_data["decision"],
                            note=payload.validated_data["note"], actor_id=request.user.pk)
        return Response(FlagSerializer(flag_list().get(pk=flag.pk)).data)


class WorkerStandingResponseSerializer(serializers.Serializer):
    worker = serializers.IntegerField()
    email = serializers.EmailField()
    standing = serializers.JSONField(allow_null=True, help_text=(
        "status, reasons, n_judgments (what the last run measured), n_submitted (the worker's judgments, approved "
        "or since discarded by a quality review: the count the worker sees and the flags were raised on), gold_n, gold_correct, gold_accuracy, gold_lower, gold_upper, "
        "loo_agreement, loo_n, pool_loo_agreement, median_seconds, top_answer_share, gold_share, random_log_lr "
        "(the random-answering test's log likelihood ratio, random : honest; above 0 holds the worker's pending "
        "pay, docs/payments.md), computed_at, and the same per project under projects; null until the quality job "
        "has measured the worker."))


@extend_schema(tags=["ops"], responses={200: WorkerStandingResponseSerializer})
class WorkerStandingView(APIView):
    """One worker's quality standing with the gold figures the worker is not shown (ops only)."""

    permission_classes = [IsOps]

    def get(self, request, pk: int):
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(pk=pk).only("pk", "email").first()
        if user is None:
            raise NotFound(f"No worker {pk}.")
        return Response({"worker": user.pk, "email": user.email, "standing": worker_standing_for_ops(worker_id=pk)})
