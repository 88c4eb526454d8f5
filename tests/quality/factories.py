"""Builders for quality tests: a project with tasks and judgments written straight to the rows.

The queue's own services are not needed to measure quality: these rows are what they would leave behind
(an assignment SUBMITTED with one APPROVED judgment per (task, worker)), and building them directly keeps
the tests fast and independent of the queue's pace.
"""

from itertools import count

from django.utils import timezone

from tasks.models import Assignment, Client, Judgment, Project, Task
from tests.conftest import make_user

_seq = count(1)


def client(name: str | None = None) -> Client:
    return Client.objects.create(name=name or f"client-{next(_seq)}")


def project(*, task_type: str = "pairwise", label_schema: dict | None = None, overlap: int = 3, **extra) -> Project:
    return Project.objects.create(
        client=extra.pop("client", None) or client(), name=extra.pop("name", f"project-{next(_seq)}"),
        task_type=task_type, label_schema=label_schema or {}, instructions="Pick the better one.",
        data_use_statement="Training data.", reward_cents=extra.pop("reward_cents", 10), overlap=overlap, **extra,
    )


def task(project: Project, *, gold=None, external_id: str | None = None, overlap: int | None = None) -> Task:
    return Task.objects.create(
        project=project, external_id=external_id or f"t{next(_seq)}", data={"prompt": "p", "response_a": "a",
                                                                           "response_b": "b", "language": "python"},
        gold=gold, is_gold=gold is not None, overlap=overlap or (Task.GOLD_OVERLAP if gold is not None else project.overlap),
    )


def worker(email: str | None = None):
    return make_user(email or f"w{next(_seq)}@example.com")


def judge(task: Task, worker, answer: dict, *, seconds: float | None = 30.0, gold_correct: bool | None = None) -> Judgment:
    """One submitted assignment and its approved judgment; the task's counters follow, as the queue keeps them."""
    now = timezone.now()
    assignment = Assignment.objects.create(task=task, worker=worker, project=task.project,
                                           status=Assignment.Status.SUBMITTED, claimed_at=now, expires_at=now,
                                           finished_at=now)
    if task.is_gold and gold_correct is None:
        gold_correct = answer == task.gold
    judgment = Judgment.objects.create(assignment=assignment, task=task, project=task.project, worker=worker,
                                       answer=answer, seconds_spent=seconds, is_gold=task.is_gold,
                                       gold_correct=gold_correct)
    Task.objects.filter(pk=task.pk).update(n_active=task.n_active + 1, n_submitted=task.n_submitted + 1)
    task.refresh_from_db()
    if not task.is_gold and task.n_submitted >= task.overlap:
        Task.objects.filter(pk=task.pk).update(status=Task.Status.COMPLETE, completed_at=now)
        task.refresh_from_db()
    return judgment


def judge_many(rows: list[tuple]) -> list[Judgment]:
    """Like judge() for many (task, worker, answer, seconds) rows at once (bulk inserts: keeps tests fast)."""
    from collections import Counter

    now = timezone.now()
    assignments = Assignment.objects.bulk_create([
        Assignment(task=t, worker=w, project=t.project, status=Assignment.Status.SUBMITTED, claimed_at=now,
                   expires_at=now, finished_at=now) for t, w, _, _ in rows])
    judgments = Judgment.objects.bulk_create([
        Judgment(assignment=a, task=t, project=t.project, worker=w, answer=answer, seconds_spent=secs,
                 is_gold=t.is_gold, gold_correct=(answer == t.gold) if t.is_gold else None)
        for a, (t, w, answer, secs) in zip(assignments, rows, strict=True)])
    per_task = Counter(t.pk for t, _, _, _ in rows)
    for t in {t.pk: t for t, _, _, _ in rows}.values():
        n = t.n_submitted + per_task[t.pk]
        complete = not t.is_gold and n >= t.overlap
        Task.objects.filter(pk=t.pk).update(n_active=n, n_submitted=n,
                                            status=Task.Status.COMPLETE if complete else Task.Status.OPEN,
                                            completed_at=now if complete else None)
        t.refresh_from_db()
    return judgments


def pairwise_crowd(*, n_tasks: int = 60, n_honest: int = 6, n_gold: int = 4, spammer_answer: str | None = "a",
                   seed: int = 1, honest_accuracy: float = 0.9, project_kwargs: dict | None = None):
    """A pairwise project judged by honest workers (overlap 3) and, if spammer_answer, one worker who answers
    it on every task. Returns (project, honest workers, spammer or None, tasks, gold tasks)."""
    import random

    rng = random.Random(seed)
    proj = project(**(project_kwargs or {}))
    honest = [worker() for _ in range(n_honest)]
    spammer = worker() if spammer_answer else None
    tasks = [task(proj) for _ in range(n_tasks)]
    truth = {t.pk: rng.choice("ab") for t in tasks}
    golds = [task(proj, gold={"choice": rng.choice("ab")}) for _ in range(n_gold)]
    rows = []
    for t in tasks:
        raters = rng.sample(honest, 2 if spammer else 3)
        for w in raters:
            right = rng.random() < honest_accuracy
            rows.append((t, w, {"choice": truth[t.pk] if right else ("b" if truth[t.pk] == "a" else "a")},
                         rng.uniform(20, 90)))
        if spammer:
            rows.append((t, spammer, {"choice": spammer_answer}, rng.uniform(20, 90)))
    for g in golds:
        for w in honest + ([spammer] if spammer else []):
            answer = g.gold if (w is not spammer and rng.random() < honest_accuracy) else {"choice": spammer_answer or "a"}
            rows.append((g, w, answer, 30.0))
    judge_many(rows)
    return proj, honest, spammer, tasks, golds
