"""Finance: payout batches (create, approve, execute, read, CSV) and reconciliation."""

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.permissions import IsFinance
from marketplace.errors import NotFound, ValidationFailed
from payments.api.serializers import (
    PayoutBatchCreateInSerializer,
    PayoutBatchOutSerializer,
    PayoutBatchSummarySerializer,
    ReconciliationOutSerializer,
)
from payments.exports import payout_batch_csv
from payments.reconciliation import reconciliation_report
from payments.selectors import payout_batch_get, payout_batch_line_counts, payout_batch_list, payout_lines
from payments.services.payouts import payout_batch_approve, payout_batch_create, payout_batch_execute


def batch_body(batch) -> dict:
    lines = list(payout_lines(batch_id=batch.pk))
    batch.total_cents = sum(line.amount_cents for line in lines)
    batch.line_counts = payout_batch_line_counts(batch_id=batch.pk)
    batch.line_rows = lines
    return PayoutBatchOutSerializer(batch).data


def _batch_or_404(batch_id: int):
    batch = payout_batch_get(batch_id=batch_id)
    if batch is None:
        raise NotFound(f"No payout batch {batch_id}.")
    return batch


class PayoutBatchListCreateView(ListAPIView):
    permission_classes = [IsFinance]
    serializer_class = PayoutBatchSummarySerializer

    def get_queryset(self):
        return payout_batch_list()

    @extend_schema(summary="Payout batches, newest first", tags=["finance"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=PayoutBatchCreateInSerializer, responses={201: PayoutBatchOutSerializer},
                   summary="Create a draft batch (reserves each line's amount)", tags=["finance"])
    def post(self, request):
        data = PayoutBatchCreateInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = {"cutoff": timezone.now(), **data.validated_data}
        batch = payout_batch_create(actor_id=request.user.pk, **values)
        return Response(batch_body(batch), status=status.HTTP_201_CREATED)


class PayoutBatchDetailView(APIView):
    permission_classes = [IsFinance]

    @extend_schema(responses=PayoutBatchOutSerializer, summary="A batch with its lines", tags=["finance"])
    def get(self, request, batch_id: int):
        return Response(batch_body(_batch_or_404(batch_id)))


class PayoutBatchApproveView(APIView):
    permission_classes = [IsFinance]

    @extend_schema(request=None, responses=PayoutBatchOutSerializer,
                   summary="Approve a draft batch (a different finance user than its creator)", tags=["finance"])
    def post(self, request, batch_id: int):
        return Response(batch_body(payout_batch_approve(batch_id=batch_id, actor_id=request.user.pk)))


class PayoutBatchExecuteView(APIView):
    permission_classes = [IsFinance]

    @extend_schema(request=None, responses={202: PayoutBatchOutSerializer},
                   summary="Execute (or resume) an approved batch: Celery sends one transfer per line",
                   tags=["finance"])
    def post(self, request, batch_id: int):
        batch = payout_batch_execute(batch_id=batch_id, actor_id=request.user.pk)
        return Response(batch_body(batch), status=status.HTTP_202_ACCEPTED)


class PayoutBatchExportView(APIView):
    permission_classes = [IsFinance]

    @extend_schema(responses={(200, "text/csv"): OpenApiResponse(response=OpenApiTypes.STR)},
                   summary="A batch's lines as CSV", tags=["finance"])
    def get(self, request, batch_id: int):
        batch = _batch_or_404(batch_id)
        response = HttpResponse(payout_batch_csv(batch=batch), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="payout-batch-{batch.pk}.csv"'
        return response


class ReconciliationView(APIView):
    permission_classes = [IsFinance]

    @extend_schema(parameters=[OpenApiParameter("batch", int, description="Only this batch (default: all that "
                                                                          "reached Stripe)")],
                   responses=ReconciliationOutSerializer, summary="Ledger vs Stripe: every difference",
                   tags=["finance"])
    def get(self, request):
        raw = request.query_params.get("batch")
        if raw is not None and not raw.isdigit():
            raise ValidationFailed("batch must be a batch id.", fields={"batch": ["must be an integer"]})
        return Response(reconciliation_report(batch_id=int(raw) if raw else None))

