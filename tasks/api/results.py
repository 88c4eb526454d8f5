"""Client API: results (paginated JSON or streamed JSONL), preference export, CSV export."""

import io
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import renderers, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from marketplace.api.pagination import Pagination
from marketplace.api.renderers import JSONRenderer
from marketplace.csv_safe import csv_writer
from marketplace.errors import ValidationFailed
from marketplace.safe_output import json_line, utf8_chunks
from tasks.api.base import ClientAPIView
from tasks.api.projects import ErrorSerializer
from tasks.models import CompletionRun
from tasks.selectors.preferences import (
    PREFERENCE_TASK_TYPES,
    STYLES,
    PreferenceFilters,
    preferences_iter,
    preferences_summary,
)
from tasks.selectors.results import result_tasks, results_for_tasks, results_iter


class JSONLRenderer(renderers.BaseRenderer):
    media_type = "application/x-ndjson"
    format = "jsonl"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # Only errors reach a renderer (streams bypass it): keep them in the one JSON error format.
        return json.dumps(data, cls=DjangoJSONEncoder).encode()


class JSONLBytesRenderer(JSONLRenderer):
    """JSONL answered to `Accept: application/octet-stream`: the media type generated clients can read."""

    media_type = "application/octet-stream"
    format = "jsonl-bytes"
    charset = None


class CSVRenderer(JSONLRenderer):
    media_type = "text/csv"
    format = "csv"


_line = json_line  # valid JSON and UTF-8 whatever a stored row holds (marketplace.safe_output)


class JudgmentOutSerializer(serializers.Serializer):
    worker = serializers.CharField(help_text="Pseudonym, stable for your organization only.")
    answer = serializers.JSONField()
    seconds = serializers.FloatField(allow_null=True)


class ConsensusOutSerializer(serializers.Serializer):
    answer = serializers.JSONField(help_text="The answer's shape; a flags consensus of answers with spans also "
                                             "has spans [{start_line, end_line, category, support}]: lines more "
                                             "than half the raters who pointed at lines put in the category, support "
                                             "the smallest share of them behind any line of the span.")
    confidence = serializers.FloatField()


class CompletionRunOutSerializer(serializers.Serializer):
    passed = serializers.BooleanField()
    status = serializers.ChoiceField(choices=CompletionRun.Status.choices)
    failures = serializers.CharField(help_text="Why it did not pass (the limit, the case, stderr's tail); empty if it passed.")
    duration = serializers.FloatField(help_text="Wall seconds in the sandbox.")
    runner_version = serializers.CharField()


class ExecutionOutSerializer(serializers.Serializer):
    a = CompletionRunOutSerializer(required=False, help_text="response_a against the task's tests.")
    b = CompletionRunOutSerializer(required=False, help_text="response_b against the task's tests.")


class ResultSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["open", "complete"])
    is_gold = serializers.BooleanField(help_text="A gold task: uploaded with a known answer, or proven by execution.")
    gold_source = serializers.ChoiceField(choices=["", "execution"],
                                          help_text="execution: gold because exactly one side passed the tests.")
    completed_at = serializers.DateTimeField(allow_null=True)
    judgments = JudgmentOutSerializer(many=True)
    consensus = ConsensusOutSerializer(allow_null=True, help_text="Null until quality computed it.")
    execution = ExecutionOutSerializer(allow_null=True,
                                       help_text="Per completion, its run against the task's tests; null without tests.")


class PreferenceSerializer(serializers.Serializer):
    prompt = serializers.CharField()
    chosen = serializers.CharField(help_text="The response the raters' consensus preferred.")
    rejected = serializers.CharField()
    confidence = serializers.FloatField(help_text="Consensus confidence in [0, 1] (always a number).")
    n_raters = serializers.IntegerField(help_text="Approved judgments the consensus was computed from.")
    external_id = serializers.CharField(help_text="Your task's id (a ranking task yields several pairs).")
    language = serializers.CharField(help_text="The task's language slug.")
    chosen_execution = serializers.CharField(
        allow_blank=True, help_text="The chosen response's run against the task's tests: passed, failed, error, "
                                    "timeout or killed; empty without tests (and for ranking).")
    rejected_execution = serializers.CharField(allow_blank=True, help_text="The same for the rejected response.")


class UserMessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=["user"])
    content = serializers.CharField()


class AssistantMessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=["assistant"])
    content = serializers.CharField()


class ConversationalPreferenceSerializer(serializers.Serializer):
    prompt = UserMessageSerializer(many=True)
    chosen = AssistantMessageSerializer(many=True)
    rejected = AssistantMessageSerializer(many=True)
    confidence = serializers.FloatField()
    n_raters = serializers.IntegerField()
    external_id = serializers.CharField()
    language = serializers.CharField()
    chosen_execution = serializers.CharField(allow_blank=True)
    rejected_execution = serializers.CharField(allow_blank=True)


