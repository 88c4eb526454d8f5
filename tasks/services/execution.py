"""Execution-grounded checks: run each completion of a pairwise task against the task's tests in the
sandbox, store the result per completion (CompletionRun), and make the task gold when exactly one side
passes (docs/tasks.md "Tests and execution", docs/sandbox.md).

Called only by the sandbox queue's job (tasks.jobs.execution.run_project_tests): the code runs under
bubblewrap on the machine that consumes SANDBOX_QUEUE, never on a web host. Safe to run twice: a side
already run by the current runner is not run again, and the row is unique per (task, side).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Count

from sandbox.runner import RUNNER_VERSION, Limits, SandboxInputError, run
from tasks.models import CompletionRun, FixRun, Judgment, Task

logger = logging.getLogger(__name__)

SIDES = {"a": "response_a", "b": "response_b"}
FAILURES_MAX = 2000


def _failures(result) -> str:
    """A short why for a run that did not pass: the limit or the case, then the tail of stderr."""
    if result.status == "passed":
        return ""
    parts = [p for p in (result.detail, result.stderr.strip()[-FAILURES_MAX:]) if p]
    return "\n".join(parts)[:FAILURES_MAX] or result.status


def tasks_with_tests_pending(*, project_id: int) -> list[int]:
    """Ids of the project's tasks that carry tests and lack a run of the current runner on either side."""
    done = (CompletionRun.objects.filter(task__project_id=project_id, runner_version=RUNNER_VERSION)
            .values("task_id").annotate(n=Count("pk"))
            .filter(n=2).values_list("task_id", flat=True))
    return list(Task.objects.filter(project_id=project_id, data__has_key="tests").exclude(pk__in=done)
                .order_by("id").values_list("id", flat=True))


def completion_runs_execute(*, task_id: int) -> dict[str, CompletionRun]:
    """Run both sides of one task against its tests (sides already run by this runner are kept), store them,
    then settle auto-gold. Returns the runs by side."""
    task = Task.objects.select_related("project").get(pk=task_id)
    data = task.data if isinstance(task.data, dict) else {}
    tests = data.get("tests") if isinstance(data.get("tests"), dict) else None
    existing = {r.side: r for r in CompletionRun.objects.filter(task=task, runner_version=RUNNER_VERSION)}
    if tests is None or task.project.task_type != "pairwise":
        return existing
    limits = Limits.from_settings()
    for side, key in SIDES.items():
        if side in existing:
            continue
        try:
            result = run(data.get("language"), data.get(key) or "", test=tests.get("test"),
                         cases=tests.get("cases"), limits=limits)
        except SandboxInputError as exc:  # only data edited outside the API's validation gets here
            status, failures, duration = "error", str(exc)[:FAILURES_MAX], 0.0
        else:
            status, failures, duration = result.status, _failures(result), result.duration
        existing[side], _ = CompletionRun.objects.update_or_create(
            task=task, side=side,
            defaults={"status": status, "passed": status == "passed", "failures": failures,
                      "duration": duration, "runner_version": RUNNER_VERSION})
    task_auto_gold(task_id=task.pk)
    return existing


def execution_answer(runs: dict) -> dict | None:
    """The pairwise answer execution proves: {"choice": side} when exactly one side passes, else None."""
    if set(runs) != {"a", "b"}:
        return None
    passed = [side for side, r in runs.items() if r.passed]
    return {"choice": passed[0]} if len(passed) == 1 else None


def task_auto_gold(*, task_id: int) -> bool:
    """Make the task gold (gold_source "execution") when exactly one side passes its tests, through the same
    fields ops-written gold uses (gold, is_gold, overlap = Task.GOLD_OVERLAP). Only a task nobody has
    claimed yet, in a project that serves gold (gold_share > 0), and not already gold: a task with
    judgments keeps them as real work, and a project without gold would never serve it. Returns whether
    the task became gold now. Safe to run twice (the second run finds it gold)."""
    with transaction.atomic():
        task = Task.objects.select_for_update().select_related("project").get(pk=task_id)
        if task.is_gold or task.project.gold_share <= 0 or task.n_active or task.assignments.exists():
            return False
        answer = execution_answer({r.side: r for r in CompletionRun.objects.filter(task=task)})
        if answer is None:
            return False
        task.gold, task.is_gold, task.gold_source = answer, True, "execution"
        task.overlap = Task.GOLD_OVERLAP
        task.save(update_fields=["gold", "is_gold", "gold_source", "overlap"])
    logger.info("task %s is gold by execution: %s", task_id, answer)
    return True


def fix_run_execute(*, judgment_id: int) -> FixRun | None:
    """Run a fix task's answer (the worker's edited code) against the task's tests and store the verdict:
    a FixRun, and the judgment's gold_correct (True when it passes), the graded evidence quality reads for
    the worker's accuracy and pay clearance. A fix that does not pass asks the task for one more fixer
    (project_overlap_extend, up to the project's max_overlap; none without one). Safe to run twice: a
    judgment already run by this runner is not run again. None for an unknown or non-fix judgment."""
    from tasks.services.queue_requeue import project_overlap_extend

    judgment = Judgment.objects.select_related("task", "project").filter(pk=judgment_id).first()
    if judgment is None or judgment.project.task_type != "fix":
        return None
    done = FixRun.objects.filter(judgment=judgment, runner_version=RUNNER_VERSION).first()
    if done is not None:
        return done
    data = judgment.task.data if isinstance(judgment.task.data, dict) else {}
    tests = data.get("tests") if isinstance(data.get("tests"), dict) else {}
    code = (judgment.answer or {}).get("code") if isinstance(judgment.answer, dict) else None
    try:
        result = run(data.get("language"), code or "", test=tests.get("test"), cases=tests.get("cases"),
                     limits=Limits.from_settings())
    except SandboxInputError as exc:  # only data edited outside the API's validation gets here
        status, failures, duration = "error", str(exc)[:FAILURES_MAX], 0.0
    else:
        status, failures, duration = result.status, _failures(result), result.duration
    passed = status == "passed"
    with transaction.atomic():
        fix_run, created = FixRun.objects.update_or_create(
            judgment=judgment, defaults={"status": status, "passed": passed, "failures": failures,
                                         "duration": duration, "runner_version": RUNNER_VERSION})
        Judgment.objects.filter(pk=judgment.pk).update(gold_correct=passed)
        project = judgment.project
        if created and not passed and not judgment.task.is_gold and project.max_overlap:
            project_overlap_extend(task_id=judgment.task_id, max_overlap=project.max_overlap)
    return fix_run
