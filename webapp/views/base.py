"""What every page of the web app shares: sign-in, the worker's profile and timezone, plain error pages.

Pages call the same services and selectors as the API (never the API over HTTP). A service's refusal
(marketplace.errors.ServiceError) becomes a page with its message and the API's status code, never a 500.
"""

import functools
import zoneinfo

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from marketplace.errors import ServiceError
from workers.models import WorkerProfile


class PageNotFound(Exception):  # noqa: N818 - a signal to worker_page, like Http404
    """Raised by a page for an id that is not the worker's own: a 404 page in the web app's layout
    (the project's handler404 answers JSON, for the API)."""


def _worker_timezone(profile):
    if profile is not None and profile.timezone:
        try:
            return zoneinfo.ZoneInfo(profile.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return None
    return None


def worker_page(view):
    """A page for a signed-in person: anonymous visitors go to the sign-in page (then back). Times render
    in the worker's timezone (their profile's, UTC until they set one). request.worker_profile is the
    profile or None (it is created by the first profile save)."""

    @never_cache
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        # One row, no prefetch: most pages need only the timezone and status (a page that lists the skills
        # reads them itself).
        request.worker_profile = WorkerProfile.objects.filter(user=request.user).first()
        tz = _worker_timezone(request.worker_profile)
        if tz is not None:
            timezone.activate(tz)
        try:
            return view(request, *args, **kwargs)
        except PageNotFound:
            return render(request, "webapp/error.html",
                          {"title": _("Not found"), "message": _("There is nothing here for you.")}, status=404)
        except ServiceError as exc:
            return refusal_page(request, exc)
        finally:
            timezone.deactivate()

    return wrapper


def refusal_page(request, exc: ServiceError, *, title: str | None = None):
    """A service said no: its message, plainly, with the API's status code."""
    return render(request, "webapp/error.html", {"title": title or _("That did not work"), "message": exc.message},
                  status=exc.status_code)
