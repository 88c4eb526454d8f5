"""The real URLconf plus GET /bench/ping/: authenticated by the same X-Session-Token, no database work
beyond authentication. Only mounted by bench/claim_load_settings.py."""

from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.urls import handler400, handler403, handler404, handler500  # noqa: F401
from marketplace.urls import urlpatterns as real


class Ping(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"user": request.user.pk})


urlpatterns = [path("bench/ping/", Ping.as_view()), *real]
