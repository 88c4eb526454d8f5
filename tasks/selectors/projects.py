"""Reads of a client's projects. Another client's project is simply not found (404), never 403."""

from django.db.models import Count, Q, QuerySet

from marketplace.errors import NotFound
from tasks.models import Client, Project


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
