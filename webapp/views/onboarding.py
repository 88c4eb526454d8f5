"""The start page: what is missing before the worker can earn, from the same selector as /api/v1/me/."""

from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from webapp.views.base import worker_page
from webapp.views.standing import suspension_notice
from workers.selectors import worker_onboarding_get

# Each code of worker_onboarding_get's "missing" list: what it means to a person, and where it is done.
CHECKLIST = (
    ("email_verified", _("Verify your email address"), "account_email_verification_sent"),
    ("display_name", _("Choose a display name"), "webapp:profile"),
    ("country", _("Say which country you work from"), "webapp:profile"),
    ("timezone", _("Set your timezone"), "webapp:profile"),
    ("skills", _("Pick at least one skill"), "webapp:profile"),
    ("terms", _("Read and accept the terms and the data-use statement"), "webapp:profile"),
    ("qualification", _("Pass a qualification quiz"), "webapp:quizzes"),
    ("payout_account", _("Connect a payout account to be paid"), "webapp:earnings"),
)

STATES = {
    "registered": _("Registered"), "email_verified": _("Email verified"),
    "profile_complete": _("Profile complete"), "qualified": _("Qualified: you can work"),
    "payout_ready": _("Ready to be paid"), "active": _("Active: you can work and be paid"),
    "suspended": _("Suspended"), "banned": _("Banned"),
}


def home(request):
    """/ : the start page for a signed-in person; for anyone else a page saying what this is, with the ways
    to sign up and to sign in (not straight to a sign-in form)."""
    if not request.user.is_authenticated:
        return render(request, "webapp/landing.html")
    return redirect("webapp:onboarding")


def favicon(request):
    """/favicon.ico, which browsers ask for on pages without an icon link (the admin's): the site's icon."""
    return redirect(static("webapp/favicon.svg"), permanent=False)


@worker_page
def onboarding(request):
    state = worker_onboarding_get(user=request.user, profile=request.worker_profile)
    missing = set(state["missing"])
    items = [{"code": code, "label": label, "url": reverse(url_name), "done": code not in missing}
             for code, label, url_name in CHECKLIST]
    return render(request, "webapp/onboarding.html", {
        "state": state["state"], "state_label": STATES.get(state["state"], state["state"]), "items": items,
        "profile": request.worker_profile,
        "suspension": suspension_notice(request) if state["state"] == "suspended" else None,
        "can_work": state["steps"]["qualified"] and state["steps"]["profile_complete"]
        and state["state"] not in ("suspended", "banned"),
    })
