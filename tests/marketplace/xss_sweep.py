"""The stored-XSS sweep (tests/marketplace/test_stored_xss.py): the world, poisoned, and every page and mail
rendered from it, once per module. No tests here."""

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import quote as admin_quote
from django.core import mail
from django.test import Client, TestCase, override_settings
from django.urls import reverse

from tests.conftest import AUTH, make_user
from tests.marketplace import xss_support as xss
from tests.webapp.support import TYPES

FIX_DATA = {"code": "def add(a, b):\n    return a - b\n", "language": "python", "question": "Fix add",
            "tests": "assert add(1, 2) == 3\n"}


def _get(pages: dict, client: Client, label: str, path: str, *, method: str = "get", data=None, ok=(200,), **headers):
    response = getattr(client, method)(path, data or {}, secure=True, **headers)
    assert response.status_code in ok, (label, path, response.status_code,
                                        " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())[-400:])
    pages[label] = response
    return response


def _typed_projects():
    """One project of each task type, each with a task, and a worker qualified for them."""
    from tasks.models import Project, Task
    from tests.tasks.test_queue_factories import make_project, make_worker

    projects = {}
    for kind in [*TYPES, "fix"]:
        data, schema = (FIX_DATA, {}) if kind == "fix" else TYPES[kind][:2]
        project = make_project(task_type=kind, overlap=1)
        Project.objects.filter(pk=project.pk).update(label_schema=schema)
        Task.objects.create(project=project, external_id=f"xss-{kind}", data=data, overlap=1)
        projects[kind] = project.pk
    projects["empty"] = make_project(overlap=1).pk  # nothing to claim: the "no task" part of the page
    return projects, make_worker("typed-xss@example.com")


def _admin_pages(pages: dict, superuser: Client, staff: dict[str, Client]):
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        base = f"admin:{opts.app_label}_{opts.model_name}"
        _get(pages, superuser, f"{base}_changelist", reverse(f"{base}_changelist"))
        _get(pages, superuser, f"{base}_add", reverse(f"{base}_add"), ok=(200, 403))
        rows = list(model._base_manager.order_by("pk").values_list("pk", flat=True))
        for pk in {rows[0], rows[-1]} if rows else ():
            _get(pages, superuser, f"{base}_change {pk}", reverse(f"{base}_change", args=[admin_quote(pk)]))
        if rows:
            _get(pages, superuser, f"{base}_history", reverse(f"{base}_history", args=[admin_quote(rows[0])]))
            _get(pages, superuser, f"{base}_delete", reverse(f"{base}_delete", args=[admin_quote(rows[0])]),
                 ok=(200, 403))
        for role, client in staff.items():
            _get(pages, client, f"{base}_changelist as {role}", reverse(f"{base}_changelist"), ok=(200, 403))
    for app_label in {model._meta.app_label for model in admin.site._registry}:
        _get(pages, superuser, f"admin:app_list {app_label}", reverse("admin:app_list", args=[app_label]))
    _get(pages, superuser, "admin:index", reverse("admin:index"))
    _get(pages, superuser, "admin:password_change", reverse("admin:password_change"))
    _get(pages, superuser, "admin:password_change_done", reverse("admin:password_change_done"))


def _web_pages(pages: dict, world, projects: dict, typed_worker):
    from workers.services.unsubscribe import unsubscribe_url

    ada = Client()
    ada.force_login(world.users["worker_a"])
    # Her browser's timezone cookie is hostile too (her profile's timezone is poisoned, so pages read it).
    ada.cookies["tz"] = quote(xss.payload(9993), safe="")
    for name in ("home", "onboarding", "profile", "quizzes", "earnings", "standing", "work"):
        _get(pages, ada, name, reverse(f"webapp:{name}"), ok=(200, 302))
    _get(pages, ada, "quiz-attempt", reverse("webapp:quiz-attempt", args=[world.ids["worker_a_attempt"]]))
    from workers.models import QuizAttempt

    attempt = QuizAttempt.objects.get(pk=world.ids["worker_a_attempt"])
    hostile_labels = {f"q{drawn['question']}": xss.payload(9999) for drawn in attempt.drawn}
    _get(pages, ada, "quiz-submit (hostile answers)", reverse("webapp:quiz-submit", args=[attempt.pk]),
         method="post", data=hostile_labels, ok=(200, 302, 400, 409))
    _get(pages, ada, "quiz-attempt (after the submit)", reverse("webapp:quiz-attempt", args=[attempt.pk]))
    _get(pages, ada, "project", reverse("webapp:project", args=[world.ids["project"]]))
    _get(pages, ada, "task (another's: the 404 page)", reverse("webapp:task", args=[2**31 - 1]), ok=(404,))
    _get(pages, ada, "task pairwise (world)", reverse("webapp:task", args=[world.ids["worker_a_live_assignment"]]))
    hostile_post = {key: xss.payload(9999) for key in ("choice", "reason", "text", "code", "score", "strength")}
    typed = Client()
    typed.force_login(typed_worker)
    _get(pages, typed, "claim (nothing left, htmx)", reverse("webapp:claim", args=[projects.pop("empty")]),
         method="post", HTTP_HX_REQUEST="true")
    # A worker with no Stripe account yet: the page with Stripe's onboarding link (the fake Stripe's).
    _get(pages, typed, "connect (Stripe's onboarding link)", reverse("webapp:connect"), method="post")
    returned = list(projects)[:2]
    for kind, project_id in projects.items():
        claim = typed.post(reverse("webapp:claim", args=[project_id]), secure=True)
        assert claim.status_code == 302 and "/work/tasks/" in claim["Location"], (kind, claim.status_code)
        task = claim["Location"]
        _get(pages, typed, f"task {kind}", task)
        submit = task + "submit"
        _get(pages, typed, f"task {kind} after a hostile post", submit, method="post",
             data={**hostile_post, "order": ["x"], "flags": [xss.payload(9999)]}, ok=(200, 302, 400, 409, 422))
        if kind == returned[0]:  # a worker holding a task gives it back: the work page's message
            _get(pages, typed, f"return {kind} (plain post, followed)", task + "return", method="post", follow=True)
        elif kind == returned[1]:  # from the task page (htmx): the task area
            _get(pages, typed, f"return {kind} (htmx)", task + "return", method="post", HTTP_HX_REQUEST="true")
        else:
            typed.post(task + "skip", secure=True)
    anonymous = Client()
    _get(pages, anonymous, "home (signed out: the landing page)", reverse("webapp:home"))
    unsubscribe = unsubscribe_url(user_id=world.users["worker_a"].pk).removeprefix(settings.PUBLIC_BASE_URL)
    _get(pages, anonymous, "unsubscribe", unsubscribe)


def _account_pages(pages: dict, world, superuser: Client):
    from allauth.account.models import EmailAddress

    anonymous = Client()
    for name in ("account_login", "account_signup", "account_email_verification_sent", "account_inactive"):
        _get(pages, anonymous, name, reverse(name), ok=(200, 302))
    _get(pages, anonymous, "reset-password", reverse("reset-password"))
    _get(pages, Client(enforce_csrf_checks=True), "the CSRF failure page", reverse("account_login"), method="post",
         data={"login": "a@example.com"}, ok=(403,))
    # Reset mailed to a worker whose address is hostile (a quoted local part): the mail, then its page.
    address = EmailAddress.objects.get(user=world.users["worker_a"]).email
    mail.outbox.clear()
    _get(pages, anonymous, "reset-password (sent)", reverse("reset-password"), method="post", data={"email": address})
    assert mail.outbox, "no reset mail"
    link = re.search(r"/account/reset-password/(\S+)", mail.outbox[-1].body)
    assert link, mail.outbox[-1].body
    link = link.group(1)
    _get(pages, anonymous, "reset-password-from-key", reverse("reset-password-from-key", args=[link]))
    # Sign-up with a hostile address: the verification mail, then the link's page shows the address.
    from rest_framework.test import APIClient

    hostile = xss.email_payload(9998, "signup")
    assert APIClient().post(f"{AUTH}/signup", {"email": hostile, "password": "a-long-password-1234"},
                            format="json").status_code == 401
    key = re.search(r"/account/verify-email/(\S+)", mail.outbox[-1].body)
    assert key, mail.outbox[-1].body
    key = key.group(1)
    from urllib.parse import unquote

    _get(pages, anonymous, "verify-email-link", reverse("verify-email-link", args=[unquote(key)]))
    for name in ("account_reauthenticate", "account_request_reauthentication_code", "mfa_index",
                 "mfa_reauthenticate", "mfa_activate_totp", "mfa_view_recovery_codes", "mfa_generate_recovery_codes",
                 "account_confirm_reauthentication_code", "account_logout", "mfa_authenticate"):
        _get(pages, superuser, name, reverse(name), ok=(200, 302, 404))  # 404: no authenticator yet
    _get(pages, superuser, "auth_user_password_change",
         reverse("admin:auth_user_password_change", args=[world.users["worker_a"].pk]))


def _console_action_pages(pages: dict, world, clients: dict[str, Client]):
    """The consoles' action pages (issue 30), as their roles: finance's batch and adjustment forms (GET, a
    hostile query string, the form re-rendered after a hostile post, and the console a post redirects to with
    its message), ops' page of a worker's answers and the bulk decision's message; a staff member of the
    other role gets the 403 page."""
    finance, ops = clients["finance"], clients["ops"]
    hostile = xss.payload(9995)
    new_batch = reverse("console-finance-batch-new")
    _get(pages, finance, "console-finance-batch-new", new_batch)
    _get(pages, finance, "console-finance-batch-new (preview)", new_batch,
         data={"preview": "1", "currency": "USD", "minimum": "0.01"})
    _get(pages, finance, "console-finance-batch-new (hostile query)", new_batch,
         data={"preview": "1", "currency": hostile, "minimum": hostile, "cutoff": hostile}, ok=(400,))
    create = reverse("console-finance-batch-create")
    _get(pages, finance, "console-finance-batch-create (hostile post, followed)", create, method="post",
         data={"currency": hostile, "minimum": hostile, "cutoff": hostile}, follow=True)
    _get(pages, finance, "console-finance-batch-create (followed)", create, method="post",
         data={"currency": "USD", "minimum": "0.01", "cutoff": "2999-01-01T00:00:00", "expected_total_cents": "1"},
         follow=True)
    _get(pages, finance, "console-finance-batch-approve (its creator: refused, followed)",
         reverse("console-finance-batch-approve", args=[world.ids["draft_batch"]]), method="post", follow=True)
    new_adjustment = reverse("console-finance-adjustment-new")
    _get(pages, finance, "console-finance-adjustment-new", new_adjustment)
    fields = {"worker": hostile, "kind": hostile, "amount": hostile, "memo": hostile, "currency": hostile,
              "reference": hostile}
    _get(pages, finance, "console-finance-adjustment-new (hostile query)", new_adjustment, data=fields)
    _get(pages, finance, "console-finance-adjustment-new (hostile post)", new_adjustment, method="post",
         data=fields, ok=(400,))
    _get(pages, finance, "console-finance-adjustment-new (hostile memo, followed)", new_adjustment, method="post",
         data={**fields, "worker": str(world.users["worker_a"].pk), "kind": "bonus", "amount": "1.00",
               "currency": "USD"}, follow=True)
    pending = world.ids["pending_adjustment"]
    _get(pages, finance, "console-finance-adjustment-approve (its creator: refused, followed)",
         reverse("console-finance-adjustment-approve", args=[pending]), method="post", follow=True)
    _get(pages, clients["finance2"], "console-finance-adjustment-reject (followed)",
         reverse("console-finance-adjustment-reject", args=[pending]), method="post", follow=True)
    # Worker A's answers (judgments on the world's project); worker C's flag and standing.
    worker_a, worker_c, project = world.users["worker_a"].pk, world.users["worker_c"].pk, world.ids["project"]
    _get(pages, ops, "console-ops-worker", reverse("console-ops-worker", args=[worker_a]))
    _get(pages, ops, "console-ops-worker (one project)", reverse("console-ops-worker", args=[worker_a]),
         data={"project": project})
    _get(pages, ops, "console-ops-worker (flagged)", reverse("console-ops-worker", args=[worker_c]),
         data={"project": project})
    bulk = reverse("console-ops-flags-bulk")
    _get(pages, ops, "console-ops-flags-bulk (hostile decision, followed)", bulk, method="post",
         data={"flag": [world.ids["flag"]], "decision": hostile, "note": hostile}, follow=True)
    _get(pages, ops, "console-ops-flags-bulk (dismissed, followed)", bulk, method="post",
         data={"flag": [world.ids["flag"]], "decision": "dismiss", "note": hostile}, follow=True)
    _get(pages, ops, "console-finance (as ops: the 403 page)", reverse("console-finance"), ok=(403,),
         HTTP_ACCEPT="text/html")


def _suspended_pages(pages: dict, world):
    """A suspended worker (ops' hostile reason) reads their standing and appeals: the form re-rendered after
    a refused appeal, and the standing page an accepted one redirects to."""
    from workers.models import WorkerProfile

    user = world.users["worker_c"]
    WorkerProfile.objects.filter(user=user).update(status=WorkerProfile.Status.SUSPENDED)
    suspended = Client()
    suspended.force_login(type(user).objects.get(pk=user.pk))
    _get(pages, suspended, "standing (suspended)", reverse("webapp:standing"))
    _get(pages, suspended, "appeal (empty: the form again)", reverse("webapp:appeal"), method="post",
         data={"message": ""}, ok=(400,))
    _get(pages, suspended, "appeal (hostile, followed)", reverse("webapp:appeal"), method="post",
         data={"message": xss.payload(9994)}, follow=True)


def _rate_limited_page(pages: dict, world):
    """allauth's 429 page (429.html), reached with the production limits: failed sign-ins on a hostile address."""
    from allauth.account.models import EmailAddress
    from django.core.cache import cache

    from marketplace.settings import _ACCOUNT_RATE_LIMITS_ON

    address = EmailAddress.objects.get(user=world.users["worker_b"]).email
    cache.clear()
    try:
        with override_settings(ACCOUNT_RATE_LIMITS=_ACCOUNT_RATE_LIMITS_ON):
            for n in range(5):
                Client().post(reverse("account_login"), {"login": address, "password": "wrong"}, secure=True,
                              REMOTE_ADDR=f"203.0.113.{n}")
            _get(pages, Client(), "account_login (past the limit: the 429 page)", reverse("account_login"),
                 method="post", data={"login": address, "password": "wrong"}, ok=(429,), REMOTE_ADDR="203.0.113.99")
    finally:
        cache.clear()


def _mails(world, projects) -> list:
    """Every mail the system sends, through its real sender, to and about poisoned rows."""
    from allauth.account.adapter import get_adapter
    from allauth.core import context as allauth_context
    from django.test import RequestFactory

    from tasks.jobs.queue import notify_work_available
    from tests.workers.factories import complete_profile, qualify

    sent = list(mail.outbox)  # the reset and verification mails of _account_pages
    idle = make_user("idle-xss@example.com")
    complete_profile(idle, skills=("python",))
    qualify(idle, "python")
    mail.outbox.clear()
    assert notify_work_available(projects["text"]) >= 1
    sent += mail.outbox
    # Every allauth mail template, through the project's adapter, about the poisoned worker.
    request = RequestFactory().get("/")
    user = type(world.users["worker_a"]).objects.get(pk=world.users["worker_a"].pk)
    folder = Path(__import__("allauth").__file__).parent / "templates" / "account" / "email"
    for subject in sorted(folder.glob("*_subject.txt")):
        prefix = "account/email/" + subject.name.removesuffix("_subject.txt")
        mail.outbox.clear()
        context = {"user": user, "request": request, "email": user.email, "code": xss.payload(9997),
                   "activate_url": xss.url_payload(9997), "password_reset_url": xss.url_payload(9997),
                   "from_email": user.email, "to_email": user.email, "signup_url": xss.url_payload(9997),
                   "password_reset_code": xss.payload(9997), "key": xss.payload(9997)}
        with allauth_context.request_context(request):
            get_adapter(request).send_mail(prefix, user.email, context)
        sent += [(prefix, message) for message in mail.outbox]
    return sent


@pytest.fixture(scope="module", name="sweep")
def sweep_fixture(django_db_setup, django_db_blocker):
    from payments.fakestripe import FakeStripeServer
    from tests.e2e.matrix_world import build_world

    stripe = FakeStripeServer().start()
    overrides = override_settings(STRIPE_API_BASE=stripe.url, STRIPE_SECRET_KEY="sk_test_fake",
                                  PAYMENTS_STRIPE_RATE_LIMIT=0)
    overrides.enable()
    with django_db_blocker.unblock():
        atomics = TestCase._enter_atomics()
        try:
            world = build_world(stripe.url)
            projects, typed_worker = _typed_projects()
            root = make_user("root-xss@example.com")
            type(root).objects.filter(pk=root.pk).update(is_staff=True, is_superuser=True)
            from django.contrib.auth.models import Group

            world.users["worker_c"].groups.add(Group.objects.create(name=xss.payload(9996)[:150]))
            xss.rare_rows(world_client_id=world.ids["client1_id"], project_id=world.ids["project"],
                          user_id=world.users["worker_c"].pk)
            rows = xss.rows_by_model()
            numbers, refused = xss.poison_every_text_field()
            clients = {}
            for role, user in (("superuser", root), ("ops", world.users["ops"]), ("finance", world.users["finance"]),
                               ("finance2", world.users["finance2"])):
                clients[role] = Client()
                clients[role].force_login(type(user).objects.get(pk=user.pk))
            pages = {}
            _get(pages, clients["ops"], "console-ops", reverse("console-ops"))
            _get(pages, clients["finance"], "console-finance", reverse("console-finance"))
            _admin_pages(pages, clients["superuser"], {"ops": clients["ops"], "finance": clients["finance"]})
            _web_pages(pages, world, projects, typed_worker)
            _account_pages(pages, world, clients["superuser"])
            _console_action_pages(pages, world, clients)
            _suspended_pages(pages, world)
            _rate_limited_page(pages, world)
            mails = _mails(world, projects)
            yield {"pages": pages, "mails": mails, "numbers": numbers, "refused": refused, "rows": rows}
        finally:
            TestCase._rollback_atomics(atomics)
            overrides.disable()
            stripe.stop()
