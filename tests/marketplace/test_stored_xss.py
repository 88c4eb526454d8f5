"""Stored XSS by class (issue 31): hostile text in every stored text field, through every page and mail.

The role matrix's world (tests/e2e/matrix_world.py: clients' projects and tasks, workers' answers, quizzes,
pools, flags, payouts, adjustments) plus one project of each task type is built once; then every text
field of every row of every model is overwritten with hostile markup (tests/marketplace/xss_support.py;
the sweep itself: tests/marketplace/xss_sweep.py), and every page that can show stored text is rendered: each admin model's changelist, change form, history
and delete page (superuser; ops' and finance's changelists too), both consoles, every web app page
(a task of each type, its re-rendered form after a hostile post), allauth's and our account pages; every
mail through its real sender. No page may carry an injected element, attribute, script or javascript: URL,
and `{{ }}` in stored text must come out as text.

The sweep is complete by construction and says so: new routes (the URL resolver), new admin models or
views (the admin registry), new templates (the template folders), new mail senders (a source scan) and new
text fields (the model registry) fail a test here until the sweep covers them.
"""

import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.core import mail
from django.db.models import CheckConstraint
from django.urls import URLPattern, URLResolver, get_resolver

from tests.conftest import ROOT, make_user
from tests.marketplace import xss_support as xss
from tests.marketplace.xss_sweep import sweep_fixture  # noqa: F401 - the module-scoped fixture `sweep`

pytestmark = pytest.mark.django_db


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
    "return": SWEPT, "appeal": SWEPT, "favicon": "a redirect to the static icon",
    "console-finance-batch-new": SWEPT, "console-finance-batch-create": SWEPT,
    "console-finance-batch-approve": SWEPT, "console-finance-adjustment-new": SWEPT,
    "console-finance-adjustment-approve": SWEPT, "console-finance-adjustment-reject": SWEPT,
    "console-ops-flags-bulk": SWEPT, "console-ops-worker": SWEPT,
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
    "tasks.AnswerReview.judgment_ids": "the review job's list of ids: no page, no API",
    "tasks.FixRun.failures": "sandbox output: the API only", "tasks.FixRun.runner_version": "sandbox output: the API only",
    "quality.ProjectQualityState.model": "the quality model's working state: no page, no API",
}


def _routes(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.name


def _html_pages(sweep):
    # Every HTML answer with a body: the pages, and the 4xx ones (a form re-rendered after a hostile post).
    return {label: r for label, r in sweep["pages"].items()
            if r.content and r["Content-Type"].startswith("text/html")}


def test_a_random_token_that_spells_a_marker_is_no_marker():
    """Markers carry dashes, so a CSRF token or a TOTP secret (letters and digits) never reads as one; a
    real marker whose template text was evaluated still does."""
    assert xss.markup_problems('<input name="csrfmiddlewaretoken" value="Qm0aXsS3Qxx8H9PVXFD">') == ([], set())
    problems, seen = xss.markup_problems('<input value="XSS-3-Q2026">')
    assert seen == {3} and problems == ["attribute: field 3's {{ }} text did not come through as text: '2026'"]


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
    assert notify_work_available(project.pk) >= 1  # the sweep's workers may be eligible too (same module)
    (message,) = [m for m in mail.outbox if m.to == [idle.email]]
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
    "webapp/templatetags/webapp.py": "|prose: escape() of the whole text first (even text already marked safe), "
                                     "then only <code> around backticked runs of that escaped text and <br> for "
                                     "line breaks (swept: quiz prompts, task prompts)",
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
