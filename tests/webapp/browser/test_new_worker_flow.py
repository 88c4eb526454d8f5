"""A new worker, in a real browser, from nothing to paid work: sign up, find the verification mail under
var/mail/, verify, sign in, fill the profile, pass the quiz, claim and answer a task of each of the five
types by keyboard (1/2/3, Enter, S), and see the credit on the earnings page. Nothing on this path waits
for Celery (the mail, the grade and the credit are written in the request), so no worker is started here.

Every page on the way is checked: axe-core (no critical violation), screenshots at desktop and phone
width (var/screenshots/webapp/), no sideways scrolling on a phone."""

import shutil
import uuid
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.utils import formats, timezone
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select

from payments.selectors import worker_earnings_summary
from simulation.mailbox import VERIFY_LINK
from tasks.models import Assignment, Judgment
from tests.conftest import PASSWORD, ROOT, wait_until
from tests.webapp.browser.world import REWARD_CENTS, TYPES, correct_labels, python_quiz, typed_projects
from workers.models import QuizAttempt

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.postgres]

EMAIL = "grace.new@example.com"


@pytest.fixture
def mail_dir(settings):
    """The embedded default's mail backend (files under var/mail/), in a folder of this test's own."""
    folder = ROOT / "var" / "mail" / f"browser-{uuid.uuid4().hex[:8]}"
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(folder)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def verification_path(folder: Path, address: str) -> str:
    """The link in the mail file the server wrote, as a path on the live server."""
    def link():
        for path in sorted(folder.glob("*")):
            text = path.read_text(errors="replace")
            if address in text and VERIFY_LINK.search(text):
                return VERIFY_LINK.search(text).group(0)
        return None

    found = wait_until(link, timeout=15, message=f"the verification mail to {address} under {folder}")
    return urlsplit(found.rstrip(".,;>)\"'")).path


def answer_by_keyboard(web, task_type: str):
    """Answers the task on the page as TYPES[task_type].answer, with the keys the page offers."""
    if task_type == "pairwise":
        web.press("d")  # the diff toggle
        assert web.find("details.diff").get_attribute("open") is not None
        web.press("1")
        assert web.find("input[name=choice][value=a]").is_selected()
        web.press(Keys.ENTER)
    elif task_type == "ranking":
        first = web.find(".ranking li")
        first.send_keys(Keys.ARROW_DOWN)  # the first response moves one down: order 1, 0, 2
        order = [li.get_attribute("data-index") for li in web.find_all(".ranking li")]
        assert order == ["1", "0", "2"], order
        web.press(Keys.ENTER)
    elif task_type == "flags":
        web.press("1", "3")
        assert [box.is_selected() for box in web.find_all("input[name=flags]")] == [True, False, True]
        web.press(Keys.ENTER)
    elif task_type == "rating":
        web.press("4")
        assert web.find("input[name=score][value='4']").is_selected()
        web.press(Keys.ENTER)
    else:
        box = web.find("textarea[name=text]")
        box.send_keys(TYPES["text"].answer["text"])
        assert web.find("#answer-count").text.startswith(str(len(TYPES["text"].answer["text"])))
        box.send_keys(Keys.CONTROL, Keys.ENTER)


