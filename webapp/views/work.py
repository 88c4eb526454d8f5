"""Work: the projects the worker may claim, each project's brief before the first claim, and the task page.

The queue's own services do the work (tasks.services.queue: assignment_claim, assignment_submit,
assignment_release), with the same rules and the same refusals as the API. The task page is built from
the worker's own assignment (tasks.selectors.queue.worker_assignments_list: the task's data, the project,
the lease) and nothing else, so a gold task renders exactly as a real one.

After a submit or a skip the next task of the same project is claimed at once: an htmx request gets the new
task in place (and its URL pushed), a plain form post is redirected to it. Return (give back) releases the
task through the same assignment_release as a skip and claims nothing: the worker lands on the work page,
one live assignment fewer against the queue's limit (QUEUE_MAX_LIVE_CLAIMS).
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import push_url

from marketplace.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tasks.models import Assignment
from tasks.selectors.projects import worker_projects_available
from tasks.selectors.queue import worker_assignments_list
from tasks.services.queue import assignment_claim, assignment_release, assignment_submit
from webapp.answers import answer_from_post, errors_by_field
from webapp.figures import projects_with_figures
from webapp.task_view import closed_message, task_context
from webapp.views.base import PageNotFound, worker_page
from webapp.views.standing import suspension_notice
from workers.models import WorkerProfile
from workers.selectors import worker_claim_blockers

LIVE = Assignment.Status.LIVE


def _partial(request) -> bool:
    """htmx asks for the task area only; a history restore (back button, cache miss) needs the whole page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def _own_assignment(request, pk: int) -> Assignment:
    assignment = worker_assignments_list(user=request.user).filter(pk=pk).first()
    if assignment is None:
        raise PageNotFound
    return assignment


def _worked_in(user, project_ids) -> set[int]:
    return set(Assignment.objects.filter(worker=user, project_id__in=list(project_ids))
               .values_list("project_id", flat=True).distinct())


@worker_page
def work(request):
    blocker, projects = worker_projects_available(user=request.user)
    projects = projects_with_figures(projects)
    worked = _worked_in(request.user, [p.pk for p in projects]) if projects else set()
    live = [a for a in worker_assignments_list(user=request.user, status=LIVE) if a.expires_at > timezone.now()]
    return render(request, "webapp/work/projects.html", {
        "blocker": blocker, "projects": projects, "worked": worked, "live": live,
        "suspension": suspension_notice(request) if blocker and blocker["code"] == "suspended" else None})


def _available_project(request, pk: int):
    blocker, projects = worker_projects_available(user=request.user)
    return blocker, next((p for p in projects_with_figures(projects) if p.pk == pk), None)


@worker_page
def project_brief(request, pk: int):
    """Pay, data-use statement and instructions, shown before the first claim in a project."""
    blocker, project = _available_project(request, pk)
    if blocker is not None:
        return render(request, "webapp/work/projects.html", {"blocker": blocker, "projects": []}, status=403)
    if project is None:
        raise PageNotFound
    return render(request, "webapp/work/brief.html", {"project": project})


@require_POST
@worker_page
def claim(request, pk: int):
    return _claim_next(request, project_id=pk, empty_message=_("There is no task for you in this project right now."))


def _claim_next(request, *, project_id: int, empty_message: str, done_message: str | None = None):
    """Claims the next task of the project and shows it; with nothing left, says so on the work page."""
    try:
        claimed = assignment_claim(user=request.user, project_id=project_id)
    except NotFound as exc:
        raise PageNotFound from exc
    except Forbidden as exc:
        return _work_message(request, exc.message, status=403, level=messages.ERROR)
    if claimed is None:
        return _work_message(request, " ".join(m for m in (done_message, empty_message) if m), status=200)
    url = reverse("webapp:task", args=[claimed.assignment_id])
    if _partial(request):
        assignment = _own_assignment(request, claimed.assignment_id)
        response = render(request, "webapp/work/_task.html", task_context(assignment, notice=done_message))
        return push_url(response, url)
    if done_message:
        messages.success(request, done_message)
    return redirect(url, permanent=False)


