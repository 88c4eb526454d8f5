"""Consensus of one task when it completes, and dynamic overlap.

Uses the project's last fitted Dawid-Skene parameters when there are some (workers unseen by that fit get
the pooled matrix), otherwise the majority vote (flags: per flag; ranking: Bradley-Terry on the task alone).
The beat job later refits the whole project and overwrites this with the full Dawid-Skene result.
"""

import numpy as np
from django.db import transaction
from django.utils import timezone

from quality.actions import lever
from quality.consensus import bradley_terry_rankings, dawid_skene_posterior, majority_vote
from quality.models import ProjectQualityState, QualityAuditEvent, TaskConsensus
from quality.scoring import CATEGORICAL, FLAGS, RANKING, span_answers_of
from quality.services.loading import decode, project_data_load
from tasks.models import Task


def _categorical(loaded, state_model):
    data = loaded.data
    k = len(data.classes)
    if state_model and state_model.get("classes") == data.classes and state_model.get("pooled"):
        matrices = [state_model["confusions"].get(str(w), state_model["pooled"]) for w in loaded.worker_ids]
        confusions = np.array(matrices, dtype=np.float64).reshape(len(loaded.worker_ids), k, k)
        answers, confidence, _ = dawid_skene_posterior(data.items, data.workers, data.labels, n_items=1,
                                                       confusions=confusions,
                                                       priors=np.array(state_model["priors"], dtype=np.float64))
        return int(answers[0]), float(confidence[0]), TaskConsensus.Method.DAWID_SKENE
    answers, confidence = majority_vote(data.items, data.labels, n_items=1, n_classes=k)
    return int(answers[0]), float(confidence[0]), TaskConsensus.Method.MAJORITY


def _flags(loaded):
    data = loaded.data
    n = len(data.labels)
    answer, confidence = [], 1.0
    for flag in range(len(data.classes)):
        share = sum(flag in s for s in data.labels) / n
        if share > 0.5:
            answer.append(flag)
        confidence *= max(share, 1 - share)
    return answer, confidence, TaskConsensus.Method.MAJORITY


def task_consensus_compute(*, task_id: int) -> dict | None:
    """Store the consensus of one task from its approved judgments; ask for one more judgment when the
    confidence is under the project's threshold (up to project.max_overlap). Idempotent: an upsert of the
    same figures; overlap grows only while the task's judgments number at least its overlap, so a second
    run before the new judgment arrives asks for nothing more. Returns {answer, confidence, method} or None."""
    task = Task.objects.select_related("project").filter(pk=task_id).first()
    if task is None:
        return None
    project = task.project
    loaded = project_data_load(project=project, task_ids=[task_id])
    if len(loaded.data.items) == 0 or loaded.data.kind == "text":
        return None
    if task.is_gold:
        return None  # gold tasks have a known answer; they are scored by the project recompute
    if loaded.data.kind == CATEGORICAL:
        model = ProjectQualityState.objects.filter(project=project).values_list("model", flat=True).first()
        label, confidence, method = _categorical(loaded, model)
    elif loaded.data.kind == FLAGS:
        label, confidence, method = _flags(loaded)
    elif loaded.data.kind == RANKING:
        orders, conf, _ = bradley_terry_rankings(loaded.data.items, loaded.data.labels, n_items=1,
                                                 n_options=loaded.data.n_options)
        label, confidence, method = orders[0], float(conf[0]), TaskConsensus.Method.BRADLEY_TERRY
    else:
        return None
    spans = None
    if loaded.data.kind == FLAGS:
        spans = (span_answers_of(loaded.data) or [None])[0]  # the task's consensus spans, if any judgment has some
    answer = decode(project.task_type, label, loaded.data.classes, spans)
    confidence = min(1.0, max(0.0, confidence))
    with transaction.atomic():
        TaskConsensus.objects.update_or_create(task=task, defaults={
            "project": project, "answer": answer, "confidence": confidence, "method": method,
            "n_judgments": len(loaded.data.items), "computed_at": timezone.now()})
        _maybe_extend(task, project, confidence, len(loaded.data.items))
    return {"answer": answer, "confidence": confidence, "method": method}


def _maybe_extend(task: Task, project, confidence: float, n_judgments: int) -> None:
    threshold, ceiling = project.confidence_threshold, project.max_overlap
    if threshold is None or ceiling is None or confidence >= threshold or n_judgments < task.overlap:
        return
    extend = lever("project_overlap_extend")
    if extend(task_id=task.pk, max_overlap=ceiling):
        QualityAuditEvent.objects.create(action=QualityAuditEvent.Action.OVERLAP_EXTENDED, project=project,
                                         detail={"task_id": task.pk, "confidence": confidence,
                                                 "overlap": task.overlap + 1, "max_overlap": ceiling})
