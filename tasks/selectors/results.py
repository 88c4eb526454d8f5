"""Reads of a project's results: per-task judgments with pseudonymous workers, consensus, exports.

Queries are per chunk of tasks (one for the tasks, one for their approved judgments, one for their
consensus), never per task, and the streaming readers walk tasks in keyset chunks (keyset_chunks), so a
project of any size streams in constant memory, with or without server-side cursors. Consensus comes only
from quality (the marketplace.events.task_consensus hook, answered by quality.selectors.
task_consensus_get); absent there, it is null, never computed or guessed here. Preference pairs are
tasks.selectors.preferences.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Iterator

from django.db.models import QuerySet

from marketplace import events
from tasks.models import Client, CompletionRun, Judgment, Project, Task

CHUNK = 500


def worker_pseudonym(*, client: Client, worker_id: int) -> str:
    """Stable per client, different across clients, not reversible without the client's salt."""
    mac = hmac.new(client.pseudonym_salt.encode(), str(worker_id).encode(), hashlib.sha256).hexdigest()
    return f"w_{mac[:20]}"


def result_tasks(*, project: Project, status: str | None = None, is_gold: bool | None = None) -> QuerySet[Task]:
    qs = Task.objects.filter(project=project).order_by("id")
    if status:
        qs = qs.filter(status=status)
    if is_gold is not None:
        qs = qs.filter(is_gold=is_gold)
    return qs.only("id", "external_id", "status", "is_gold", "gold_source", "completed_at", "data")


def results_for_tasks(*, client: Client, tasks: list[Task]) -> list[dict]:
    """One result dict per task (same order): external_id, status, is_gold, completed_at, judgments
    [{worker, answer, seconds}] (approved only, oldest first), consensus {answer, confidence} or null."""
    ids = [t.pk for t in tasks]
    by_task: dict[int, list[dict]] = defaultdict(list)
    names: dict[int, str] = {}
    rows = (Judgment.objects.filter(task_id__in=ids, status=Judgment.Status.APPROVED).order_by("id")
            .values_list("task_id", "worker_id", "answer", "seconds_spent"))
    for task_id, worker_id, answer, seconds in rows:
        name = names.get(worker_id)
        if name is None:
            name = names[worker_id] = worker_pseudonym(client=client, worker_id=worker_id)
        by_task[task_id].append({"worker": name, "answer": answer, "seconds": seconds})
    consensus = events.task_consensus.ask(task_ids=ids) if ids else {}
    execution = execution_for_tasks(ids)
    out = []
    for task in tasks:
        c = consensus.get(task.pk)
        out.append({
            "external_id": task.external_id,
            "status": task.status,
            "is_gold": task.is_gold,
            "gold_source": task.gold_source,
            "completed_at": task.completed_at,
            "judgments": by_task.get(task.pk, []),
            # quality may store "no consensus" (answer null): that is not a consensus for the client.
            "consensus": ({"answer": c["answer"], "confidence": c["confidence"]}
                          if c and c.get("answer") is not None else None),
            "execution": execution.get(task.pk),
        })
    return out


def execution_for_tasks(task_ids: list[int]) -> dict[int, dict]:
    """Per task with sandbox runs: {side: {passed, status, failures, duration, runner_version}}; one query.
    Tasks without tests (or not run yet) are absent."""
    out: dict[int, dict] = defaultdict(dict)
    if not task_ids:
        return out
    rows = (CompletionRun.objects.filter(task_id__in=task_ids)
            .values_list("task_id", "side", "passed", "status", "failures", "duration", "runner_version"))
    for task_id, side, passed, status, failures, duration, version in rows:
        out[task_id][side] = {"passed": passed, "status": status, "failures": failures,
                              "duration": round(duration, 4), "runner_version": version}
    return out


def keyset_chunks(queryset: QuerySet, size: int) -> Iterator[list]:
    """The queryset's rows in chunks of `size`, in id order, each chunk its own LIMITed query after the last
    id seen (keyset pagination). Memory is one chunk whatever the table holds, and no statement outlives
    its chunk: unlike .iterator(), no server-side cursor, so a stream works the same behind PgBouncer in
    transaction mode (DISABLE_SERVER_SIDE_CURSORS, where .iterator() would fetch every row at once)."""
    last = None
    while True:
        page = queryset if last is None else queryset.filter(pk__gt=last)
        chunk = list(page.order_by("pk")[:size])
        if chunk:
            yield chunk
        if len(chunk) < size:
            return
        last = chunk[-1].pk if hasattr(chunk[-1], "pk") else chunk[-1][0]


def results_iter(*, client: Client, project: Project, status: str | None = None,
                 is_gold: bool | None = None) -> Iterator[dict]:
    """Every task's result, streamed chunk by chunk (constant memory)."""
    tasks = result_tasks(project=project, status=status, is_gold=is_gold).defer("data")
    for chunk in keyset_chunks(tasks, CHUNK):
        yield from results_for_tasks(client=client, tasks=chunk)
