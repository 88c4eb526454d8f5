"""Routes of this app under /api/v1/ (included by marketplace/urls.py)."""

from django.urls import path

from payments.api.adjustments import (
    LedgerAdjustmentApproveView,
    LedgerAdjustmentDetailView,
    LedgerAdjustmentListCreateView,
    LedgerAdjustmentRejectView,
)
from payments.api.connect import PayoutAccountView
from payments.api.earnings import MyEarningsView
from payments.api.payouts import (
    PayoutBatchApproveView,
    PayoutBatchDetailView,
    PayoutBatchExecuteView,
    PayoutBatchExportView,
    PayoutBatchListCreateView,
    ReconciliationView,
)

urlpatterns = [
    path("me/earnings/", MyEarningsView.as_view(), name="my-earnings"),
    path("payout-account/", PayoutAccountView.as_view(), name="payout-account"),
    path("payout-batches/", PayoutBatchListCreateView.as_view(), name="payout-batches"),
    path("payout-batches/<int:batch_id>/", PayoutBatchDetailView.as_view(), name="payout-batch"),
    path("payout-batches/<int:batch_id>/approve/", PayoutBatchApproveView.as_view(), name="payout-batch-approve"),
    path("payout-batches/<int:batch_id>/execute/", PayoutBatchExecuteView.as_view(), name="payout-batch-execute"),
    path("payout-batches/<int:batch_id>/export.csv", PayoutBatchExportView.as_view(), name="payout-batch-export"),
    path("ledger-adjustments/", LedgerAdjustmentListCreateView.as_view(), name="ledger-adjustments"),
    path("ledger-adjustments/<int:adjustment_id>/", LedgerAdjustmentDetailView.as_view(), name="ledger-adjustment"),
    path("ledger-adjustments/<int:adjustment_id>/approve/", LedgerAdjustmentApproveView.as_view(),
         name="ledger-adjustment-approve"),
    path("ledger-adjustments/<int:adjustment_id>/reject/", LedgerAdjustmentRejectView.as_view(),
         name="ledger-adjustment-reject"),
    path("reconciliation/", ReconciliationView.as_view(), name="reconciliation"),
]
