"""Builders for the queue tests (no tests here): a client, projects, tasks, ready workers."""

import itertools

from tasks.models import Assignment, Client, Project, Task
from tests.workers.factories import ready_worker, skill

_seq = itertools.count(1)


def make_project(*, overlap=3, gold_share=0.0, skills=("python",), pool=None, status="active", priority=0,
                 max_judgments_per_worker=10_000, lease_seconds=900, task_type="pairwise", **extra) -> Project:
    client, _ = Client.objects.get_or_create(name="Queue test client")
    project = Project.objects.create(
        client=client, name=f"project {next(_seq)}", task_type=task_type, label_schema={},
        instructions="Pick the better completion.", data_use_statement="Used to train a code model.",
        reward_cents=25, currency="usd", overlap=overlap, gold_share=gold_share, pool=pool, status=status,
        priority=priority, max_judgments_per_worker=max_judgments_per_worker, lease_seconds=lease_seconds, **extra)
    project.required_qualifications.set([skill(s) for s in skills])
    return project


def task_data(i: int) -> dict:
    return {"prompt": f"Sort a list ({i})", "language": "python", "response_a": "sorted(x)", "response_b": "x.sort()"}


def make_tasks(project: Project, n: int, *, gold: bool = False, start: int = 0) -> list[Task]:
    tasks = [Task(project=project, external_id=f"{'g' if gold else 't'}{start + i}", data=task_data(start + i),
                  is_gold=gold, gold={"choice": "a"} if gold else None,
                  overlap=Task.GOLD_OVERLAP if gold else project.overlap) for i in range(n)]
    return Task.objects.bulk_create(tasks)


def make_worker(email: str, *, skills=("python",)):
    user = ready_worker(email, skills=skills, qualified=skills)
    return user


def counted(task_id: int) -> int:
    return Assignment.objects.filter(task_id=task_id, status__in=["live", "submitted"]).count()


def consistent() -> list:
    """Tasks whose n_active / n_submitted differ from their assignment rows (should be empty)."""
    bad = []
    for task in Task.objects.all():
        live_sub = counted(task.pk)
        sub = Assignment.objects.filter(task_id=task.pk, status="submitted").count()
        if (task.n_active, task.n_submitted) != (live_sub, sub):
            bad.append((task.pk, task.n_active, live_sub, task.n_submitted, sub))
    return bad