class PreferenceFiltersOutSerializer(serializers.Serializer):
    min_confidence = serializers.FloatField()
    min_raters = serializers.IntegerField()


class PreferenceSummarySerializer(serializers.Serializer):
    pairs = serializers.IntegerField(help_text="Records in the export with these filters.")
    tasks_exported = serializers.IntegerField(help_text="Tasks those pairs come from.")
    ties = serializers.IntegerField(help_text="Complete tasks whose consensus is a tie (no pair).")
    unresolved = serializers.IntegerField(
        help_text="Complete tasks without a usable consensus (none yet, no confidence, or not fitting the task).")
    filtered_out = serializers.IntegerField(help_text="Complete tasks below min_confidence or min_raters.")
    complete_tasks = serializers.IntegerField(help_text="tasks_exported + ties + unresolved + filtered_out.")
    open_tasks = serializers.IntegerField(help_text="Non-gold tasks still collecting judgments.")
    mean_confidence = serializers.FloatField(allow_null=True, help_text="Mean consensus confidence over the pairs.")
    filters = PreferenceFiltersOutSerializer()


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


MAX_MIN_RATERS = 1000

_PREFERENCE_FILTERS = [
    OpenApiParameter("min_confidence", {"type": "number", "minimum": 0, "maximum": 1, "default": 0},
                     description="Only tasks whose consensus confidence is at least this (0 to 1)."),
    OpenApiParameter("min_raters", {"type": "integer", "minimum": 0, "maximum": MAX_MIN_RATERS, "default": 0},
                     description=f"Only tasks whose consensus rests on at least this many approved judgments "
                                 f"(0 to {MAX_MIN_RATERS})."),
]
_STYLE = OpenApiParameter("style", OpenApiTypes.STR, enum=list(STYLES), default="standard",
                          description="standard: prompt, chosen, rejected are strings. conversational: prompt is "
                                      "[{role: user, content}], chosen and rejected [{role: assistant, content}].")
# What the export's headers carry: the same figures as the summary endpoint, computed before the body.
EXPORT_HEADERS = {
    "X-Export-Pairs": ("pairs", "Records in this body."),
    "X-Export-Tasks": ("tasks_exported", "Tasks the records come from."),
    "X-Export-Ties": ("ties", "Complete tasks whose consensus is a tie."),
    "X-Export-Unresolved": ("unresolved", "Complete tasks without a usable consensus."),
    "X-Export-Filtered-Out": ("filtered_out", "Complete tasks below min_confidence or min_raters."),
    "X-Export-Open-Tasks": ("open_tasks", "Non-gold tasks still collecting judgments."),
}


