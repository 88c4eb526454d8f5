"""Stored XSS by class (issue 31): hostile text in every stored text field, through every page and mail.

The role matrix's world (tests/e2e/matrix_world.py: clients' projects and tasks, workers' answers, quizzes,
pools, flags, payouts, adjustments) plus one project of each task type is built once; then every text
field of every row of every model is overwritten with hostile markup (tests/marketplace/xss_support.py),
and every page that can show stored text is rendered: each admin model's changelist, change form, history
and delete page (superuser; ops' and finance's changelists too), both consoles, every web app page
(a task of each type, its re-rendered form after a hostile post), allauth's and our account pages; every
mail through its real sender. No page may carry an injected element, attribute, script or javascript: URL,
and `{{ }}` in stored text must come out as text.

The sweep is complete by construction and says so: new routes (the URL resolver), new admin models or
views (the admin registry), new templates (the template folders), new mail senders (a source scan) and new
text fields (the model registry) fail a test here until the sweep covers them.
"""

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.core import mail
from django.db.models import CheckConstraint
from django.test import Client, TestCase, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import AUTH, ROOT, make_user
from tests.marketplace import xss_support as xss
from tests.webapp.support import TYPES

pytestmark = pytest.mark.django_db

FIX_DATA = {"code": "def add(a, b):\n    return a - b\n", "language": "python", "question": "Fix add",
            "tests": "assert add(1, 2) == 3\n"}

# Every route outside /api/v1/ and /_allauth/ (JSON), by name: how the sweep renders it, or why it does not.
SWEPT = "swept"
ROUTES = {
    "healthz": "JSON", "metrics": "Prometheus text, no stored text", "schema": "OpenAPI YAML",
    "docs": "Swagger UI: no stored text (its headers: test_security_headers.py)",
    "stripe-webhook": "POST only, JSON", "console-ops": SWEPT, "console-finance": SWEPT,
    "console-ops-flag-resolve": "POST only, redirects to the console (swept)",
    "console-finance-reconcile": "POST only, redirects to the console (swept)",
    "index": SWEPT, "app_list": SWEPT, "login": "redirects to allauth's login (swept)",
    "logout": "POST only", "password_change": SWEPT, "password_change_done": SWEPT,
    "autocomplete": "JSON", "jsi18n": "JavaScript from Django's catalog, no stored text",
    "view_on_site": "a redirect", "auth_user_password_change": SWEPT,
    "payments_payoutbatch_csv": "CSV (tests/marketplace/test_csv_injection.py)",
    "payments_payoutbatch_approve": "POST only", "payments_payoutbatch_execute": "POST only",
    "account_signup": SWEPT, "account_login": SWEPT, "account_logout": SWEPT, "account_inactive": SWEPT,
    "account_email_verification_sent": SWEPT, "account_reauthenticate": SWEPT,
    "account_request_reauthentication_code": SWEPT, "account_confirm_reauthentication_code": SWEPT,
    "mfa_index": SWEPT, "mfa_authenticate": SWEPT, "mfa_reauthenticate": SWEPT, "mfa_activate_totp": SWEPT,
    "mfa_deactivate_totp": "needs an active TOTP authenticator; shows no stored text",
    "mfa_view_recovery_codes": SWEPT, "mfa_generate_recovery_codes": SWEPT,
    "mfa_download_recovery_codes": "a text/plain download",
    "verify-email-link": SWEPT, "reset-password": SWEPT, "reset-password-from-key": SWEPT,
    "home": SWEPT, "onboarding": SWEPT, "profile": SWEPT, "quizzes": SWEPT, "quiz-start": "POST only",
    "quiz-attempt": SWEPT, "quiz-submit": "POST; its re-rendered page is swept",
    "earnings": SWEPT, "connect": "POST only, a redirect to Stripe", "standing": SWEPT, "work": SWEPT,
    "project": SWEPT, "claim": "POST; leads to the task page (swept)", "task": SWEPT,
    "submit": "POST; its re-rendered page is swept", "skip": "POST, a redirect", "unsubscribe": SWEPT,
}
ADMIN_MODEL_VIEWS = ("changelist", "add", "history", "delete", "change")
# Poisoned fields no page shows, and why. Every other poisoned field must show up on a page of the sweep.
NOT_SHOWN = {
    "account.EmailConfirmation.key": "allauth's own; not in the admin",
    "admin.LogEntry.change_message": "the history page shows it parsed as JSON; the history page is swept",
    "admin.LogEntry.object_id": "an id", "admin.LogEntry.object_repr": "shown on history pages (swept)",
    "marketplace.IdempotencyKey.content_type": "no page", "marketplace.IdempotencyKey.key": "no page",
    "marketplace.IdempotencyKey.method": "no page", "marketplace.IdempotencyKey.path": "no page",
    "marketplace.IdempotencyKey.principal": "no page", "marketplace.IdempotencyKey.request_hash": "no page",
    "rest_framework_api_key.APIKey.hashed_key": "a hash", "tasks.ClientAPIKey.hashed_key": "a hash",
    "tasks.Client.pseudonym_salt": "a secret", "tasks.Client.webhook_secret": "a secret",
    "tasks.CompletionRun.failures": "sandbox output: clients read it through the API (JSON); no page shows it",
    "tasks.CompletionRun.runner_version": "sandbox output: the API only",
    "tasks.FixRun.failures": "sandbox output: the API only", "tasks.FixRun.runner_version": "sandbox output: the API only",
    "quality.ProjectQualityState.model": "the quality model's working state: no page, no API",
}


