"""Quality standing (the worker's own figures, reasons in fixed words) and, for a suspended worker, what
happened in a sentence and how to appeal.

A suspension by a quality flag is stored as "quality flag 23: fast" (the profile's or the pool membership's
reason, for ops): the page words the flag's rule instead (quality.selectors.worker_suspension_causes) and
offers the appeal form, whose message ops read in the admin (workers.models.WorkerAppeal)."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from marketplace.errors import ServiceError
from quality.selectors import worker_suspension_causes
from tasks.models import Project
from webapp.views.base import worker_page
from workers.models import PoolMembership, WorkerProfile
from workers.selectors import worker_standing_get
from workers.services.appeals import APPEAL_MAX_LENGTH, worker_appeal_create

STATUS_WORDS = {"good": gettext_lazy("Good"), "watch": gettext_lazy("Under watch"),
                "flagged": gettext_lazy("Flagged for review"), "suspended": gettext_lazy("Suspended")}

# Why a quality flag suspended the worker, in words, from their side of the work (no gold, no other raters'
# answers, no rule names).
RULE_WORDS = {
    "fast": gettext_lazy("your answers came faster than a task can be read"),
    "same_answer": gettext_lazy("you gave the same answer far more often than the other raters in the project"),
    "gold": gettext_lazy("your answers on quality-control tasks fell below the project's bar"),
    "agreement": gettext_lazy("your answers agreed with the other raters' far less often than is usual in the "
                              "project"),
    "random": gettext_lazy("your answers matched the other raters' no better than random answers would"),
}


class AppealForm(forms.Form):
    message = forms.CharField(label=gettext_lazy("Your message to ops"), widget=forms.Textarea(attrs={"rows": 5}),
                              max_length=APPEAL_MAX_LENGTH,
                              help_text=gettext_lazy("Say why you think the checks got your work wrong. Ops read "
                                                     "every appeal and answer by email."))


def _sentence(cause: dict) -> str:
    words = RULE_WORDS.get(cause["rule"], _("a quality check found a problem with your answers"))
    if cause["rule"] == "fast" and cause.get("median_seconds") is not None and cause.get("floor"):
        words = _("%(words)s: half of your answers took less than %(median)s s, under the %(floor)s s a task "
                  "needs at the least") % {"words": words, "median": cause["median_seconds"], "floor": cause["floor"]}
    if cause["status"] == "open":
        return _("Your work is suspended while ops review it: %(words)s.") % {"words": words}
    return _("Ops reviewed your work and kept the suspension: %(words)s.") % {"words": words}


def suspension_notice(request) -> dict | None:
    """{"sentence", "flag_id", "manual"} for a suspended worker (platform or pool), else None. A suspension
    ops made by hand keeps their own words."""
    profile = request.worker_profile if hasattr(request, "worker_profile") else None
    platform = profile is not None and profile.status == WorkerProfile.Status.SUSPENDED
    pool = PoolMembership.objects.filter(worker=request.user, status=PoolMembership.Status.SUSPENDED).exists()
    if not (platform or pool):
        return None
    causes = worker_suspension_causes(worker_id=request.user.pk)
    if causes:
        return {"sentence": _sentence(causes[0]), "flag_id": causes[0]["flag_id"], "manual": False}
    reason = profile.status_reason if platform and profile.status_reason else ""
    text = _("This account is suspended: %(reason)s.") % {"reason": reason.rstrip(".")} if reason else \
        _("This account is suspended.")
    return {"sentence": text, "flag_id": None, "manual": True}


def _page(request, *, form=None, status: int = 200):
    standing = worker_standing_get(user=request.user)
    if standing is not None:
        names = dict(Project.objects.filter(id__in=[p["project_id"] for p in standing["projects"]])
                     .values_list("id", "name"))
        for row in standing["projects"]:
            row["project_name"] = names.get(row["project_id"], "")
            row["status_word"] = STATUS_WORDS.get(row["status"], row["status"])
    notice = suspension_notice(request)
    return render(request, "webapp/standing.html", {
        "standing": standing, "suspension": notice, "appeal_form": form or AppealForm(),
        "status_word": STATUS_WORDS.get(standing["status"], standing["status"]) if standing else _("Not measured yet"),
    }, status=status)


@worker_page
def standing(request):
    """The worker's own standing as GET /api/v1/me/ gives it: figures of their own work only, and the quality
    rules' reasons in the API's fixed words (quality.selectors.worker_standing_get)."""
    return _page(request)


@require_POST
@worker_page
def appeal(request):
    form = AppealForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    notice = suspension_notice(request)
    try:
        worker_appeal_create(worker_id=request.user.pk, message=form.cleaned_data["message"],
                             flag_id=notice["flag_id"] if notice else None)
    except ServiceError as exc:
        if exc.status_code == 400:
            form.add_error("message", exc.message)
            return _page(request, form=form, status=400)
        messages.error(request, exc.message)
        return redirect("webapp:standing")
    messages.success(request, _("Your appeal was sent to ops. They answer by email."))
    return redirect("webapp:standing")