def _invalid(param: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{param}: {message}.", fields={param: [message]})


def _preference_filters(request) -> PreferenceFilters:
    params = request.query_params
    min_confidence, min_raters = 0.0, 0
    raw = params.get("min_confidence", "").strip()
    if raw:
        try:
            min_confidence = float(raw)
        except ValueError:
            raise _invalid("min_confidence", "must be a number from 0 to 1") from None
        if not 0.0 <= min_confidence <= 1.0:  # also refuses nan and inf
            raise _invalid("min_confidence", "must be a number from 0 to 1")
    raw = params.get("min_raters", "").strip()
    if raw:
        if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_MIN_RATERS:
            raise _invalid("min_raters", f"must be a whole number from 0 to {MAX_MIN_RATERS}")
        min_raters = int(raw)
    return PreferenceFilters(min_confidence=min_confidence, min_raters=min_raters)


def _preference_style(request) -> str:
    style = request.query_params.get("style", "").strip() or "standard"
    if style not in STYLES:
        raise _invalid("style", "must be standard or conversational")
    return style


def _preference_project(view, project_id: int):
    project = view.project(project_id)
    if project.task_type not in PREFERENCE_TASK_TYPES:
        raise ValidationFailed("Preference export is for pairwise and ranking projects.",
                               code="wrong_task_type", fields={"task_type": ["must be pairwise or ranking"]})
    return project


_WRONG_TYPE = OpenApiResponse(ErrorSerializer, description="Not a pairwise or ranking project (wrong_task_type), "
                                                           "or a filter out of range (the parameter is named).")


class PreferencesExportView(ClientAPIView):
    renderer_classes = [JSONLRenderer, JSONRenderer, JSONLBytesRenderer]

    @extend_schema(
        tags=["client: results"], summary="Preference pairs for DPO / reward-model training (JSONL, records only)",
        description="One record per resolved pair, in the shape TRL's DPO trainer and `datasets` load as is: "
                    "standard `{prompt, chosen, rejected, confidence, n_raters, external_id, language}` (strings, "
                    "a float and an int in every row), or conversational with `style=conversational`. A ranking "
                    "consensus yields every implied pair. Only complete non-gold tasks with a usable consensus "
                    "that passes the filters; the counts (pairs, ties, unresolved, filtered out, open tasks) are "
                    "in the X-Export-* headers and at `export/preferences/summary/`, never in the body.",
        parameters=[_STYLE, *_PREFERENCE_FILTERS,
                    *(OpenApiParameter(name, OpenApiTypes.INT, location=OpenApiParameter.HEADER, response=[200],
                                       description=text) for name, (_, text) in EXPORT_HEADERS.items())],
        responses={(200, "application/x-ndjson"): OpenApiResponse(
                       PolymorphicProxySerializer(component_name="PreferenceRecord",
                                                  serializers=[PreferenceSerializer, ConversationalPreferenceSerializer],
                                                  resource_type_field_name=None),
                       description="One JSON object per line (standard or conversational, per `style`)."),
                   # The same JSONL as application/octet-stream: generated clients read that as bytes, where
                   # they would drop the answer of a media type they do not know.
                   (200, "application/octet-stream"): OpenApiTypes.BINARY,
                   400: _WRONG_TYPE, 404: ErrorSerializer},
    )
    def get(self, request, project_id: int):
        project = _preference_project(self, project_id)
        filters, style = _preference_filters(request), _preference_style(request)
        # Headers go out before the body: the figures come from the summary's aggregate queries, not the stream.
        summary = preferences_summary(project=project, filters=filters)
        records = preferences_iter(project=project, filters=filters, style=style)
        response = StreamingHttpResponse((_line(p) for p in records), content_type="application/x-ndjson")
        suffix = "" if style == "standard" else f"-{style}"
        response["Content-Disposition"] = f'attachment; filename="project-{project.pk}-preferences{suffix}.jsonl"'
        for header, (key, _) in EXPORT_HEADERS.items():
            response[header] = str(summary[key])
        return response


class PreferencesSummaryView(ClientAPIView):
    @extend_schema(
        tags=["client: results"], summary="What the preference export holds, without downloading it",
        description="The counts of `export/preferences.jsonl` with the same filters: pairs, tasks exported, ties, "
                    "unresolved, filtered out, complete and open tasks, and the mean confidence of the pairs.",
        parameters=_PREFERENCE_FILTERS,
        responses={200: PreferenceSummarySerializer, 400: _WRONG_TYPE, 404: ErrorSerializer},
    )
    def get(self, request, project_id: int):
        project = _preference_project(self, project_id)
        return Response(preferences_summary(project=project, filters=_preference_filters(request)))


CSV_COLUMNS = ["external_id", "status", "is_gold", "completed_at", "n_judgments", "answers", "consensus_answer",
               "consensus_confidence", "judgments_json", "consensus_spans"]


def _spans_label(answer) -> str:
    """A flags consensus's spans as `3-5:off_by_one@0.67|9-9:wrong_variable@1.0`; empty without spans."""
    spans = answer.get("spans") if isinstance(answer, dict) else None
    if not isinstance(spans, list):
        return ""
    return "|".join(f"{s.get('start_line')}-{s.get('end_line')}:{s.get('category')}@{s.get('support')}"
                    for s in spans if isinstance(s, dict))


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
    writer = csv_writer(buffer)  # neutralises formulas in every text cell
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        c = r["consensus"]
        writer.writerow([r["external_id"], r["status"], r["is_gold"],
                         r["completed_at"].isoformat() if r["completed_at"] else "", len(r["judgments"]),
                         ";".join(_label(j["answer"]) for j in r["judgments"]),
                         _label(c["answer"]) if c else "", c["confidence"] if c else "",
                         json.dumps(r["judgments"], ensure_ascii=False),
                         _spans_label(c["answer"]) if c else ""])
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
                    "(choice, score, order as 2>0>1, flags as a|b), `judgments_json` the full judgments (a flags "
                    "judgment's spans included), `consensus_spans` a flags consensus's spans as "
                    "start-end:category@support joined by |.",
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="A header row, then one row "
                                                                                "per task (RFC 4180, UTF-8)."),
                   400: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request, project_id: int):
        project = self.project(project_id)
        rows = results_iter(client=self.client, project=project, **_filters(request))
        response = StreamingHttpResponse(utf8_chunks(_csv_rows(rows)), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="project-{project.pk}-results.csv"'
        return response