def _work_message(request, text: str, *, status: int, level=messages.INFO):
    """An outcome with no next task: the work page (htmx: the task area) carries the message."""
    if _partial(request):
        response = render(request, "webapp/work/_no_task.html", {"message": text, "error": level == messages.ERROR},
                          status=status)
        return push_url(response, reverse("webapp:work"))
    messages.add_message(request, level, text)
    return redirect("webapp:work")


@worker_page
def task(request, pk: int):
    assignment = _own_assignment(request, pk)
    context = task_context(assignment)
    template = "webapp/work/_task.html" if _partial(request) else "webapp/work/task.html"
    response = render(request, template, context, status=409 if context["closed"] else 200)
    patch_vary_headers(response, ["HX-Request"])  # the same URL answers a part or the whole page
    return response


def _render_task(request, assignment, *, status: int, **extra):
    template = "webapp/work/_task.html" if _partial(request) else "webapp/work/task.html"
    return render(request, template, task_context(assignment, **extra), status=status)


def _standing_refusal(request):
    """A suspended or banned worker's live work was returned to the queue when it happened: say that, rather
    than what became of one task. The same words as the queue's own refusal (workers.selectors)."""
    profile = request.worker_profile
    if profile is None or profile.status == WorkerProfile.Status.ACTIVE:
        return None
    notice = suspension_notice(request)
    blockers = [b for b in worker_claim_blockers(user=request.user) if b["code"] in ("suspended", "banned")]
    text = notice["sentence"] if notice else blockers[0]["message"] if blockers else _("This account may not work now.")
    return _work_message(request, text, status=403, level=messages.ERROR)


@require_POST
@worker_page
def submit(request, pk: int):
    assignment = _own_assignment(request, pk)
    refusal = _standing_refusal(request)
    if refusal is not None:
        return refusal
    if assignment.status != LIVE or assignment.expires_at <= timezone.now():
        # Nothing to send: the page says why (already submitted in another tab, lease expired, skipped).
        return _render_task(request, assignment, status=409)
    answer = answer_from_post(assignment.project.task_type, request.POST)
    try:
        assignment_submit(user=request.user, assignment_id=pk, answer=answer)
    except ValidationFailed as exc:
        return _render_task(request, assignment, status=400, errors=errors_by_field(exc.fields),
                            posted=request.POST, error_message=exc.message)
    except Conflict:
        # Lost a race (the other tab's submit, or the lease ran out meanwhile): the page says which.
        return _render_task(request, _own_assignment(request, pk), status=409)
    except Forbidden as exc:
        return _work_message(request, exc.message, status=403, level=messages.ERROR)
    return _claim_next(request, project_id=assignment.project_id, done_message=_("Saved."),
                       empty_message=_("That was the last task for you in this project for now."))


@require_POST
@worker_page
def skip(request, pk: int):
    assignment = _own_assignment(request, pk)
    refusal = _standing_refusal(request)
    if refusal is not None:
        return refusal
    try:
        assignment_release(user=request.user, assignment_id=pk)
    except Conflict:
        return _render_task(request, _own_assignment(request, pk), status=409)
    return _claim_next(request, project_id=assignment.project_id, done_message=_("Skipped."),
                       empty_message=_("There is no other task for you in this project right now."))


@require_POST
@worker_page
def give_back(request, pk: int):
    """Return: the lease is released (assignment_release, as the API's release) and nothing else is claimed.
    From the task page (htmx: the task area) or from the work page's list of open tasks (a plain post)."""
    _own_assignment(request, pk)  # another person's assignment, or none: the 404 page, as everywhere here
    try:
        assignment_release(user=request.user, assignment_id=pk)
    except Conflict:
        # Submitted in another tab, already returned, or the lease ran out: the task page says which.
        if _partial(request):
            return _render_task(request, _own_assignment(request, pk), status=409)
        return _work_message(request, closed_message(_own_assignment(request, pk), timezone.now()) or "",
                             status=409, level=messages.ERROR)
    return _work_message(request, _("You returned the task: it went back to the queue and nothing was saved. "
                                    "It no longer counts against your open tasks."), status=200,
                         level=messages.SUCCESS)
