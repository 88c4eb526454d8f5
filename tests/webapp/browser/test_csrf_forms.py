"""CSRF on every form of the web app: each POST form a person can reach carries the token, and the same
post without it is refused (403) and changes nothing.

The forms are found, not listed: the test walks the pages a signed-out visitor and a working worker see
(following the site's own links), so a form added to a page later is checked too. The posts go through
Django's test client with CSRF checks on, as a browser on another site would send them. No browser needed:
this runs in both CI legs (a browser-level check of the same refusal is in test_pages.py)."""

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.test import Client

from tasks.models import Assignment, Judgment
from tasks.services.queue import assignment_claim, assignment_submit
from tests.conftest import make_user
from tests.webapp.browser.world import TYPES, python_quiz, typed_projects
from tests.workers.factories import ready_worker
from workers.models import QuizAttempt, WorkerProfile
from workers.services.quizzes import quiz_attempt_start

pytestmark = pytest.mark.django_db(transaction=False)

SKIP_LINKS = re.compile(r"^/(admin|api|static|_allauth|healthz|metrics|webhooks)(/|$)")


class Forms(HTMLParser):
    """The POST forms of a page: action, and the fields a person would send (name, value)."""

    def __init__(self):
        super().__init__()
        self.forms, self.links, self._form = [], [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form" and (a.get("method") or "get").lower() == "post":
            self._form = {"action": a.get("action") or "", "fields": []}
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "textarea", "select", "button") and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self._form["fields"].append((a["name"], a.get("value") or ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def walk(client: Client, seeds: list[str], limit: int = 60) -> dict[str, dict]:
    """page path -> its POST forms, following same-site links from the seeds (at most `limit` pages)."""
    seen, queue, found = set(), list(seeds), {}
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path, follow=True)
        if response.redirect_chain:
            path = response.redirect_chain[-1][0]
        if "text/html" not in response.get("Content-Type", ""):
            continue
        page = Forms()
        page.feed(response.content.decode())
        for form in page.forms:
            action = urlsplit(urljoin(path, form["action"] or path)).path
            found.setdefault(path, []).append({**form, "action": action})
        for href in page.links:
            target = urlsplit(urljoin(path, href))
            if not target.netloc and not SKIP_LINKS.match(target.path) and target.path not in seen:
                queue.append(target.path)
    return found


def state() -> tuple:
    """What a forged post could change."""
    return (Judgment.objects.count(),
            sorted(Assignment.objects.values_list("pk", "status")),
            sorted(QuizAttempt.objects.values_list("pk", "status")),
            sorted(WorkerProfile.objects.values_list("user_id", "display_name", "accepted_terms_version", "status")),
            __import__("marketplace.models", fromlist=["User"]).User.objects.count())


@pytest.fixture
def working_worker(settings):
    """A worker with a live task of each type, a closed one, an open quiz attempt and a quiz to start."""
    settings.QUEUE_MAX_LIVE_CLAIMS = 10
    projects = typed_projects(n_tasks=3, with_gold=False)
    quiz = python_quiz()
    user = ready_worker("csrf.worker@example.com")
    for project in projects.values():
        assignment_claim(user=user, project_id=project.pk)
    done = assignment_claim(user=user, project_id=projects["pairwise"].pk)
    assignment_submit(user=user, assignment_id=done.assignment_id, answer=TYPES["pairwise"].answer)
    quiz_attempt_start(worker_id=user.pk, quiz_slug=quiz.slug)
    python_quiz("javascript")  # one quiz not started: its start form
    return user


def forged_posts(client_factory, found: dict[str, list]):
    checked = []
    for page, forms in found.items():
        for form in forms:
            names = [name for name, _ in form["fields"]]
            assert "csrfmiddlewaretoken" in names, f"the form to {form['action']} on {page} has no CSRF token"
            data = {}
            for name, value in form["fields"]:
                if name != "csrfmiddlewaretoken":
                    data.setdefault(name, []).append(value)
            before = state()
            response = client_factory().post(form["action"], data)
            assert response.status_code == 403, (page, form["action"], response.status_code)
            assert state() == before, f"a post without the token to {form['action']} changed something"
            checked.append(form["action"])
    return checked


def test_every_form_a_worker_reaches_carries_the_token_and_refuses_a_post_without_it(working_worker):
    def signed_in():
        client = Client(enforce_csrf_checks=True)
        client.force_login(working_worker)
        return client

    found = walk(signed_in(), ["/", "/start/", "/profile/", "/quizzes/", "/work/", "/earnings/", "/standing/"]
                 + [f"/work/tasks/{pk}/" for pk in Assignment.objects.values_list("pk", flat=True)]
                 + [f"/quizzes/attempts/{pk}/" for pk in QuizAttempt.objects.values_list("pk", flat=True)])
    checked = forged_posts(signed_in, found)
    actions = set(checked)
    # The forms the worker's day depends on are among those found (the walk did reach them).
    for needed in ("/profile/", "/accounts/logout/", "/work/tasks/{}/submit", "/work/tasks/{}/skip",
                   "/work/projects/{}/claim", "/quizzes/javascript/start", "/quizzes/attempts/{}/submit",
                   "/earnings/connect"):
        assert any(re.fullmatch(needed.replace("{}", r"\d+"), a) for a in actions), (needed, sorted(actions))
    for task_type in TYPES:  # the answer form of each type
        assert any(f"data-task-type=\"{task_type}\"" in signed_in().get(f"/work/tasks/{a.pk}/").content.decode()
                   for a in Assignment.objects.filter(project__task_type=task_type, status="live"))


def test_every_form_a_visitor_reaches_carries_the_token_and_refuses_a_post_without_it():
    make_user("csrf.unverified@example.com", verified=False)
    from allauth.account.models import EmailAddress, EmailConfirmationHMAC

    key = EmailConfirmationHMAC(EmailAddress.objects.get(email="csrf.unverified@example.com")).key
    found = walk(Client(enforce_csrf_checks=True),
                 ["/", "/accounts/login/", "/accounts/signup/", "/account/reset-password", f"/account/verify-email/{key}"])
    checked = set(forged_posts(lambda: Client(enforce_csrf_checks=True), found))
    assert {"/accounts/login/", "/accounts/signup/", f"/account/verify-email/{key}"} <= checked, checked
    assert not EmailAddress.objects.get(email="csrf.unverified@example.com").verified


def test_the_same_post_with_the_token_goes_through(working_worker):
    """The control: the 403s above are the missing token's, not a broken form's."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(working_worker)
    page = client.get("/profile/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    response = client.post("/profile/", {"csrfmiddlewaretoken": token, "display_name": "Ada L", "country": "DE",
                                         "timezone": "Europe/Berlin", "skills": ["python"]})
    assert response.status_code == 302
    assert WorkerProfile.objects.get(user=working_worker).display_name == "Ada L"


def test_every_form_of_a_staff_members_two_factor_pages_refuses_a_post_without_the_token():
    from django.contrib.auth.models import Group

    from marketplace.models import OPS_GROUP

    Group.objects.get_or_create(name=OPS_GROUP)
    staff = make_user("csrf.ops@example.com", groups=(OPS_GROUP,))

    def signed_in():
        client = Client(enforce_csrf_checks=True)
        client.force_login(staff)
        return client

    found = walk(signed_in(), ["/accounts/2fa/", "/accounts/2fa/totp/activate", "/accounts/reauthenticate/"])
    checked = set(forged_posts(signed_in, found))
    assert any(a.startswith("/accounts/2fa/") or a.startswith("/accounts/reauthenticate/") for a in checked), checked
