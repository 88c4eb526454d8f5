"""Turn a project's approved judgments into the arrays quality.scoring works on, and answers back.

Answers were validated against the label schema at submit (tasks.label_schemas), so decoding trusts their
shape; a row that still does not fit (e.g. a schema edited afterwards) is skipped, never a crash.
"""

import logging
from dataclasses import dataclass

import numpy as np
from django.conf import settings

from quality.models import Flag, ProjectQualityPolicy
from quality.rules import merge_rules, rules_errors
from quality.scoring import CATEGORICAL, FLAGS, RANKING, TEXT, ProjectData
from tasks.label_schemas import NO_PROBLEM_FLAG, code_line_count
from tasks.models import Judgment, Project, Task

logger = logging.getLogger(__name__)
PAIRWISE_CLASSES = ["a", "b", "tie"]


@dataclass
class Loaded:
    data: ProjectData
    task_ids: list[int]  # item index -> task id
    worker_ids: list[int]  # worker index -> user id
    judgment_ids: np.ndarray
    max_judgment_id: int


def project_rules(project: Project) -> dict:
    """DEFAULT_RULES <- settings.QUALITY_RULES <- the project's ProjectQualityPolicy.rules."""
    overrides = ProjectQualityPolicy.objects.filter(project=project).values_list("rules", flat=True).first()
    if overrides and rules_errors(overrides):
        # The admin validates policies; one written around it must not stop the project's scoring.
        logger.warning("ignoring invalid quality policy of project %s: %s", project.pk, rules_errors(overrides))
        overrides = None
    return merge_rules(getattr(settings, "QUALITY_RULES", None), overrides)


def _kind(project: Project) -> str:
    return {"pairwise": CATEGORICAL, "rating": CATEGORICAL, "flags": FLAGS, "ranking": RANKING}.get(
        project.task_type, TEXT)


def _classes(project: Project) -> tuple[list, str, np.ndarray | None]:
    schema = project.label_schema or {}
    if project.task_type == "pairwise":
        return list(PAIRWISE_CLASSES), "nominal", None
    if project.task_type == "rating":
        low, high = int(schema.get("min", 1)), int(schema.get("max", 5))
        level = schema.get("level", "ordinal")
        level = level if level in ("ordinal", "interval", "ratio") else "ordinal"
        classes = list(range(low, high + 1))
        return classes, level, np.array(classes, dtype=np.float64)
    if project.task_type == "flags":
        return list(schema.get("taxonomy", [])), "nominal", None
    return [], "nominal", None


def encode(task_type: str, answer, classes: list):
    """A stored answer as scoring's label (class code, flag codes or order); None if it does not fit."""
    try:
        if task_type == "pairwise":
            return classes.index(answer["choice"])
        if task_type == "rating":
            return classes.index(int(answer["score"]))
        if task_type == "flags":
            return sorted(classes.index(f) for f in answer["flags"])
        if task_type == "ranking":
            return [int(i) for i in answer["order"]]
    except (KeyError, ValueError, TypeError):
        return None
    return None


def encode_spans(answer, classes: list) -> list | None:
    """A flags answer's spans as [(start_line, end_line, flag code)]; [] when it says the code has no problem
    (every line "no flag"); None when it names problems without pointing at lines, or does not fit."""
    try:
        spans = answer.get("spans")
        if spans:
            return [(int(s["start_line"]), int(s["end_line"]), classes.index(s["category"])) for s in spans]
        flags = answer["flags"]
        return [] if list(flags) in ([], [NO_PROBLEM_FLAG]) else None
    except (AttributeError, KeyError, ValueError, TypeError):
        return None


def decode(task_type: str, label, classes: list, spans: list | None = None):
    """scoring's answer back into the answer shape of docs/api.md. flags: with `spans` (consensus spans,
    quality.metrics.spans.span_consensus), the answer carries them with their support."""
    if label is None:
        return None
    if task_type == "flags" and spans is not None:
        return {"flags": [classes[c] for c in label],
                "spans": [{"start_line": a, "end_line": b, "category": classes[c], "support": round(support, 4)}
                          for a, b, c, support in spans]}
    if task_type == "pairwise":
        return {"choice": classes[label]}
    if task_type == "rating":
        return {"score": classes[label]}
    if task_type == "flags":
        return {"flags": [classes[c] for c in label]}
    if task_type == "ranking":
        return {"order": list(label)}
    return None


