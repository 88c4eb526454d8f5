"""Reads of a project's preference pairs for training (pairwise and ranking projects), and their summary.

A task yields pairs when it is complete, not gold, and quality's consensus (quality.models.TaskConsensus,
read through the Task.consensus relation; never computed here) has a confidence and an answer that fits
the task: a/b for pairwise (one pair), a full order of the task's responses for ranking (every implied
pair: n responses give n(n-1)/2). The classification is written once, as SQL conditions, and used by
both readers, so the summary (one aggregate query, no pass over judgments or task data in Python) counts
exactly the tasks the stream walks:

- unresolved: no consensus, a consensus without an answer or a confidence, or an answer that does not
  fit the task's data;
- filtered_out: a usable consensus below min_confidence or with fewer than min_raters judgments behind it;
- ties: a pairwise consensus "tie" (no pair);
- tasks_exported / pairs: the rest.

`n_raters` is the number of approved judgments the consensus was computed from (TaskConsensus.n_judgments),
so confidence and n_raters describe the same consensus and both filters are plain column conditions.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Count, ExpressionWrapper, F, FloatField, Func, IntegerField, Q, QuerySet, Sum

from tasks.models import CompletionRun, Project, Task
from tasks.selectors.results import keyset_chunks

logger = logging.getLogger(__name__)

CHUNK = 500
PREFERENCE_TASK_TYPES = ("pairwise", "ranking")
STYLES = ("standard", "conversational")


@dataclass(frozen=True)
class PreferenceFilters:
    """Which consensus is good enough to train on. The defaults keep every usable consensus."""

    min_confidence: float = 0.0
    min_raters: int = 0


class JSONArrayLength(Func):
    """Length of the JSON array under `key` of a JSON column; NULL when the key is absent or not an array
    (PostgreSQL's jsonb_array_length raises on a non-array, so the type is checked first)."""

    output_field = IntegerField()

    def __init__(self, expression, key: str):
        if not re.fullmatch(r"[a-z_]+", key):
            raise ValueError(f"unexpected JSON key {key!r}")
        super().__init__(expression)
        self.key = key

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        value = f"(({sql}) -> '{self.key}')"  # the key is a checked identifier, not user input
        return (f"(CASE WHEN jsonb_typeof({value}) = 'array' THEN jsonb_array_length({value}) END)",
                [*params, *params])

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        path = f"$.{self.key}"
        return (f"(CASE WHEN json_type({sql}, %s) = 'array' THEN json_array_length({sql}, %s) END)",
                [*params, path, *params, path])

    def as_sql(self, compiler, connection, **extra):  # other backends are not supported by the project
        raise NotImplementedError(f"JSONArrayLength has no SQL for {connection.vendor}")


def _complete_tasks(project: Project) -> QuerySet[Task]:
    return Task.objects.filter(project=project, is_gold=False, status=Task.Status.COMPLETE)


def _usable(project: Project, qs: QuerySet[Task]) -> QuerySet[Task]:
    """Complete tasks whose consensus has a confidence and an answer that fits the task (not unresolved)."""
    qs = qs.filter(consensus__confidence__isnull=False)
    if project.task_type == "pairwise":
        return qs.filter(consensus__answer__choice__in=["a", "b", "tie"])
    qs = qs.annotate(order_len=JSONArrayLength("consensus__answer", "order"),
                     n_responses=JSONArrayLength("data", "responses"))
    return qs.filter(order_len__gte=2, order_len=F("n_responses"))


def _passes(filters: PreferenceFilters) -> Q:
    # confidence is never null here (_usable) and lies in [0, 1] (a check constraint), so the defaults pass all.
    return Q(consensus__confidence__gte=filters.min_confidence, consensus__n_judgments__gte=filters.min_raters)


def _not_tie(project: Project) -> Q:
    return Q(consensus__answer__choice__in=["a", "b"]) if project.task_type == "pairwise" else Q(pk__isnull=False)


def preferences_summary(*, project: Project, filters: PreferenceFilters = PreferenceFilters()) -> dict:
    """{pairs, tasks_exported, ties, unresolved, filtered_out, complete_tasks, open_tasks, mean_confidence,
    filters}: two aggregate queries over the project's tasks (indexed on project, status) joined with their
    consensus; no rows come to Python. mean_confidence is over exported pairs (a ranking task's confidence
    counts once per pair), null when there are none."""
    counts = Task.objects.filter(project=project, is_gold=False).aggregate(
        open_tasks=Count("pk", filter=Q(status=Task.Status.OPEN)),
        complete_tasks=Count("pk", filter=Q(status=Task.Status.COMPLETE)))
    passes, exported = _passes(filters), _passes(filters) & _not_tie(project)
    if project.task_type == "pairwise":
        pairs_per_task = 1
        pairs = Count("pk", filter=exported)
    else:
        pairs_per_task = ExpressionWrapper(F("order_len") * (F("order_len") - 1) / 2, output_field=IntegerField())
        pairs = Sum(pairs_per_task, filter=exported)
    weighted = ExpressionWrapper(F("consensus__confidence") * pairs_per_task, output_field=FloatField())
    usable = _usable(project, _complete_tasks(project)).aggregate(
        usable=Count("pk"),
        passing=Count("pk", filter=passes),
        tasks_exported=Count("pk", filter=exported),
        pairs=pairs,
        confidence_sum=Sum(weighted, filter=exported))
    n_pairs = int(usable["pairs"] or 0)
    mean = usable["confidence_sum"] / n_pairs if n_pairs and usable["confidence_sum"] is not None else None
    return {
        "pairs": n_pairs,
        "tasks_exported": usable["tasks_exported"],
        "ties": usable["passing"] - usable["tasks_exported"],
        "unresolved": counts["complete_tasks"] - usable["usable"],
        "filtered_out": usable["usable"] - usable["passing"],
        "complete_tasks": counts["complete_tasks"],
        "open_tasks": counts["open_tasks"],
        "mean_confidence": None if mean is None else round(mean, 4),
        "filters": {"min_confidence": filters.min_confidence, "min_raters": filters.min_raters},
    }


def preferences_iter(*, project: Project, filters: PreferenceFilters = PreferenceFilters(),
                     style: str = "standard") -> Iterator[dict]:
    """One record per exported pair, records only (the counts are preferences_summary's).

    standard: {prompt, chosen, rejected} as strings; conversational: prompt a list of {role: "user",
    content} messages, chosen and rejected lists of one {role: "assistant", content} message. Both keep
    confidence (float), n_raters (int), external_id, language, chosen_execution and rejected_execution
    (strings: the sandbox run's status of each response, "" without tests): every row has the same keys
    and types, so Arrow infers one schema for the whole file. Per CHUNK complete tasks (a keyset range of the
(project, id) index), one query for their records: constant memory without a server-side cursor."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}")
    for task_id, external_id, data, answer, confidence, n_raters, runs in itertools.chain.from_iterable(
            _with_runs(_exported_rows(project, filters, [row[0] for row in chunk]))
            for chunk in keyset_chunks(_complete_tasks(project).values_list("id"), CHUNK)):
        pairs = _pairs(project.task_type, data, answer)
        prompt = data.get("prompt") if isinstance(data, dict) else None
        if not pairs or not isinstance(prompt, str):
            # Only data edited outside the API's validation gets here (the summary counted the task).
            logger.warning("preference export: task %s has data or a consensus that makes no pair", task_id)
            continue
        language = data.get("language")
        extra = {"confidence": float(confidence), "n_raters": int(n_raters), "external_id": external_id,
                 "language": language if isinstance(language, str) else ""}
        # Execution results per completion: the sandbox run's status ("passed", "failed", "error", "timeout",
        # "killed"), "" when the task has no tests or was not run (ranking: always ""). Strings, never null,
        # so every row keeps one Arrow schema.
        chosen_side = answer.get("choice") if project.task_type == "pairwise" else None
        extra["chosen_execution"] = runs.get(chosen_side, "")
        extra["rejected_execution"] = runs.get({"a": "b", "b": "a"}.get(chosen_side), "")
        for chosen, rejected in pairs:
            if style == "conversational":
                yield {"prompt": [{"role": "user", "content": prompt}],
                       "chosen": [{"role": "assistant", "content": chosen}],
                       "rejected": [{"role": "assistant", "content": rejected}], **extra}
            else:
                yield {"prompt": prompt, "chosen": chosen, "rejected": rejected, **extra}


def _exported_rows(project: Project, filters: PreferenceFilters, task_ids: list[int]) -> list[tuple]:
    """The exported tasks among `task_ids` (one keyset chunk of complete tasks), in id order. The chunk is cut
    on the tasks' (project, id) index first: a keyset over the join itself let the planner start from the
    consensus table (whose JSON conditions it cannot estimate) and read the whole project for every chunk."""
    return list(_usable(project, _complete_tasks(project).filter(pk__in=task_ids))
                .filter(_passes(filters) & _not_tie(project)).order_by("id")
                .values_list("id", "external_id", "data", "consensus__answer", "consensus__confidence",
                             "consensus__n_judgments"))


def _with_runs(rows: list[tuple]) -> list[tuple]:
    """The rows, each with {side: status} of its sandbox runs (one query per chunk)."""
    runs: dict[int, dict] = {}
    for task_id, side, status in CompletionRun.objects.filter(task_id__in=[r[0] for r in rows]).values_list(
            "task_id", "side", "status"):
        runs.setdefault(task_id, {})[side] = status
    return [(*row, runs.get(row[0], {})) for row in rows]


def _pairs(task_type: str, data, answer) -> list[tuple[str, str]] | None:
    """(chosen, rejected) strings the consensus implies; None when the data or the answer cannot make them."""
    if not isinstance(data, dict) or not isinstance(answer, dict):
        return None
    if task_type == "pairwise":
        choice = answer.get("choice")
        pair = {"a": ("response_a", "response_b"), "b": ("response_b", "response_a")}.get(choice)
        if pair is None:
            return None
        chosen, rejected = data.get(pair[0]), data.get(pair[1])
        return [(chosen, rejected)] if isinstance(chosen, str) and isinstance(rejected, str) else None
    order, responses = answer.get("order"), data.get("responses")
    if (not isinstance(order, list) or not isinstance(responses, list) or len(responses) < 2
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in order)
            or sorted(order) != list(range(len(responses)))
            or not all(isinstance(r, str) for r in responses)):
        return None
    return [(responses[order[i]], responses[order[j]])
            for i in range(len(order)) for j in range(i + 1, len(order))]
