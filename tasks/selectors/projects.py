"""Reads of a client's projects. Another client's project is simply not found (404), never 403."""

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum

from marketplace.errors import NotFound
from tasks.models import Assignment, Client, Project, Task


def project_list(*, client: Client) -> QuerySet[Project]:
    """The client's projects, newest first, with task counts (one query plus one for skills)."""
    return (Project.objects.filter(client=client)
            .annotate(n_tasks=Count("tasks", filter=Q(tasks__is_gold=False)),
                      n_complete=Count("tasks", filter=Q(tasks__is_gold=False, tasks__status="complete")),
                      n_gold=Count("tasks", filter=Q(tasks__is_gold=True)))
            .prefetch_related("required_qualifications").order_by("-created_at", "-id"))


def project_get(*, client: Client, project_id: int, with_counts: bool = False) -> Project:
    """The client's project or NotFound (also when it belongs to someone else)."""
    qs = project_list(client=client) if with_counts else Project.objects.filter(client=client)
    project = qs.filter(pk=project_id).first()
    if project is None:
        raise NotFound("No such project.", code="not_found")
    return project


def worker_projects_available(*, user) -> tuple[dict | None, list[Project]]:
    """What a worker sees before claiming: (blocker, projects).

    blocker is the queue's own refusal (``{"code", "message"}``, tasks.selectors.queue.worker_claim_blocker)
    when the person may not claim at all; projects is then empty. Otherwise the active projects the queue
    would let them claim from (qualifications, pool, per-project share cap: projects_claimable_for, the
    claim path's own rule), keeping only those with a real task this worker could take now, each with
    ``open_slots`` and the hourly-pay figures (tasks.selectors.pay) set.

    open_slots must not tell gold from real work (a worker could then publish which tasks are gold): it
    counts real tasks only, and the worker's own work does not move it. It is the slots the open real
    tasks still want (overlap - live - submitted) plus the worker's own live and submitted assignments on
    real tasks: a claim, submit, release or expiry of the worker's leaves it as it was, gold or real, and
    it falls only as other workers take slots. Three queries after the eligibility checks."""
    from tasks.selectors.pay import projects_attach_hourly
    from tasks.selectors.queue import COUNTED, projects_claimable_for, untouched_by, worker_claim_blocker

    blocker = worker_claim_blocker(user=user)
    if blocker is not None:
        return blocker, []
    claimable = {c.id: c.project for c in projects_claimable_for(user=user)}
    if not claimable:
        return None, []
    # Whether the worker could take a task there now: an EXISTS that stops at the first untouched open
    # task in the project's claim index (its cost follows the worker's own history there, not the
    # project's open tasks). The free slots are then summed over the open tasks below overlap only (the
    # others add nothing), for the projects shown.
    takeable = Task.objects.filter(project_id=OuterRef("pk"), status=Task.Status.OPEN, is_gold=False,
                                   n_active__lt=F("overlap")).filter(untouched_by(user.pk, lenient=True))
    shown = set(Project.objects.filter(pk__in=list(claimable)).filter(Exists(takeable)).values_list("pk", flat=True))
    free = dict(
        Task.objects.filter(project_id__in=list(shown), status=Task.Status.OPEN, is_gold=False,
                            n_active__lt=F("overlap"))
        .order_by().values("project_id").annotate(free=Sum(F("overlap") - F("n_active")))
        .values_list("project_id", "free")) if shown else {}
    mine = dict(
        Assignment.objects.filter(worker_id=user.pk, project_id__in=list(claimable), status__in=COUNTED,
                                  task__is_gold=False)
        .order_by().values("project_id").annotate(n=Count("id")).values_list("project_id", "n"))
    projects = [p for pid, p in sorted(claimable.items(), key=lambda kv: (-kv[1].priority, kv[0])) if pid in shown]
    for project in projects:
        project.open_slots = int(free.get(project.pk, 0)) + mine.get(project.pk, 0)
    return None, projects_attach_hourly(projects)