def test_a_new_worker_signs_up_verifies_qualifies_works_every_type_by_keyboard_and_sees_the_credit(
        web, mail_dir):
    projects = typed_projects(n_tasks=3)  # one of them gold
    quiz = python_quiz()

    # Sign up, and the mail arrives as a file under var/mail/.
    web.open("/")  # a page saying what this is, with the ways in (issue 30)
    assert web.path == "/" and web.find_all("main a[href='/accounts/login/']")
    web.check_page("landing")
    web.click_and_wait(web.find("main a[href='/accounts/login/']"))
    web.check_page("login")
    web.click_and_wait(web.find("main a[href='/accounts/signup/']"))
    web.check_page("signup")
    web.fill("email", EMAIL)
    web.fill("password1", PASSWORD)
    web.submit_form("main form button[type=submit]")
    assert web.path == "/accounts/confirm-email/"
    web.check_page("verification-sent")

    # Verify: the link shows a confirm page; its button verifies.
    web.open(verification_path(mail_dir, EMAIL))
    web.check_page("verify-email")
    web.submit_form("main form button[type=submit]")
    assert "verified" in web.text().lower()

    web.sign_in(EMAIL)
    assert web.path == "/start/", web.path
    web.check_page("onboarding")
    todo = {li.get_attribute("data-step") for li in web.find_all(".checklist li.todo")}
    assert {"display_name", "country", "timezone", "skills", "terms", "qualification"} <= todo

    # Profile: the terms with the data-use statement are on the page before they are accepted.
    web.click_and_wait(web.find(".checklist li[data-step=display_name] a"))
    assert web.path == "/profile/"
    web.check_page("profile")
    web.fill("display_name", "Grace")
    Select(web.find("select[name=country]")).select_by_value("NZ")
    Select(web.find("select[name=timezone]")).select_by_value("Pacific/Auckland")
    web.find("input[name=skills][value=python]").click()
    web.find("input[name=accept_terms]").click()
    web.submit_form("main form button[type=submit]")
    assert web.path == "/start/"
    assert "Your profile is saved." in web.text()

    # The quiz: start, answer every question right, see the result.
    web.open("/quizzes/")
    web.check_page("quizzes")
    web.submit_form(f"form[action='/quizzes/{quiz.slug}/start'] button[type=submit]")
    attempt = QuizAttempt.objects.get(worker__email=EMAIL)
    assert web.path == f"/quizzes/attempts/{attempt.pk}/"
    web.check_page("quiz-attempt")
    for question, labels in correct_labels(attempt).items():
        for label in labels:
            web.find(f"input[name=q{question}][value={label}]").click()
    web.submit_form(f"form[action='/quizzes/attempts/{attempt.pk}/submit'] button[type=submit]")
    attempt.refresh_from_db()
    assert attempt.passed, attempt.score
    assert web.find("[data-passed]").get_attribute("data-passed") == "yes"
    web.check_page("quiz-result")

    # Work: each type's brief, then its task answered by keyboard; the next task is there at once; S skips it.
    web.open("/work/")
    web.check_page("work")
    for task_type, project in projects.items():
        web.open("/work/")
        web.click_and_wait(web.find(f"a[href='/work/projects/{project.pk}/']"))
        assert "Your judgments train and evaluate a code model." in web.text()
        web.check_page(f"brief-{task_type}")
        web.submit_form(f"form[action='/work/projects/{project.pk}/claim'] button[type=submit]")
        assert web.find("#task").get_attribute("data-task-type") == task_type
        first = web.path
        if task_type == "pairwise":  # times in the worker's timezone (Pacific/Auckland, set on the profile)
            lease = Assignment.objects.get(pk=int(first.split("/")[3])).expires_at
            shown = formats.date_format(timezone.localtime(lease, ZoneInfo("Pacific/Auckland")), "TIME_FORMAT")
            assert shown in web.text(".lease"), (shown, web.text(".lease"))
        web.check_page(f"task-{task_type}")

        task = web.find("#task")
        answer_by_keyboard(web, task_type)
        web.wait_swap(task, f"the next {task_type} task after the submit")
        assert web.path != first and web.path.startswith("/work/tasks/"), web.path
        assert "Saved." in web.text("#task")
        assert web.find("#task").get_attribute("data-task-type") == task_type
        assert web.find_all("form#answer"), "the next task is ready to answer"
        stored = Judgment.objects.get(assignment_id=int(first.split("/")[3]))
        assert stored.answer == TYPES[task_type].answer, stored.answer

        # S skips: the next task comes, or the project has nothing more for this worker.
        for _ in range(3):
            if task_type == "text":  # each text task opens in its text box: there S is a letter, not "skip"
                web.find("h1").click()
            task, shown = web.find("#task"), web.path
            web.press("s")
            web.wait_swap(task, f"what follows a skip in the {task_type} project")
            assert Assignment.objects.get(pk=int(shown.split("/")[3])).status == Assignment.Status.RELEASED
            assert "Skipped." in web.text("main")
            if not web.find_all("form#answer"):
                break
        assert web.path == "/work/" and "no other task" in web.text("main")

    # Earnings: five judgments credited.
    expected = len(TYPES) * REWARD_CENTS
    assert worker_earnings_summary(user=web_user())["pending_clearance_cents"] == expected
    web.open("/earnings/")
    web.check_page("earnings")
    assert f"{expected / 100:.2f}" in web.text("[data-figure=pending-clearance]"), web.text()
    assert len(web.find_all("main table tbody tr")) >= len(TYPES)  # the ledger lines


def web_user():
    from marketplace.models import User

    return User.objects.get(email=EMAIL)
