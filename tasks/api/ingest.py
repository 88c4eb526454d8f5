"""Client API: bulk upload of tasks (JSON array or JSONL), streamed."""

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.parsers import BaseParser
from rest_framework.response import Response

from tasks.api.base import ClientAPIView
from tasks.api.projects import ErrorSerializer
from tasks.services.ingest import tasks_ingest
from tasks.services.ingest_parsing import iter_json_array, iter_jsonl

JSONL_TYPES = {"application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines",
               "application/json-lines", "text/jsonl"}


class _StreamOnly(BaseParser):
    """Declares the accepted media types (for content negotiation and the schema); the view reads the
    raw stream itself, so these never buffer the body."""

    def parse(self, stream, media_type=None, parser_context=None):  # pragma: no cover - never called
        raise NotImplementedError


class JSONArrayParser(_StreamOnly):
    media_type = "application/json"


class NDJSONParser(_StreamOnly):
    media_type = "application/x-ndjson"


class TaskRowSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=255, help_text="Your id; a known one counts as a duplicate.")
    data = serializers.JSONField(help_text="Task data for the project's task type (docs/tasks.md).")
    gold = serializers.JSONField(required=False, allow_null=True,
                                 help_text="Known answer (same shape as a worker's): makes this a gold task.")
    priority = serializers.IntegerField(required=False, default=0)


class IngestResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()


class IngestView(ClientAPIView):
    parser_classes = [JSONArrayParser, NDJSONParser]

    @extend_schema(
        tags=["client: tasks"], summary="Upload tasks (JSON array or JSONL)",
        description="Body: a JSON array of rows (application/json) or one row per line (application/x-ndjson). "
                    "All or nothing: any invalid line -> 400 listing line numbers (JSONL line numbers, or the "
                    "1-based position in the array) with the reason per field; nothing is stored. An "
                    "external_id seen before counts as a duplicate, so retrying an upload is safe. Send a "
                    "Content-Length (chunked bodies are not read).",
        request={"application/json": TaskRowSerializer(many=True), "application/x-ndjson": TaskRowSerializer},
        responses={201: IngestResultSerializer, 400: ErrorSerializer, 404: ErrorSerializer,
                   415: OpenApiResponse(ErrorSerializer, description="Not JSON or JSONL.")},
        examples=[OpenApiExample("pairwise row", request_only=True, value=[{
            "external_id": "ex-1", "data": {"prompt": "Reverse a list", "language": "python",
                                            "response_a": "xs[::-1]", "response_b": "xs.reverse()"}}])],
    )
    def post(self, request, project_id: int):
        project = self.project(project_id)
        media_type = (request.content_type or "").split(";")[0].strip().lower()
        max_line = int(getattr(settings, "TASKS_INGEST_MAX_LINE_BYTES", 1 << 20))
        stream = request.stream
        if stream is None:
            items = iter(())
        elif media_type in JSONL_TYPES:
            items = iter_jsonl(stream, max_line_bytes=max_line)
        elif media_type == "application/json":
            items = iter_json_array(stream, max_line_bytes=max_line)
        else:
            raise UnsupportedMediaType(media_type or "(none)",
                                       detail="Send application/json (an array) or application/x-ndjson (JSONL).")
        report = tasks_ingest(project_id=project.pk, items=items)
        return Response({"created": report.created, "duplicates": report.duplicates},
                        status=status.HTTP_201_CREATED)
