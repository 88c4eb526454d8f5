"""Client API: bulk upload of tasks (JSON array or JSONL), streamed."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
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
               "application/json-lines", "text/jsonl",
               # JSONL as plain bytes: the form that generated clients (openapi-python-client) can send.
               "application/octet-stream"}


class _StreamOnly(BaseParser):
    """Declares the accepted media types (for content negotiation and the schema); the view reads the
    raw stream itself, so these never buffer the body."""

    def parse(self, stream, media_type=None, parser_context=None):  # pragma: no cover - never called
        raise NotImplementedError


class JSONArrayParser(_StreamOnly):
    media_type = "application/json"


class NDJSONParser(_StreamOnly):
    media_type = "application/x-ndjson"


class JSONLBytesParser(_StreamOnly):
    media_type = "application/octet-stream"


class IngestResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()


class IngestView(ClientAPIView):
    parser_classes = [JSONArrayParser, NDJSONParser, JSONLBytesParser]

    @extend_schema(
        tags=["client: tasks"], summary="Upload tasks (JSON array or JSONL)",
        description="Body: one row per line (JSONL: application/x-ndjson, or application/octet-stream as "
                    "listed here for generated clients), each row {\"external_id\": your id, \"data\": "
                    "task data of the project's type, \"gold\": known answer (optional), \"priority\": int "
                    "(optional)}; or a JSON array of rows (application/json). "
                    "All or nothing: any invalid line -> 400 listing line numbers (JSONL line numbers, or the "
                    "1-based position in the array) with the reason per field; nothing is stored. An "
                    "external_id seen before counts as a duplicate, so retrying an upload is safe. Send a "
                    "Content-Length (chunked bodies are not read).",
        # Only the JSONL form is listed, as application/octet-stream: openapi-python-client (0.29) drops a body
        # of a media type it does not know (application/x-ndjson), and an operation with two bodies, one of
        # them an array, generates code that fails at run time (isinstance against list[...]).
        request={"application/octet-stream": OpenApiTypes.BINARY},
        responses={201: IngestResultSerializer, 400: ErrorSerializer, 404: ErrorSerializer,
                   415: OpenApiResponse(ErrorSerializer, description="Not JSON or JSONL.")},
        examples=[OpenApiExample("pairwise rows (JSONL)", request_only=True, media_type="application/octet-stream",
                                 value='{"external_id": "ex-1", "data": {"prompt": "Reverse a list", "language": '
                                       '"python", "response_a": "xs[::-1]", "response_b": "xs.reverse()"}}\n')],
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
