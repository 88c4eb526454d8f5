"""Figures, times and standing as a freelancer reads them, in a real browser (issue 30, items 5 to 7).

- Quizzes: sending an attempt with unanswered questions asks first (a confirm from a static file; the
  server still takes it as it is), and the countdown stays in view while the questions scroll.
- Numbers: times in the reader's timezone, in words, the zone named (the profile's, else the browser's
  from the tz cookie); an hourly figure only from enough timed work at a person's pace, and says why not;
  a pending credit says it is pending; the lease is the time limit, the median the usual time.
- Standing: no watch before the rule's own minimum of judgments, each reason once, the judgments counted
  as ops count them, and a suspension in a sentence with an appeal that ops see in the admin.
"""

from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from quality.models import Flag, WorkerStanding
from tasks.models import Judgment
from tasks.services.queue import assignment_claim, assignment_submit
from tests.conftest import make_user
from tests.webapp.browser.pages import PHONE, WAIT, _metrics
from tests.webapp.browser.world import python_quiz, typed_projects
from tests.workers.factories import ready_worker
from workers.models import QuizAttempt, WorkerAppeal, WorkerProfile

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.postgres]


def _alert(web):
    return WebDriverWait(web.driver, WAIT).until(expected_conditions.alert_is_present())


def figure(web, label: str, scope: str = "main") -> str:
    """The figure a dl.figures shows under a label (the page's own words, not its markup)."""
    for row in web.find_all(f"{scope} dl.figures > div"):
        if row.find_element("css selector", "dt").text == label:
            return row.find_element("css selector", "dd").text
    raise AssertionError(f"no figure labelled {label!r}: {[dt.text for dt in web.find_all('dl.figures dt')]}")


def _work_through(user, project, n: int, seconds: float) -> list[int]:
    """n judgments of the project by the user, through the queue's services, timed at `seconds` each."""
    ids = []
    for _ in range(n):
        claim = assignment_claim(user=user, project_id=project.pk)
        assert claim is not None
        ids.append(assignment_submit(user=user, assignment_id=claim.assignment_id, answer={"choice": "a"}).pk)
    Judgment.objects.filter(pk__in=ids).update(seconds_spent=seconds)
    return ids


# --- item 5: quizzes ------------------------------------------------------------------------------------

def test_a_quiz_with_unanswered_questions_asks_before_it_is_sent_and_the_countdown_stays_in_view(web):
    ada = ready_worker("ada.quizconfirm@example.com")
    python_quiz()
    web.sign_in(ada.email)
    web.open("/quizzes/")
    web.submit_form("form[action='/quizzes/python/start'] button[type=submit]")
    attempt = QuizAttempt.objects.get(worker=ada)
    assert web.path == f"/quizzes/attempts/{attempt.pk}/"

    web.find("main form fieldset input").click()  # one of three answered
    _metrics(web.driver, (PHONE[0], 360), mobile=True)  # a phone held sideways: far less than the questions
    try:
        web.driver.execute_script("window.scrollTo(0, document.documentElement.scrollHeight)")
        scrolled, top, bottom, height = web.driver.execute_script(
            "const r = document.querySelector('.lease').getBoundingClientRect();"
            "return [window.scrollY, r.top, r.bottom, window.innerHeight];")
        assert scrolled > 400, f"the page should scroll well past the countdown on a phone ({scrolled} px)"
        assert top >= 0 and bottom <= height, f"the countdown left the screen: top {top}, bottom {bottom}"
    finally:
        _metrics(web.driver, (1280, 900), mobile=False)

    web.find("#submit-answer").click()
    alert = _alert(web)
    assert alert.text.startswith("2 of 3 questions have no answer"), alert.text
    alert.dismiss()  # "no, let me answer them": nothing is sent
    assert web.path == f"/quizzes/attempts/{attempt.pk}/"
    attempt.refresh_from_db()
    assert attempt.status == QuizAttempt.Status.OPEN

    button = web.find("#submit-answer")
    button.click()
    _alert(web).accept()  # sent as it is, as the server always took it
    web.wait_for(lambda: web.find_all("#result"), "the result")
    attempt.refresh_from_db()
    assert attempt.status == QuizAttempt.Status.SUBMITTED
    assert len(attempt.answers or {}) == 1


