"""POST/GET /api/v1/payout-account/: the worker's Stripe Connect (express) account and onboarding link."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.permissions import IsWorker
from payments.api.serializers import OnboardingOutSerializer, PayoutAccountOutSerializer
from payments.selectors import payout_account_get
from payments.services.connect import payout_account_onboarding_link


def _account_body(row) -> dict:
    return {"connected": row is not None, "stripe_account_id": row.stripe_id if row else None,
            "payouts_enabled": bool(row and row.payouts_enabled),
            "details_submitted": bool(row and row.details_submitted),
            "last_payout_failure": row.last_payout_failure if row else ""}


class PayoutAccountView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(responses=PayoutAccountOutSerializer, summary="My payout account (Stripe Connect)", tags=["payments"])
    def get(self, request):
        return Response(_account_body(payout_account_get(user=request.user)))

    @extend_schema(request=None, responses={201: OnboardingOutSerializer, 200: OnboardingOutSerializer},
                   summary="Connect a payout account: creates it once, returns an onboarding link", tags=["payments"])
    def post(self, request):
        result = payout_account_onboarding_link(user=request.user)
        body = {**_account_body(result["account"]), "onboarding_url": result["onboarding_url"],
                "expires_at": result["expires_at"]}
        return Response(body, status=status.HTTP_201_CREATED if result["created"] else status.HTTP_200_OK)