def _collusion_cleared(project: Project) -> set[int]:
    """Workers whose flag with a collusion finding ops dismissed in this project (and who have no open one)."""
    dismissed = Flag.objects.filter(project=project, status=Flag.Status.DISMISSED).values_list("worker_id",
                                                                                               "evidence")
    workers = {w for w, evidence in dismissed
               if any(f.get("rule") == "collusion" for f in (evidence or {}).get("findings", []))}
    still_open = set(Flag.objects.filter(project=project, status=Flag.Status.OPEN, worker_id__in=workers)
                     .values_list("worker_id", flat=True))
    return workers - still_open


def project_data_load(*, project: Project, task_ids: list[int] | None = None) -> Loaded:
    """The project's APPROVED judgments (optionally of some tasks only) as ProjectData."""
    classes, level, values = _classes(project)
    kind = _kind(project)
    tasks = Task.objects.filter(project=project)
    if task_ids is not None:
        tasks = tasks.filter(pk__in=task_ids)
    task_rows = list(tasks.order_by("id").values_list("id", "is_gold", "gold", "data"))
    index = {t[0]: i for i, t in enumerate(task_rows)}
    rows = Judgment.objects.filter(project=project, status=Judgment.Status.APPROVED)
    if task_ids is not None:
        rows = rows.filter(task_id__in=list(index))
    # The whole project: no list of its task ids as parameters (a project of more than 65,535 tasks made
    # PostgreSQL refuse the statement); a judgment's task is always of the judgment's project.
    rows = [r for r in rows.order_by("id").values_list("id", "task_id", "worker_id", "answer", "seconds_spent",
                                                        "gold_correct") if r[1] in index]
    worker_index: dict[int, int] = {}
    items, workers, labels, seconds, gold_correct, judgment_ids = [], [], [], [], [], []
    spans = [] if kind == FLAGS else None
    for jid, task_id, worker_id, answer, secs, correct in rows:
        label = encode(project.task_type, answer, classes) if kind != TEXT else 0
        if label is None:
            continue
        if spans is not None:
            spans.append(encode_spans(answer, classes))
        items.append(index[task_id])
        workers.append(worker_index.setdefault(worker_id, len(worker_index)))
        labels.append(label)
        seconds.append(np.nan if secs is None else float(secs))
        gold_correct.append(np.nan if correct is None else float(correct))
        judgment_ids.append(jid)
    gold = {}
    for i, (_, is_gold, gold_answer, _) in enumerate(task_rows):
        if is_gold and gold_answer is not None and kind in (CATEGORICAL, FLAGS):
            code = encode(project.task_type, gold_answer, classes)
            if code is not None:
                gold[i] = set(code) if kind == FLAGS else code
    # Gold tasks the tasks app graded (gold_correct) keep its verdict; others are graded here by code.
    gc = np.array(gold_correct, dtype=np.float64)
    item_arr = np.array(items, dtype=np.int64)
    for row in np.nonzero(np.isnan(gc))[0]:
        item = int(item_arr[row])
        if item in gold:
            given = labels[row]
            gc[row] = float(set(given) == gold[item]) if kind == FLAGS else float(given == gold[item])
    answer_options = None
    if project.task_type == "pairwise" and not (project.label_schema or {}).get("allow_tie", True):
        answer_options = 2  # a worker can only answer a or b: random answering is a coin flip
    n_lines = None
    if kind == FLAGS:
        n_lines = np.array([code_line_count((t[3] or {}).get("code")) if isinstance(t[3], dict) else 0
                            for t in task_rows], dtype=np.int64)
    n_options = None
    if kind == RANKING:
        n_options = np.array([len((t[3] or {}).get("responses", [])) or 1 for t in task_rows], dtype=np.int64)
    # Ops dismissed a collusion flag: that worker's votes count in full again (rules.rule_collusion).
    cleared = {worker_index[w] for w in _collusion_cleared(project) if w in worker_index}
    data = ProjectData(kind=kind, items=item_arr, workers=np.array(workers, dtype=np.int64),
                       labels=np.array(labels, dtype=np.int64) if kind == CATEGORICAL else labels,
                       seconds=np.array(seconds, dtype=np.float64), n_items=len(task_rows),
                       n_workers=len(worker_index), classes=classes, level=level, values=values, gold=gold,
                       gold_correct=gc, n_options=n_options, answer_options=answer_options, spans=spans,
                       n_lines=n_lines, collusion_cleared=cleared)
    return Loaded(data=data, task_ids=[t[0] for t in task_rows], worker_ids=list(worker_index),
                  judgment_ids=np.array(judgment_ids, dtype=np.int64),
                  max_judgment_id=max((r[0] for r in rows), default=0))
