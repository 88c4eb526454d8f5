"""GET /api/v1/me/earnings/: the signed-in worker's own money, never anyone else's."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.pagination import Pagination
from marketplace.api.permissions import IsWorker
from payments.api.serializers import EarningsOutSerializer, LedgerEntryOutSerializer
from payments.selectors import ledger_entries_by_ids, worker_earnings_summary, worker_ledger_entry_ids


class MyEarningsView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(responses=EarningsOutSerializer, summary="My earnings: balance, held, pending, paid, entries",
                   tags=["payments"])
    def get(self, request):
        summary = worker_earnings_summary(user=request.user)
        paginator = Pagination()
        page_ids = paginator.paginate_queryset(worker_ledger_entry_ids(user=request.user), request, view=self)
        page = ledger_entries_by_ids(ids=list(page_ids))
        return Response({
            **summary,
            "count": paginator.page.paginator.count,
            "next": paginator.get_next_link(),
            "previous": paginator.get_previous_link(),
            "entries": LedgerEntryOutSerializer(page, many=True).data,
        })
