"""The start page, profile, quizzes, earnings and standing pages, through Django's test client."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from payments.models import StripeAccount
from quality.models import WorkerStanding
from tasks.models import Judgment
from tests.conftest import make_user
from tests.webapp.support import browser, csrf_token, task_url, typed_project, worker
from tests.workers.factories import complete_profile, skill
from tests.workers.quizkit import answers_for, make_quiz
from workers.models import Qualification, QuizAttempt, WorkerProfile

pytestmark = pytest.mark.django_db


# --- start page ---------------------------------------------------------------------------------------

def test_the_checklist_follows_the_me_selector_and_links_to_where_each_step_is_done():
    fresh = make_user("fresh@example.com")
    html = browser(fresh).get("/start/").content.decode()
    for step, link in (("display_name", "/profile/"), ("terms", "/profile/"), ("qualification", "/quizzes/"),
                       ("payout_account", "/earnings/")):
        assert re.search(rf'data-step="{step}">\s*<a href="{link}"', html), step
    assert 'class="done" data-step="email_verified"' in html
    ready = worker("ready@example.com")
    html = browser(ready).get("/start/").content.decode()
    assert 'class="todo" data-step="payout_account"' in html and 'class="done" data-step="qualification"' in html
    assert 'href="/work/"' in html


def test_a_suspended_worker_sees_it_on_the_start_page():
    from workers.services.standing import worker_suspend

    ada = worker()
    worker_suspend(worker_id=ada.pk, reason="too fast")
    html = browser(ada).get("/start/").content.decode()
    assert 'data-state="suspended"' in html and "too fast" in html


# --- profile --------------------------------------------------------------------------------------------

def test_the_profile_shows_the_terms_and_data_use_before_acceptance_and_saves_through_the_service():
    skill("python")
    fresh = make_user("fresh@example.com")
    client = browser(fresh, csrf=True)
    page = client.get("/profile/")
    html = page.content.decode()
    assert html.index("How your data is used") < html.index('name="accept_terms"')
    assert f"version {settings.TERMS_VERSION}" in html
    response = client.post("/profile/", {"display_name": "Ada", "country": "DE", "timezone": "Asia/Kolkata",
                                         "skills": ["python"], "accept_terms": "on",
                                         "csrfmiddlewaretoken": csrf_token(page)})
    assert response.status_code == 302 and response["Location"] == "/start/"
    profile = WorkerProfile.objects.get(user=fresh)
    assert (profile.display_name, profile.country, profile.timezone) == ("Ada", "DE", "Asia/Kolkata")
    assert profile.accepted_terms_version == settings.TERMS_VERSION
    assert [s.slug for s in profile.skills.all()] == ["python"]


def test_a_bad_profile_post_names_the_field_and_changes_nothing():
    skill("python")
    fresh = make_user("fresh@example.com")
    response = browser(fresh).post("/profile/", {"display_name": "Ada", "country": "XX", "timezone": "Mars/Base",
                                                 "skills": ["cobol"]})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Select a valid choice. XX" in html and "Mars/Base" in html and "cobol" in html
    assert not WorkerProfile.objects.filter(user=fresh).exists()


def test_the_profile_form_refuses_a_post_without_the_csrf_token():
    skill("python")
    fresh = make_user("fresh@example.com")
    response = browser(fresh, csrf=True).post("/profile/", {"display_name": "Ada", "country": "DE",
                                                            "timezone": "UTC", "skills": ["python"]})
    assert response.status_code == 403
    assert not WorkerProfile.objects.filter(user=fresh).exists()


def test_times_are_shown_in_the_workers_timezone():
    from zoneinfo import ZoneInfo

    from django.utils.dateformat import format as date_format

    from tasks.models import Assignment

    ada = worker()
    WorkerProfile.objects.filter(user=ada).update(timezone="Asia/Kolkata")
    project = typed_project("pairwise", lease_seconds=3600)
    client = browser(ada)
    url = task_url(client.post(f"/work/projects/{project.pk}/claim"))
    expires = Assignment.objects.get(pk=int(url.split("/")[3])).expires_at.astimezone(ZoneInfo("Asia/Kolkata"))
    html = client.get(url).content.decode()
    assert f'data-expires-at="{expires.isoformat()}"' in html  # +05:30
    assert f"This task is yours until {date_format(expires, settings.TIME_FORMAT).removesuffix('.')}." in html


def test_a_time_that_ends_a_sentence_keeps_one_full_stop():
    """English times end in "p.m.": the sentence's own full stop is the only one ("until 3:05 p.m.", never
    "p.m..")."""
    from datetime import UTC, datetime

    from tasks.models import Assignment
    from webapp.templatetags.webapp import before_full_stop

    ada = worker()
    WorkerProfile.objects.filter(user=ada).update(timezone="UTC")
    project = typed_project("pairwise", lease_seconds=3600)
    client = browser(ada)
    url = task_url(client.post(f"/work/projects/{project.pk}/claim"))
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=15, minute=5, second=0, microsecond=0)
    Assignment.objects.filter(pk=int(url.split("/")[3])).update(expires_at=tomorrow)
    html = client.get(url).content.decode()
    assert "This task is yours until 3:05 p.m." in html
    assert "p.m.." not in html and "a.m.." not in html
    assert before_full_stop("3:05 p.m.") == "3:05 p.m" and before_full_stop("15:05") == "15:05"


# --- quizzes ---------------------------------------------------------------------------------------------

def test_a_quiz_from_the_list_to_the_result_with_highlighted_code_and_a_retry_time_after_a_fail():
    make_quiz("python", cooldown=3600, cap=3)
    fresh = make_user("fresh@example.com")
    complete_profile(fresh)
    client = browser(fresh)
    assert "Start the quiz" in client.get("/quizzes/").content.decode()
    start = client.post("/quizzes/python/start")
    attempt_url = start["Location"]
    page = client.get(attempt_url)
    html = page.content.decode()
    assert page.status_code == 200 and 'data-seconds-left="' in html and 'class="hl"' in html
    assert "k-alpha" not in html and "SECRET-EXPLANATION" not in html  # no answer key reaches the page
    attempt = QuizAttempt.objects.get(worker=fresh)
    wrong = answers_for(attempt.pk, right=False)
    post = {f"q{qid}": labels for qid, labels in wrong.items()}
    result = client.post(f"{attempt_url}submit", post, follow=True)
    html = result.content.decode()
    assert 'data-passed="no"' in html and "You can try again from" in html
    listing = client.get("/quizzes/").content.decode()
    assert "You can try again from" in listing and "Start the quiz" not in listing
    # One sentence, the time in words (not ISO), scores as percentages (issue 30 item 5).
    assert "Your score: 0%." in html and "pass mark " in listing and "%." in listing
    refused = client.post("/quizzes/python/start", follow=True).content.decode()  # during the cooldown
    for text in (html, listing, refused):
        assert text.count("try again") == 1 and "+00:00" not in text and "try again after" not in text


def test_passing_a_quiz_qualifies_the_worker():
    make_quiz("python")
    fresh = make_user("fresh@example.com")
    client = browser(fresh)
    attempt_url = client.post("/quizzes/python/start")["Location"]
    attempt = QuizAttempt.objects.get(worker=fresh)
    post = {f"q{qid}": labels for qid, labels in answers_for(attempt.pk, right=True).items()}
    html = client.post(f"{attempt_url}submit", post, follow=True).content.decode()
    assert 'data-passed="yes"' in html
    assert Qualification.objects.filter(worker=fresh, skill__slug="python").exists()
    # A second submit of the same attempt: told plainly, graded once.
    again = client.post(f"{attempt_url}submit", post)
    assert again.status_code == 409 and "already submitted" in again.content.decode()


def test_a_late_quiz_submit_is_refused_plainly():
    make_quiz("python")
    fresh = make_user("fresh@example.com")
    client = browser(fresh)
    attempt_url = client.post("/quizzes/python/start")["Location"]
    attempt = QuizAttempt.objects.get(worker=fresh)
    QuizAttempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(minutes=5))
    post = {f"q{qid}": labels for qid, labels in answers_for(attempt.pk, right=True).items()}
    response = client.post(f"{attempt_url}submit", post)
    assert response.status_code == 409 and "time limit" in response.content.decode()
    assert not Qualification.objects.filter(worker=fresh).exists()


def test_another_workers_quiz_attempt_is_a_404_and_quiz_forms_need_the_csrf_token():
    make_quiz("python")
    ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
    attempt_url = browser(ada).post("/quizzes/python/start")["Location"]
    assert browser(bob).get(attempt_url).status_code == 404
    assert browser(bob).post(f"{attempt_url}submit", {}).status_code == 404
    assert browser(bob, csrf=True).post("/quizzes/python/start").status_code == 403
    assert not QuizAttempt.objects.filter(worker=bob).exists()
    assert browser(ada).post("/quizzes/nope/start").status_code == 404


# --- earnings and standing --------------------------------------------------------------------------------

def test_earnings_show_the_credit_the_ledger_line_and_hourly_pay():
    ada = worker()
    project = typed_project("pairwise")
    client = browser(ada)
    url = task_url(client.post(f"/work/projects/{project.pk}/claim"))
    client.post(f"{url}submit", {"choice": "a"})
    html = client.get("/earnings/").content.decode()
    # Pay follows evidence: a new worker's credit is pending until their work has been checked.
    assert 'data-figure="pending-clearance">0.25 USD' in html and 'data-figure="balance">0.00 USD' in html
    assert "New earnings are pending while your first work is checked" in html
    # The pending credit says it is pending (issue 30 item 6: "Approved judgment" read as checked money).
    assert "Judgment credited to pending (being checked)" in html and "Approved judgment" not in html
    assert "No hourly figure yet: it needs 5 timed judgments, you have 1." in html
    assert "Connect with Stripe" in html


def test_hourly_pay_counts_cleared_pay_and_shows_pending_apart(settings):
    """Issue 20: the worker's own hourly figure is cleared pay; what waits for their work to be checked is
    shown apart, and once it clears the whole figure is theirs."""
    from payments.models import EarningsClearance, LedgerTransaction
    from payments.services.clearance import drain_pending

    settings.PAY_HOURLY_MIN_JUDGMENTS = 1
    ada = worker()
    project = typed_project("pairwise")
    client = browser(ada)
    url = task_url(client.post(f"/work/projects/{project.pk}/claim"))
    client.post(f"{url}submit", {"choice": "a"})
    Judgment.objects.filter(worker=ada).update(seconds_spent=30.0)  # a person's pace (a test submits at once)
    html = client.get("/earnings/").content.decode()
    # Issue 30 item 6: the line leads with what the pace earns, never with "0.00 USD per hour".
    assert not re.search(r"(?<![0-9])0\.00 USD per hour", html)
    rate = re.search(r"Your pace earns ([0-9.,]+) USD per hour, over 1 judgments", html)
    assert rate and float(rate.group(1).replace(",", "")) > 0, re.findall(r'data-figure="hourly">.*', html)
    assert 'data-figure="pending-hourly">All of it is still pending while your work is checked.' in html
    clearance = EarningsClearance.objects.get(worker=ada)
    drain_pending(clearance=clearance, kind=LedgerTransaction.Kind.CLEARANCE, to_kind="worker_payable", memo="test")
    html = client.get("/earnings/").content.decode()
    assert f"Your pace earns {rate.group(1)} USD per hour, over 1 judgments" in html
    assert 'data-figure="pending-hourly"' not in html


def test_an_hourly_figure_from_answers_faster_than_a_task_can_be_read_is_not_shown(settings):
    """Issue 30 item 6: bot-speed answers make no hourly figure (5,818.53 USD an hour); the page says why."""
    settings.PAY_HOURLY_MIN_JUDGMENTS = 1
    ada = worker()
    project = typed_project("pairwise")
    client = browser(ada)
    url = task_url(client.post(f"/work/projects/{project.pk}/claim"))
    client.post(f"{url}submit", {"choice": "a"})
    Judgment.objects.filter(worker=ada).update(seconds_spent=0.5)
    html = client.get("/earnings/").content.decode()
    assert "USD" not in html.split('data-figure="hourly">')[1].split("</p>")[0]
    assert 'data-withheld="too_fast"' in html and "faster than a task can be read (under 4.0 s)" in html


def test_the_hourly_figure_splits_by_the_pending_share_of_the_window_per_currency():
    from webapp.views.money import hourly_cleared

    rows = [{"currency": "usd", "hourly_cents": 1200, "n_judgments": 10, "hours": 1.0, "earned_cents": 1000},
            {"currency": "eur", "hourly_cents": None, "n_judgments": 1, "hours": 0.1, "earned_cents": 100}]
    summary = {"by_currency": [{"currency": "usd", "pending_clearance_cents": 250},
                               {"currency": "eur", "pending_clearance_cents": 100}]}
    usd, eur = hourly_cleared(rows, summary)
    assert (usd["hourly_cents"], usd["pending_hourly_cents"], usd["rate_hourly_cents"]) == (900, 300, 1200)
    assert eur["hourly_cents"] is None and eur["pending_hourly_cents"] is None
    # More pending than the window earned (older credits): the figure is all pending, never negative.
    (capped,) = hourly_cleared(rows[:1], {"by_currency": [{"currency": "usd", "pending_clearance_cents": 5000}]})
    assert (capped["hourly_cents"], capped["pending_hourly_cents"]) == (0, 1200)


def test_stripe_connect_button_gives_an_onboarding_link_that_comes_back_to_the_earnings_page(fakestripe):
    ada = worker()
    client = browser(ada)
    page = client.post("/earnings/connect")
    assert page.status_code == 200
    link = re.search(r'href="(http://127\.0\.0\.1:\d+/_onboard/[^"]+)"', page.content.decode()).group(1)
    htmx = client.post("/earnings/connect", HTTP_HX_REQUEST="true")
    assert htmx.headers["HX-Redirect"].startswith(fakestripe.url)
    status, body = fakestripe.open(link)
    assert status == 200 and "http://testserver/earnings/" in body
    assert StripeAccount.objects.filter(user=ada).count() == 1
    assert browser(ada, csrf=True).post("/earnings/connect").status_code == 403


def test_standing_shows_the_apis_fixed_words_and_only_the_workers_own_figures():
    ada = worker()
    now = timezone.now()
    WorkerStanding.objects.create(
        worker=ada, project=None, status="watch", n_judgments=40, median_seconds=12.0, top_answer_share=0.5,
        computed_at=now, gold_n=10, gold_correct=3, gold_accuracy=0.3,
        reasons=[{"rule": "gold", "level": "review", "message": "internal words"},
                 {"rule": "gold", "level": "watch", "message": "early watch"}])
    html = browser(ada).get("/standing/").content.decode()
    assert "Your answers on quality-control tasks fall below the project&#x27;s bar" in html
    assert "internal words" not in html and "early watch" not in html
    assert "0.3" not in html and "gold" not in html.lower()
    assert browser(make_user("new@example.com")).get("/standing/").status_code == 200


@pytest.mark.parametrize("path", ["/start/", "/profile/", "/quizzes/", "/earnings/", "/standing/", "/work/"])
def test_every_page_sends_anonymous_visitors_to_sign_in(path):
    response = browser().get(path)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


def test_a_suspended_worker_cannot_start_a_quiz_and_is_told_why():
    from workers.services.standing import worker_suspend

    make_quiz("python")
    ada = worker()
    worker_suspend(worker_id=ada.pk, reason="copied answers")
    response = browser(ada).post("/quizzes/python/start", follow=True)
    assert response.status_code == 200
    assert "This account is suspended; quizzes are closed to it." in response.content.decode()
    assert not QuizAttempt.objects.filter(worker=ada).exists()


# --- appeals (issue 30 item 7) ----------------------------------------------------------------------------

def test_only_a_suspended_worker_can_appeal_with_a_real_message_and_ops_read_it_in_the_admin():
    from tests.admin_support import admin_clients
    from workers.models import WorkerAppeal
    from workers.services.standing import worker_suspend

    ada = worker()
    client = browser(ada)
    page = client.post("/standing/appeal", {"message": "Please look at my work again."}, follow=True)
    assert "Only a suspended account can appeal." in page.content.decode()
    assert not WorkerAppeal.objects.exists()  # an active worker has nothing to appeal

    worker_suspend(worker_id=ada.pk, reason="quality flag 23: fast")
    assert 'data-suspension-sentence' in client.get("/standing/").content.decode()
    for bad in ("", "too short", "x" * 2001):
        response = client.post("/standing/appeal", {"message": bad})
        assert response.status_code == 400 and 'id="id_message"' in response.content.decode(), bad
    assert not WorkerAppeal.objects.exists()
    assert browser(ada, csrf=True).post("/standing/appeal", {"message": "Please look at my work again."}).status_code == 403
    client.post("/standing/appeal", {"message": "<script>alert(1)</script> look again please"})
    appeal = WorkerAppeal.objects.get(worker=ada)

    clients = admin_clients()
    listing = clients["ops"].get("/admin/workers/workerappeal/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; look again please" in listing and "<script>alert(1)" not in listing
    assert clients["finance"].get("/admin/workers/workerappeal/").status_code == 403
    clients["ops"].post("/admin/workers/workerappeal/", {"action": "appeals_mark_handled",
                                                        "_selected_action": [appeal.pk]})
    appeal.refresh_from_db()
    assert appeal.handled_at is not None  # answered: the worker may write again
    assert client.post("/standing/appeal", {"message": "A new question for ops."}).status_code == 302
    assert WorkerAppeal.objects.filter(worker=ada).count() == 2


# --- times in the reader's timezone (issue 30 item 6) -----------------------------------------------------

@pytest.mark.parametrize("cookie, zone", [
    ("America%2FNew_York", "America/New_York"), ("Asia/Tokyo", "Asia/Tokyo"),
    ("../../etc/passwd", "UTC"), ("Not/AZone", "UTC"), ("x" * 5000, "UTC"), ("%00", "UTC"), ("", "UTC"),
])
def test_times_follow_the_browsers_zone_until_the_profile_has_one_and_a_bad_cookie_is_utc(cookie, zone):
    from workers.services.quizzes import quiz_attempt_start, quiz_attempt_submit

    make_quiz("python")
    grace = make_user("grace.zone@example.com")  # no profile: no timezone of their own
    attempt = quiz_attempt_start(worker_id=grace.pk, quiz_slug="python")
    quiz_attempt_submit(worker_id=grace.pk, attempt_id=attempt.pk, answers={})  # failed: a retry time
    client = browser(grace)
    client.cookies["tz"] = cookie
    response = client.get("/quizzes/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"({zone} time)." in html and "+00:00" not in html, re.findall(r"try again from [^<]*", html)

    complete_profile(grace)  # Europe/Berlin: the profile's zone wins over the browser's
    assert "(Europe/Berlin time)." in client.get("/quizzes/").content.decode()
