"""The one-click unsubscribe page linked from every notification mail: no sign-in, a signed token.

A GET only shows the button (mail scanners fetch every link, and must not unsubscribe anyone); the POST
switches the mails off. The POST is CSRF-exempt because RFC 8058 mail clients POST
"List-Unsubscribe=One-Click" to this URL from outside the site: the signed token is what authorises it.
"""

from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from marketplace.errors import ServiceError
from webapp.views.base import refusal_page
from workers.services.unsubscribe import unsubscribe_new_work, worker_for_unsubscribe_token


@never_cache
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    try:
        if request.method == "POST":
            unsubscribe_new_work(token=token)
            return render(request, "webapp/unsubscribe.html", {"done": True})
        worker_for_unsubscribe_token(token)
    except ServiceError as exc:
        return refusal_page(request, exc, title=_("Unsubscribe link not valid"))
    return render(request, "webapp/unsubscribe.html", {"done": False})