def test_a_fully_answered_quiz_is_sent_without_a_question(web):
    ada = ready_worker("ada.quizfull@example.com")
    python_quiz()
    web.sign_in(ada.email)
    web.open("/quizzes/")
    web.submit_form("form[action='/quizzes/python/start'] button[type=submit]")
    for fieldset in web.find_all("fieldset[data-question]"):
        fieldset.find_element("css selector", "input").click()
    web.click_and_wait(web.find("#submit-answer"))  # no confirm stands in the way
    assert web.find_all("#result")


# --- item 6: numbers people misread ---------------------------------------------------------------------

def test_times_are_in_the_browsers_timezone_in_words_with_the_zone_named(web):
    """No profile yet (so no timezone in it): the browser's zone, from the cookie timezone.js sets."""
    from webapp.templatetags.webapp import when
    from workers.services.quizzes import quiz_attempt_retry_after, quiz_attempt_start, quiz_attempt_submit

    grace = make_user("grace.tz@example.com")
    python_quiz()
    attempt = quiz_attempt_start(worker_id=grace.pk, quiz_slug="python")
    attempt = quiz_attempt_submit(worker_id=grace.pk, attempt_id=attempt.pk, answers={})  # failed: a cooldown
    assert not WorkerProfile.objects.filter(user=grace).exists()
    web.driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "America/New_York"})
    try:
        web.sign_in(grace.email)
        web.open("/quizzes/")
        text = web.text("[data-blocker]")
    finally:
        web.driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": ""})
    retry = quiz_attempt_retry_after(QuizAttempt.objects.get(pk=attempt.pk))
    with timezone.override(ZoneInfo("America/New_York")):
        expected = when(retry)
    assert text == f"You can try again from {expected}.", text
    assert "(America/New_York time)" in text and "UTC" not in text and "+00:00" not in text


def test_earnings_read_right_the_clearance_date_the_hourly_line_and_the_pending_credit(web, settings):
    settings.PAY_HOURLY_MIN_JUDGMENTS = 2
    ada = ready_worker("ada.earnings@example.com")  # timezone Europe/Berlin in the profile
    project = typed_projects(n_tasks=3, with_gold=False)["pairwise"]
    ids = _work_through(ada, project, 2, seconds=0.5)  # bot speed
    web.sign_in(ada.email)
    web.open("/earnings/")
    clearance = web.text("[data-figure=clearance]")
    assert "(Europe/Berlin time) at the latest" in clearance and "UTC" not in clearance, clearance
    assert "T" not in clearance.split("Expected to clear by")[1].split("(")[0], clearance  # no raw ISO
    hourly = web.text("[data-figure=hourly]")
    assert "USD" not in hourly and "faster than a task can be read" in hourly, hourly
    assert "Approved judgment" not in web.text()
    whats = [td.text for td in web.find_all("td[data-what=judgment_credit]")]
    assert whats and all(w.startswith("Judgment credited to pending (being checked)") for w in whats), whats

    Judgment.objects.filter(pk__in=ids).update(seconds_spent=36.0)  # a person's pace: 30 cents in 36 s
    web.open("/earnings/")
    hourly = web.text("[data-figure=hourly]")
    assert hourly.startswith("Your pace earns 30.00 USD per hour, over 2 judgments"), hourly
    assert "All of it is still pending while your work is checked." in hourly
    assert "0.00 USD per hour" not in hourly.replace("30.00 USD per hour", "")
    web.check_page("earnings-readable")


def test_a_projects_hourly_pay_from_bot_speed_work_is_not_a_figure_and_the_lease_reads_as_a_time_limit(web, settings):
    settings.PAY_HOURLY_MIN_JUDGMENTS = 2
    project = typed_projects(n_tasks=6, with_gold=False)["pairwise"]
    bots = [ready_worker(f"bot{i}.fast@example.com") for i in range(2)]
    ids = [pk for bot in bots for pk in _work_through(bot, project, 1, seconds=0.4)]
    ada = ready_worker("ada.projects@example.com")
    web.sign_in(ada.email)
    web.open(f"/work/projects/{project.pk}/")
    hourly = figure(web, "Effective hourly pay")
    assert "USD" not in hourly and "faster than a task can be read" in hourly, hourly
    assert web.text("[data-figure=time-limit]") == "15 min to answer once you take a task"
    labels = [dt.text for dt in web.find_all("dl.figures dt")]
    assert "Time per task" not in labels and "Time limit per task" in labels and "Usual time per task" in labels

    Judgment.objects.filter(pk__in=ids).update(seconds_spent=45.0)
    web.open("/work/")
    card = f"article[aria-labelledby='project-{project.pk}']"
    hourly = figure(web, "Effective hourly pay", card)
    # 30 cents per 45 s, first; what waits for checking said after it (never "0.00 USD" first).
    assert hourly.startswith("24.00 USD per hour"), hourly
    assert "all of it still pending while work is checked" in hourly, hourly
    assert web.text(f"{card} [data-figure=usual-time]") == "about 45 s (median of 2 timed judgments)"
    web.check_page("work-project-figures")


