"""Finance: bonuses and adjustments on a worker's balance; above a threshold, a second finance user approves."""

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.permissions import IsFinance
from marketplace.errors import NotFound, ValidationFailed
from payments.api.serializers import AdjustmentInSerializer, LedgerAdjustmentOutSerializer
from payments.models import LedgerAdjustment
from payments.selectors import ledger_adjustment_get, ledger_adjustment_list
from payments.services.adjustments import ledger_adjustment_approve, ledger_adjustment_create, ledger_adjustment_reject


class LedgerAdjustmentListCreateView(ListAPIView):
    permission_classes = [IsFinance]
    serializer_class = LedgerAdjustmentOutSerializer

    def get_queryset(self):
        wanted = self.request.query_params.get("status")
        if wanted is not None and wanted not in LedgerAdjustment.Status.values:
            raise ValidationFailed(f"status must be one of {', '.join(LedgerAdjustment.Status.values)}.",
                                   fields={"status": ["unknown status"]})
        return ledger_adjustment_list(status=wanted)

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=LedgerAdjustment.Status.values)],
                   summary="Adjustments, newest first (?status=pending: those waiting for approval)", tags=["finance"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=AdjustmentInSerializer,
                   responses={201: LedgerAdjustmentOutSerializer, 202: LedgerAdjustmentOutSerializer,
                              200: LedgerAdjustmentOutSerializer},
                   summary="A bonus or adjustment on a worker's balance: 201 posted; 202 pending a second "
                           "finance user's approval (above PAYMENTS_ADJUSTMENT_APPROVAL_ABOVE_CENTS); 200 the "
                           "same reference again", tags=["finance"])
    def post(self, request):
        data = AdjustmentInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        adjustment = ledger_adjustment_create(
            actor_id=request.user.pk, worker_id=v["worker"], amount_cents=v["amount_cents"],
            currency=(v.get("currency") or settings.STRIPE_CURRENCY).lower(), kind=v["kind"], memo=v["memo"],
            reference=v["reference"])
        code = (status.HTTP_200_OK if adjustment.replayed else
                status.HTTP_202_ACCEPTED if adjustment.status == LedgerAdjustment.Status.PENDING else
                status.HTTP_201_CREATED)
        return Response(LedgerAdjustmentOutSerializer(adjustment).data, status=code)


class LedgerAdjustmentDetailView(APIView):
    permission_classes = [IsFinance]

    @extend_schema(responses=LedgerAdjustmentOutSerializer, summary="One adjustment", tags=["finance"])
    def get(self, request, adjustment_id: int):
        adjustment = ledger_adjustment_get(adjustment_id=adjustment_id)
        if adjustment is None:
            raise NotFound(f"No ledger adjustment {adjustment_id}.")
        return Response(LedgerAdjustmentOutSerializer(adjustment).data)


class LedgerAdjustmentApproveView(APIView):
    permission_classes = [IsFinance]

    @extend_schema(request=None, responses=LedgerAdjustmentOutSerializer,
                   summary="Approve a pending adjustment and post it (not its requester, not its worker)",
                   tags=["finance"])
    def post(self, request, adjustment_id: int):
        adjustment = ledger_adjustment_approve(adjustment_id=adjustment_id, actor_id=request.user.pk)
        return Response(LedgerAdjustmentOutSerializer(adjustment).data)


class LedgerAdjustmentRejectView(APIView):
    permission_classes = [IsFinance]

    @extend_schema(request=None, responses=LedgerAdjustmentOutSerializer,
                   summary="Reject a pending adjustment (nothing is posted)", tags=["finance"])
    def post(self, request, adjustment_id: int):
        adjustment = ledger_adjustment_reject(adjustment_id=adjustment_id, actor_id=request.user.pk)
        return Response(LedgerAdjustmentOutSerializer(adjustment).data)
