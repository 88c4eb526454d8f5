"""The new-work mail, followed in a real browser (issue 30 item 2): it told a freelancer to POST to
/api/v1/assignments/claim/ and to PATCH /api/v1/me/ to stop it. Its links now open the web app: the signed
one-click unsubscribe link works signed out (its page asks first, since mail scanners fetch every link), and
the work link opens the project's page."""

import re

import pytest
from django.conf import settings

from tests.webapp.test_mails import new_work_mail, unsubscribe_link
from workers.models import WorkerProfile

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.postgres]


def on_this_site(link: str) -> str:
    assert link.startswith(settings.PUBLIC_BASE_URL), link
    return link.removeprefix(settings.PUBLIC_BASE_URL)


def test_the_new_work_mails_links_unsubscribe_signed_out_and_open_the_project(web):
    project, user, message = new_work_mail("mailed.browser@example.com")
    assert "/api/v1/" not in message.body

    web.open(on_this_site(unsubscribe_link(message)))  # signed out, as from a mail client
    assert "Stop the mails" in web.text()
    assert WorkerProfile.objects.get(user=user).notify_new_work, "opening the link must change nothing"
    web.submit_form("main form button[type=submit]")
    assert "no more mails about new work" in web.text()
    assert not WorkerProfile.objects.get(user=user).notify_new_work

    work = re.search(rf"{re.escape(settings.PUBLIC_BASE_URL)}/work/projects/{project.pk}/", message.body).group(0)
    web.sign_in(user.email)
    web.open(on_this_site(work))
    assert web.path == f"/work/projects/{project.pk}/"
    assert project.name in web.text()
