"""Every mail the system sends: web links into the workers' web app (absolute, from PUBLIC_BASE_URL), the
site's name, no API instructions; notification mails carry a signed one-click unsubscribe link (RFC 8058)."""

import re

import pytest
from django.conf import settings
from django.core import mail, signing
from django.test import Client

from tasks.jobs.queue import notify_work_available
from tests.conftest import PASSWORD, make_user
from tests.tasks.test_queue_factories import make_project, make_tasks
from tests.workers.factories import complete_profile, qualify
from workers.models import WorkerProfile
from workers.services.unsubscribe import unsubscribe_token

pytestmark = pytest.mark.django_db


def assert_reads_as_a_web_mail(message):
    text = message.subject + message.body
    assert settings.SITE_NAME in text
    assert settings.PUBLIC_BASE_URL in message.body
    assert "/api/v1/" not in message.body and "POST " not in message.body and "PATCH " not in message.body
    assert "127.0.0.1:8600" not in text and "testserver" not in text


def idle_worker(email):
    user = make_user(email)
    complete_profile(user, skills=("python",))
    qualify(user, "python")
    return user


def new_work_mail(email="idle@example.com"):
    project = make_project(overlap=1)
    make_tasks(project, 2)
    user = idle_worker(email)
    mail.outbox.clear()
    assert notify_work_available(project.pk) == 1
    (message,) = mail.outbox
    return project, user, message


def unsubscribe_link(message):
    return re.search(r"(\S+/unsubscribe/\S+)", message.body).group(1)


def test_new_work_mail_links_the_web_app_and_names_the_site():
    project, _, message = new_work_mail()
    assert_reads_as_a_web_mail(message)
    assert f"{settings.PUBLIC_BASE_URL}/work/projects/{project.pk}/" in message.body
    assert f"{settings.PUBLIC_BASE_URL}/profile/" in message.body


def test_new_work_mail_has_rfc8058_one_click_headers_pointing_at_the_signed_link():
    _, _, message = new_work_mail()
    link = unsubscribe_link(message)
    assert link.startswith(f"{settings.PUBLIC_BASE_URL}/unsubscribe/")
    assert message.extra_headers["List-Unsubscribe"] == f"<{link}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_unsubscribe_link_works_signed_out_and_a_get_changes_nothing():
    _, user, message = new_work_mail()
    path = unsubscribe_link(message).removeprefix(settings.PUBLIC_BASE_URL)
    anonymous = Client(enforce_csrf_checks=True)
    page = anonymous.get(path)
    assert page.status_code == 200 and b"<form" in page.content
    assert WorkerProfile.objects.get(user=user).notify_new_work  # mail scanners fetch links: no change
    # A mail client's RFC 8058 one-click POST: no session, no CSRF token.
    done = anonymous.post(path, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and b"no more mails" in done.content
    assert not WorkerProfile.objects.get(user=user).notify_new_work
    assert anonymous.post(path).status_code == 200  # twice is fine
    assert notify_work_available(make_project(overlap=1).pk) == 0


@pytest.mark.parametrize("alter", [
    lambda t, uid: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the signature changed
    lambda t, uid: signing.dumps(uid, salt="wrong-salt"),  # validly signed, but for another purpose
    lambda t, uid: signing.dumps(uid),  # validly signed with no salt
    lambda t, uid: "not-a-token",
])
def test_altered_or_forged_token_is_refused_and_changes_nothing(alter):
    _, user, message = new_work_mail()
    token = unsubscribe_link(message).rsplit("/", 1)[1]
    for method in ("get", "post"):
        response = getattr(Client(), method)(f"/unsubscribe/{alter(token, user.pk)}")
        assert response.status_code == 400 and b"not valid" in response.content
    assert WorkerProfile.objects.get(user=user).notify_new_work


def test_another_workers_token_cannot_be_derived_from_mine():
    _, me, message = new_work_mail()
    other = idle_worker("other@example.com")
    mine = unsubscribe_link(message).rsplit("/", 1)[1]
    value, signature = mine.rsplit(":", 1)
    # Swap my id for theirs and keep my signature: refused, their preference stays.
    forged = signing.dumps(other.pk, salt="x").rsplit(":", 1)[0] + ":" + signature
    assert forged != unsubscribe_token(user_id=other.pk)
    assert Client().post(f"/unsubscribe/{forged}").status_code == 400
    assert WorkerProfile.objects.get(user=other).notify_new_work
    assert WorkerProfile.objects.get(user=me).notify_new_work


def test_expired_token_is_refused(settings):
    _, user, message = new_work_mail()
    settings.UNSUBSCRIBE_TOKEN_MAX_AGE_SECONDS = -1
    response = Client().post(unsubscribe_link(message).removeprefix(settings.PUBLIC_BASE_URL))
    assert response.status_code == 400 and b"expired" in response.content
    assert WorkerProfile.objects.get(user=user).notify_new_work


def test_signup_verification_mail_greets_with_the_site_name_and_links_the_web():
    mail.outbox.clear()
    response = Client().post("/accounts/signup/", {"email": "new@example.com", "password1": PASSWORD})
    assert response.status_code == 302
    (message,) = mail.outbox
    assert f"Hello from {settings.SITE_NAME}!" in message.body
    assert f"{settings.PUBLIC_BASE_URL}/account/verify-email/" in message.body
    assert_reads_as_a_web_mail(message)


def test_password_reset_mail_names_the_site_and_links_the_web():
    make_user("forgot@example.com")
    mail.outbox.clear()
    response = Client().post("/_allauth/app/v1/auth/password/request", {"email": "forgot@example.com"},
                             content_type="application/json")
    assert response.status_code == 200, response.content
    (message,) = mail.outbox
    assert f"{settings.PUBLIC_BASE_URL}/account/reset-password/" in message.body
    assert_reads_as_a_web_mail(message)


def test_mails_to_unknown_or_taken_addresses_link_the_web_pages():
    make_user("taken@example.com")
    mail.outbox.clear()
    Client().post("/_allauth/app/v1/auth/password/request", {"email": "nobody@example.com"},
                  content_type="application/json")
    Client().post("/accounts/signup/", {"email": "taken@example.com", "password1": PASSWORD})
    unknown, exists = mail.outbox
    assert f"{settings.PUBLIC_BASE_URL}/accounts/signup/" in unknown.body  # was /api/docs/
    assert f"{settings.PUBLIC_BASE_URL}/account/reset-password" in exists.body
    for message in mail.outbox:
        assert_reads_as_a_web_mail(message)
        assert "/api/" not in message.body
