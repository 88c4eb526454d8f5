"""What every page of the web app shares: sign-in, the worker's profile and timezone, plain error pages.

Pages call the same services and selectors as the API (never the API over HTTP). A service's refusal
(marketplace.errors.ServiceError) becomes a page with its message and the API's status code, never a 500.
"""

import functools
import zoneinfo
from urllib.parse import unquote

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


# The browser's timezone (an IANA name), written by webapp/static/webapp/timezone.js for pages to read until
# the worker sets one in their profile. Only a name the zone database knows is used; anything else is UTC.
TIMEZONE_COOKIE = "tz"


def _zone(name) -> zoneinfo.ZoneInfo | None:
    if not name or len(name) > 64:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        return None


def reader_timezone(request, profile=None) -> zoneinfo.ZoneInfo | None:
    """The reader's timezone: the profile's, else the browser's (the tz cookie), else None (UTC)."""
    return (_zone(profile.timezone) if profile is not None else None) or _zone(unquote(request.COOKIES.get(TIMEZONE_COOKIE, "")))


def worker_page(view):
    """A page for a signed-in person: anonymous visitors go to the sign-in page (then back). Times render
    in the reader's timezone (their profile's, else their browser's, else UTC; webapp's |when names it). request.worker_profile is the
    profile or None (it is created by the first profile save)."""

    @never_cache
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        # One row, no prefetch: most pages need only the timezone and status (a page that lists the skills
        # reads them itself).
        request.worker_profile = WorkerProfile.objects.filter(user=request.user).first()
        tz = reader_timezone(request, request.worker_profile)
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
