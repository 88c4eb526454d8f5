"""The profile page: country, timezone, skills, and the terms with the platform's data-use statement."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from marketplace.errors import ValidationFailed
from webapp.forms import ProfileForm, form_add_service_errors
from webapp.views.base import worker_page
from workers.models import Skill
from workers.services.profile import worker_profile_update


@worker_page
def profile(request):
    current = request.worker_profile
    skills = [(s.slug, s.name or s.slug) for s in Skill.objects.order_by("slug")]
    accepted = bool(current and current.accepted_terms_version == settings.TERMS_VERSION)
    initial = {"notify_new_work": True}
    if current is not None:
        initial = {"display_name": current.display_name, "country": current.country,
                   "timezone": current.timezone, "skills": [s.slug for s in current.skills.all()],
                   "notify_new_work": current.notify_new_work}
    form = ProfileForm(request.POST or None, initial=initial, skills=skills)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            fields = {"display_name": data["display_name"], "country": data["country"],
                      "timezone_name": data["timezone"], "skills": data["skills"],
                      "notify_new_work": data["notify_new_work"]}
            if data["accept_terms"] and not accepted:
                fields["accepted_terms_version"] = settings.TERMS_VERSION
            try:
                worker_profile_update(user_id=request.user.id, **fields)
            except ValidationFailed as exc:
                form_add_service_errors(form, exc, renames={"timezone_name": "timezone"})
            else:
                messages.success(request, _("Your profile is saved."))
                return redirect("webapp:onboarding")
        status = 400
    return render(request, "webapp/profile.html", {
        "form": form, "terms_version": settings.TERMS_VERSION, "accepted": accepted,
        "accepted_at": current.accepted_terms_at if current else None,
    }, status=status)
