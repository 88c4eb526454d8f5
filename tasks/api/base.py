"""Shared plumbing of the client API: Api-Key authentication, the client's project lookup."""

from rest_framework.views import APIView

from marketplace.api.renderers import JSONRenderer
from tasks.auth import ClientAPIKeyAuthentication, IsClient
from tasks.models import Client, Project
from tasks.selectors.projects import project_get


class ClientAPIView(APIView):
    """A view for task sources: `Authorization: Api-Key <key>`, request.auth is the Client."""

    authentication_classes = [ClientAPIKeyAuthentication]
    permission_classes = [IsClient]

    @property
    def client(self) -> Client:
        return self.request.auth

    def project(self, project_id: int, **kwargs) -> Project:
        return project_get(client=self.client, project_id=project_id, **kwargs)

    def handle_exception(self, exc):
        # Errors are JSON in the one error format, also on endpoints that stream JSONL or CSV.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)