# --- item 7: standing -----------------------------------------------------------------------------------

def test_standing_shows_no_watch_before_the_rules_minimum_and_each_reason_once(web):
    ada = ready_worker("ada.standing@example.com")
    projects = typed_projects(n_tasks=14, with_gold=False)
    one, many = projects["pairwise"], projects["rating"]
    _work_through(ada, one, 1, seconds=20.0)
    now = timezone.now()
    same = {"rule": "same_answer", "level": "watch", "message": "Gives the same answer more often than the pool."}
    fast = {"rule": "fast", "level": "watch", "message": "Answers come faster than the task can be read."}
    # As the quality job stores them: each project's reasons, and the overall row gathering them all.
    WorkerStanding.objects.create(worker=ada, project=one, status="watch", n_judgments=1, computed_at=now,
                                  reasons=[same])
    WorkerStanding.objects.create(worker=ada, project=many, status="watch", n_judgments=12, computed_at=now,
                                  reasons=[fast, fast])
    WorkerStanding.objects.create(worker=ada, project=None, status="watch", n_judgments=13, computed_at=now,
                                  reasons=[{**same, "project_id": one.pk}, {**fast, "project_id": many.pk},
                                           {**fast, "project_id": many.pk}])
    web.sign_in(ada.email)
    web.open("/standing/")
    text = web.text()
    assert "same answer" not in text, "a watch after one judgment (the rule's minimum is 12)"
    assert text.count("Answers come faster than the task can be read.") == 2, text  # overall once, project once
    assert [p.text for p in web.find_all("main > p.notice")] == [fast["message"]]
    assert web.text(f"tr[data-project='{one.pk}'] [data-standing]") == "Good"
    web.check_page("standing-watch")


def test_a_suspended_worker_reads_why_in_words_the_count_ops_read_and_appeals(web, settings):
    from quality.services.recompute import project_quality_recompute

    settings.QUEUE_DEFAULT_SHARE_MIN = 100  # one worker may do the whole small project

    ada = ready_worker("ada.suspended@example.com")
    project = typed_projects(n_tasks=16, with_gold=True)["pairwise"]
    _work_through(ada, project, 14, seconds=1.0)  # faster than the suspend floor (2 s)
    project_quality_recompute(project_id=project.pk, force=True)
    flag = Flag.objects.get(worker=ada, project=project)
    assert flag.severity == Flag.Severity.SUSPEND and WorkerProfile.objects.get(user=ada).status == "suspended"
    ops_count = flag.evidence["n_judgments"]
    assert ops_count == 14

    web.sign_in(ada.email)
    web.open("/work/")
    blocker = web.text("[data-blocker]")
    assert "quality flag" not in blocker and "fast" not in blocker.split(":")[0], blocker
    assert "faster than a task can be read" in blocker, blocker
    web.click_and_wait(web.find("main a[href='/standing/#appeal']"))
    assert web.find("main dl.figures dd").text == str(ops_count)  # "Your judgments counted"
    assert web.text(f"tr[data-project='{project.pk}'] td.num") == str(ops_count)
    sentence = web.text("[data-suspension] [data-suspension-sentence]")
    assert sentence.startswith("Your work is suspended while ops review it: your answers came faster"), sentence
    assert "quality flag" not in web.text()
    messages = [p.text for p in web.find_all("main > p.notice")]
    assert len(messages) == len(set(messages)), messages
    web.check_page("standing-suspended")

    web.fill("message", "I read every task; my connection batches the submits.")
    web.submit_form("form[action='/standing/appeal'] button[type=submit]")
    assert "Your appeal was sent to ops" in web.text()
    appeal = WorkerAppeal.objects.get(worker=ada)
    assert appeal.flag_id == flag.pk and appeal.handled_at is None

    web.fill("message", "A second message, at once, before ops answered.")
    web.submit_form("form[action='/standing/appeal'] button[type=submit]")
    assert "with ops already" in web.text()
    assert WorkerAppeal.objects.filter(worker=ada).count() == 1
