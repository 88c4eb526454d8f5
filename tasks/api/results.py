"""Client API: results (paginated JSON or streamed JSONL), preference export, CSV export."""

import csv
import io
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers
from rest_framework.exceptions import ValidationError

from marketplace.api.pagination import Pagination
from marketplace.api.renderers import JSONRenderer
from marketplace.errors import ValidationFailed
from marketplace.safe_output import json_line, utf8_chunks
from tasks.api.base import ClientAPIView
from tasks.api.projects import ErrorSerializer
from tasks.selectors.results import preferences_iter, result_tasks, results_for_tasks, results_iter


class JSONLRenderer(renderers.BaseRenderer):
    media_type = "application/x-ndjson"
    format = "jsonl"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # Only errors reach a renderer (streams bypass it): keep them in the one JSON error format.
        return json.dumps(data, cls=DjangoJSONEncoder).encode()


class CSVRenderer(JSONLRenderer):
    media_type = "text/csv"
    format = "csv"


_line = json_line  # valid JSON and UTF-8 whatever a stored row holds (marketplace.safe_output)


class JudgmentOutSerializer(serializers.Serializer):
    worker = serializers.CharField(help_text="Pseudonym, stable for your organization only.")
    answer = serializers.JSONField()
    seconds = serializers.FloatField(allow_null=True)


class ConsensusOutSerializer(serializers.Serializer):
    answer = serializers.JSONField()
    confidence = serializers.FloatField()


class ResultSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["open", "complete"])
    is_gold = serializers.BooleanField(help_text="A gold task you uploaded with a known answer.")
    completed_at = serializers.DateTimeField(allow_null=True)
    judgments = JudgmentOutSerializer(many=True)
    consensus = ConsensusOutSerializer(allow_null=True, help_text="Null until quality computed it.")


class PreferenceSerializer(serializers.Serializer):
    prompt = serializers.CharField()
    chosen = serializers.CharField()
    rejected = serializers.CharField()
    confidence = serializers.FloatField()
    n_raters = serializers.IntegerField()
    external_id = serializers.CharField()
    language = serializers.CharField()


_FILTERS = [
    OpenApiParameter("status", OpenApiTypes.STR, enum=["open", "complete"], description="Only tasks in this status."),
    OpenApiParameter("gold", OpenApiTypes.BOOL, description="true: only gold tasks; false: no gold tasks."),
]


def _filters(request) -> dict:
    status = request.query_params.get("status") or None
    if status not in (None, "open", "complete"):
        raise ValidationFailed("status must be open or complete.", fields={"status": ["must be open or complete"]})
    gold = request.query_params.get("gold")
    if gold in (None, ""):
        is_gold = None
    elif gold.lower() in ("true", "1"):
        is_gold = True
    elif gold.lower() in ("false", "0"):
        is_gold = False
    else:
        raise ValidationError({"gold": ["must be true or false"]})
    return {"status": status, "is_gold": is_gold}


class ResultsView(ClientAPIView):
    renderer_classes = [JSONRenderer, JSONLRenderer]

    @extend_schema(
        tags=["client: results"], summary="Results per task (paginated JSON, or ?format=jsonl streamed)",
        parameters=[*_FILTERS, OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "jsonl"],
                                                description="jsonl streams every task, one per line.")],
        responses={(200, "application/json"): ResultSerializer(many=True),
                   (200, "application/x-ndjson"): ResultSerializer, 404: ErrorSerializer},
    )
    def get(self, request, project_id: int):
        project = self.project(project_id)
        filters = _filters(request)
        if request.accepted_renderer.format == "jsonl":
            client = self.client
            lines = (_line(r) for r in results_iter(client=client, project=project, **filters))
            response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
            response["Content-Disposition"] = f'inline; filename="project-{project.pk}-results.jsonl"'
            return response
        paginator = Pagination()
        page = paginator.paginate_queryset(result_tasks(project=project, **filters).defer("data"), request, view=self)
        return paginator.get_paginated_response(results_for_tasks(client=self.client, tasks=list(page)))


class PreferencesExportView(ClientAPIView):
    renderer_classes = [JSONLRenderer, JSONRenderer]

    @extend_schema(
        tags=["client: results"], summary="Preference pairs (pairwise and ranking projects), JSONL",
        description="One line per resolved pair {prompt, chosen, rejected, confidence, n_raters, external_id, "
                    "language}; ties and tasks without a consensus are left out and counted in the last line "
                    '{"_summary": {pairs, tasks_exported, ties, unresolved, open_tasks}}.',
        responses={(200, "application/x-ndjson"): PreferenceSerializer,
                   400: OpenApiResponse(ErrorSerializer, description="Not a pairwise or ranking project."),
                   404: ErrorSerializer},
    )
    def get(self, request, project_id: int):
        project = self.project(project_id)
        if project.task_type not in ("pairwise", "ranking"):
            raise ValidationFailed("Preference export is for pairwise and ranking projects.",
                                   code="wrong_task_type", fields={"task_type": ["must be pairwise or ranking"]})
        response = StreamingHttpResponse((_line(p) for p in preferences_iter(project=project)),
                                         content_type="application/x-ndjson")
        response["Content-Disposition"] = f'attachment; filename="project-{project.pk}-preferences.jsonl"'
        return response


CSV_COLUMNS = ["external_id", "status", "is_gold", "completed_at", "n_judgments", "answers", "consensus_answer",
               "consensus_confidence", "judgments_json"]


def _cell(value) -> str:
    """Neutralise spreadsheet formulas in text that came from workers or clients."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _label(answer) -> str:
    if not isinstance(answer, dict):
        return ""
    for key in ("choice", "score"):
        if key in answer:
            return str(answer[key])
    if "order" in answer:
        return ">".join(map(str, answer["order"]))
    if "flags" in answer:
        return "|".join(answer["flags"]) or "(none)"
    return json.dumps(answer, ensure_ascii=False)


def _csv_rows(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        c = r["consensus"]
        writer.writerow([_cell(r["external_id"]), r["status"], r["is_gold"],
                         r["completed_at"].isoformat() if r["completed_at"] else "", len(r["judgments"]),
                         _cell(";".join(_label(j["answer"]) for j in r["judgments"])),
                         _cell(_label(c["answer"])) if c else "", c["confidence"] if c else "",
                         _cell(json.dumps(r["judgments"], ensure_ascii=False))])
        if buffer.tell() > 1 << 16:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


class ResultsCSVExportView(ClientAPIView):
    renderer_classes = [CSVRenderer, JSONRenderer]

    @extend_schema(
        tags=["client: results"], summary="Results as CSV (one row per task)", parameters=_FILTERS,
        description=f"Columns: {', '.join(CSV_COLUMNS)}. `answers` holds each judgment's label "
                    "(choice, score, order as 2>0>1, flags as a|b), `judgments_json` the full judgments.",
        responses={(200, "text/csv"): OpenApiTypes.STR, 404: ErrorSerializer},
    )
    def get(self, request, project_id: int):
        project = self.project(project_id)
        rows = results_iter(client=self.client, project=project, **_filters(request))
        response = StreamingHttpResponse(utf8_chunks(_csv_rows(rows)), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="project-{project.pk}-results.csv"'
        return response