def _routes(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.name


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
            _get(pages, superuser, f"{base}_change {pk}", reverse(f"{base}_change", args=[quote(pk)]))
        if rows:
            _get(pages, superuser, f"{base}_history", reverse(f"{base}_history", args=[quote(rows[0])]))
            _get(pages, superuser, f"{base}_delete", reverse(f"{base}_delete", args=[quote(rows[0])]),
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
    for kind, project_id in projects.items():
        claim = typed.post(reverse("webapp:claim", args=[project_id]), secure=True)
        assert claim.status_code == 302 and "/work/tasks/" in claim["Location"], (kind, claim.status_code)
        task = claim["Location"]
        _get(pages, typed, f"task {kind}", task)
        submit = task + "submit"
        _get(pages, typed, f"task {kind} after a hostile post", submit, method="post",
             data={**hostile_post, "order": ["x"], "flags": [xss.payload(9999)]}, ok=(200, 302, 400, 409, 422))
        typed.post(task + "skip", secure=True)
    anonymous = Client()
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


@pytest.fixture(scope="module")
def sweep(django_db_setup, django_db_blocker):
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
            for role, user in (("superuser", root), ("ops", world.users["ops"]), ("finance", world.users["finance"])):
                clients[role] = Client()
                clients[role].force_login(type(user).objects.get(pk=user.pk))
            pages = {}
            _get(pages, clients["ops"], "console-ops", reverse("console-ops"))
            _get(pages, clients["finance"], "console-finance", reverse("console-finance"))
            _admin_pages(pages, clients["superuser"], {"ops": clients["ops"], "finance": clients["finance"]})
            _web_pages(pages, world, projects, typed_worker)
            _account_pages(pages, world, clients["superuser"])
            mails = _mails(world, projects)
            yield {"pages": pages, "mails": mails, "numbers": numbers, "refused": refused, "rows": rows}
        finally:
            TestCase._rollback_atomics(atomics)
            overrides.disable()
            stripe.stop()


def _html_pages(sweep):
    # Every HTML answer with a body: the pages, and the 4xx ones (a form re-rendered after a hostile post).
    return {label: r for label, r in sweep["pages"].items()
            if r.content and r["Content-Type"].startswith("text/html")}


def test_every_model_with_text_has_a_hostile_row(sweep):
    """A model added tomorrow with a text field has no row here until rare_rows() (or the world) makes one."""
    empty = sorted(label for label, n in sweep["rows"].items() if n == 0)
    assert not empty, f"no row to poison, so no page shows their text: {empty}"


def test_every_text_field_is_poisoned_or_reviewed(sweep):
    labels = {label for label, _, _ in xss.text_fields()}
    assert set(xss.NOT_POISONED) <= labels, set(xss.NOT_POISONED) - labels  # no stale entry
    # The database itself refuses hostile text in these: a CHECK constraint on the field (ISO currency codes,
    # a run's side "a" or "b").
    for label in sweep["refused"]:
        app_model, name = label.rsplit(".", 1)
        checks = [c for c in apps.get_model(app_model)._meta.constraints if isinstance(c, CheckConstraint)]
        assert any(name in str(c.condition) for c in checks), f"{label} refused, but by no CHECK on it"
    assert labels == set(sweep["numbers"]) | set(xss.NOT_POISONED) | sweep["refused"]


def _seen(sweep) -> dict[int, set[str]]:
    seen: dict[int, set[str]] = {}
    for label, response in _html_pages(sweep).items():
        for n in xss.markup_problems(response.content.decode())[1]:
            seen.setdefault(n, set()).add(label)
    return seen


def test_every_poisoned_field_reaches_a_page_of_the_sweep(sweep):
    """The sweep is not blind: what clients, workers and staff write is on the pages it checks. A field no
    page shows is listed in NOT_SHOWN with its reason, and a listed field that does show up fails too."""
    seen = _seen(sweep)
    shown = {label for label, n in sweep["numbers"].items() if n in seen}
    assert not set(NOT_SHOWN) & shown, f"shown after all, take them off NOT_SHOWN: {set(NOT_SHOWN) & shown}"
    short = {label for label, _, field in xss.text_fields() if xss.too_short_for_the_marker(field)}
    missing = set(sweep["numbers"]) - shown - set(NOT_SHOWN) - short
    assert not missing, f"poisoned but on no page of the sweep (a page is missing, or list why): {sorted(missing)}"
    # What each actor writes, on the page its readers open.
    pages_of = {label: seen.get(n, set()) for label, n in sweep["numbers"].items()}
    assert "console-ops" in pages_of["tasks.Project.name"] and "project" in pages_of["tasks.Project.instructions"]
    assert "task pairwise (world)" in pages_of["tasks.Task.data"]
    assert {"profile", "console-ops"} & pages_of["workers.WorkerProfile.display_name"]
    assert "quiz-attempt" in pages_of["workers.Question.prompt"]
    assert "earnings" in pages_of["payments.LedgerTransaction.memo"]


def test_no_page_shows_stored_text_as_markup(sweep):
    problems = []
    for label, response in _html_pages(sweep).items():
        found, _ = xss.markup_problems(response.content.decode())
        problems += [f"{label}: {problem}" for problem in found]
    assert not problems, "\n".join(problems[:30])


def test_every_route_is_swept_or_reviewed(sweep):
    """From the URL resolver: a route added tomorrow fails here until the sweep renders it or ROUTES says why
    it shows no stored text. The admin's per-model pages come from the admin registry: all of them swept."""
    labels = {label.split(" ")[0] for label in sweep["pages"]}
    registered = {f"{m._meta.app_label}_{m._meta.model_name}_{view}" for m in admin.site._registry
                  for view in ADMIN_MODEL_VIEWS}
    unreviewed, unswept = [], []
    for route, name in _routes(get_resolver().url_patterns):
        if route.startswith(("api/v1/", "_allauth/")):
            continue  # JSON only (the API's own tests, the hostile-schema fuzz)
        if name is None:
            assert route.startswith("admin/") and route.endswith(("<path:object_id>/", "(?P<url>.*)$")), route
            continue  # the admin's redirects to a change page, and its catch-all
        if name in registered:
            if not any(label.removeprefix("admin:") == name for label in labels):
                unswept.append(name)
        elif name not in ROUTES:
            unreviewed.append((route, name))
        elif ROUTES[name] == SWEPT and not ({name, f"admin:{name}"} & labels):
            unswept.append(name)
    assert not unreviewed, f"routes neither swept nor reviewed in ROUTES: {unreviewed}"
    # Models with no row (none today) have no change, history or delete page to render.
    assert not unswept, f"marked swept but not rendered: {unswept}"


# Templates of ours the sweep does not render, and why.
TEMPLATES_NOT_RENDERED = {
    "mfa/authenticate.html": "the second sign-in step: needs a pending login; shows no stored text",
    "account/logout.html": "allauth redirects a signed-in GET; shows no stored text",
}


def test_every_template_of_ours_is_rendered_by_the_sweep(sweep):
    """From the template folders: a template added tomorrow fails here until a swept page renders it."""
    ours = set()
    for folder in (ROOT / "marketplace" / "templates", ROOT / "webapp" / "templates"):
        ours |= {str(path.relative_to(folder)) for path in folder.rglob("*.html")}
    rendered = {t.name for response in sweep["pages"].values() for t in getattr(response, "templates", []) if t.name}
    assert set(TEMPLATES_NOT_RENDERED) <= ours
    assert not ours - rendered - set(TEMPLATES_NOT_RENDERED), sorted(ours - rendered - set(TEMPLATES_NOT_RENDERED))


def test_every_swept_page_carries_the_csp_and_refuses_framing(sweep):
    """Every HTML answer of the sweep (admin, consoles, web app, allauth's pages, error pages): a CSP with
    scripts from this origin only, no framing (frame-ancestors and X-Frame-Options)."""
    from tests.marketplace.test_security_headers import assert_protective_html_headers

    html = {label: r for label, r in sweep["pages"].items() if r["Content-Type"].startswith("text/html")}
    assert len(html) > 200
    for label, response in html.items():
        assert_protective_html_headers(response, label)


def test_mails_show_stored_text_as_plain_text(sweep):
    problems, seen = [], set()
    for prefix, message in [m if isinstance(m, tuple) else ("", m) for m in sweep["mails"]]:
        found, markers = xss.mail_problems(message)
        problems += [f"{prefix or message.subject}: {p}" for p in found]
        seen |= markers
        assert not getattr(message, "alternatives", None) and message.content_subtype == "plain", prefix
    assert not problems, problems
    numbers = sweep["numbers"]
    assert {numbers["tasks.Project.name"], numbers["marketplace.User.email"]} <= seen


def test_a_line_break_in_a_project_name_neither_splits_nor_loses_the_new_work_mail():
    """A client's project name with CR/LF and a header after it: the mail still goes, with a one-line
    subject and no extra header (Django would refuse the whole batch, after recording it as sent)."""
    from tasks.jobs.queue import notify_work_available
    from tasks.models import Project
    from tests.tasks.test_queue_factories import make_project, make_tasks
    from tests.workers.factories import complete_profile, qualify

    project = make_project(overlap=1)
    Project.objects.filter(pk=project.pk).update(name="Sort lists\r\nBcc: victim@example.com\n<b>now</b>")
    make_tasks(project, 2)
    idle = make_user("idle-crlf@example.com")
    complete_profile(idle, skills=("python",))
    qualify(idle, "python")
    mail.outbox.clear()
    assert notify_work_available(project.pk) == 1
    (message,) = mail.outbox
    assert message.subject.endswith("New work: Sort lists Bcc: victim@example.com <b>now</b>")
    assert message.bcc == [] and "Bcc" not in message.message().keys()
    assert xss.mail_problems(message)[0] == []


# Where the apps send mail: each of these is driven by the sweep (its real sender, with poisoned rows).
MAIL_SENDERS = {"tasks/services/queue_notify.py": "the new-work mail (notify_work_available)",
                "marketplace/adapters.py": "every allauth mail template, through the project's adapter"}
APPS = ("marketplace", "webapp", "workers", "tasks", "payments", "quality", "sandbox", "simulation")


def _app_sources():
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                yield str(path.relative_to(ROOT)), path.read_text()


def test_every_mail_sender_is_swept():
    senders = {name for name, text in _app_sources()
               if re.search(r"\b(send_mail|send_mass_mail|EmailMessage|EmailMultiAlternatives|mail_admins)\b", text)}
    assert senders == set(MAIL_SENDERS), senders


# Code that marks text safe (skips escaping), each reviewed: what it marks safe, and why that is escaped.
SAFE_MARKING = {
    "webapp/highlight.py": "Pygments' HtmlFormatter output: it escapes the code it highlights (swept)",
}


def test_nothing_marks_stored_text_safe_outside_the_reviewed_places():
    """|safe, {% autoescape off %}, mark_safe and SafeString skip escaping: none in our templates, and in
    Python only where reviewed. format_html escapes its arguments, so it stays allowed."""
    offenders = [name for name, text in _app_sources() if re.search(r"\bmark_safe\b|\bSafeString\(|\bSafeData\b",
                                                                    text) and name not in SAFE_MARKING]
    for folder in (ROOT / "marketplace" / "templates", ROOT / "webapp" / "templates"):
        for path in folder.rglob("*"):
            if path.is_file() and re.search(r"\|\s*safe(seq)?\b|{%\s*autoescape\s+off", path.read_text()):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, offenders
