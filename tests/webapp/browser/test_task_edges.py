"""The task page when things go wrong, in a real browser: the lease runs out under the worker's eyes, staff
suspend the worker while a task is open, and a second tab submits the same assignment. Each time nothing
is stored twice or after the fact, and the page says what happened plainly. Also the ranking by mouse (drag,
and the move buttons), which the new worker's walk does by keyboard."""

from datetime import timedelta

import pytest
from django.utils import formats, timezone
from selenium.webdriver.common.keys import Keys

from payments.selectors import worker_earnings_summary
from tasks.models import Assignment, Judgment
from tests.webapp.browser.world import REWARD_CENTS, typed_projects
from tests.workers.factories import ready_worker
from workers.services.standing import worker_suspend

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.postgres]


def claim_in_browser(web, project) -> Assignment:
    web.open(f"/work/projects/{project.pk}/")
    web.submit_form(f"form[action='/work/projects/{project.pk}/claim'] button[type=submit]")
    assert web.path.startswith("/work/tasks/"), web.path
    return Assignment.objects.get(pk=int(web.path.split("/")[3]))


@pytest.fixture
def ada(web):
    user = ready_worker("ada.browser@example.com")  # timezone Europe/Berlin
    web.sign_in(user.email)
    return user


def test_an_expired_lease_says_so_disables_submit_and_a_late_answer_is_not_stored(web, ada):
    project = typed_projects(n_tasks=1, with_gold=False)["pairwise"]
    assignment = claim_in_browser(web, project)
    # The lease nearly over: six seconds left when the page is loaded again (room for a slow page load).
    Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now() + timedelta(seconds=6))
    web.open(web.path)
    web.wait_for(lambda: "expired" in web.find(".lease").get_attribute("class"), "the countdown to reach zero")
    assert "has run out" in web.text(".lease")
    assert web.find(".lease").get_attribute("role") == "alert"
    assert not web.find("#submit-answer").is_enabled()
    web.check_page("task-lease-expired-countdown")

    task = web.find("#task")
    web.press("1", Keys.ENTER)  # the keyboard still sends the form: the server refuses it and says why
    web.wait_swap(task, "the server's answer to a late submit")
    assignment.refresh_from_db()
    berlin = timezone.localtime(assignment.expires_at, timezone=__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    message = web.text("#task [data-closed]")
    assert "ran out at" in message and formats.date_format(berlin, "TIME_FORMAT") in message, message
    assert not Judgment.objects.filter(assignment=assignment).exists()
    assert worker_earnings_summary(user=ada)["pending_clearance_cents"] == 0
    web.check_page("task-lease-expired")

    web.open(f"/work/tasks/{assignment.pk}/")  # a reload says the same, with the way back to work
    assert "ran out at" in web.text("#task") and web.find_all("a[href='/work/']")


def test_a_worker_suspended_with_a_task_open_is_told_plainly_and_nothing_is_stored(web, ada):
    from tests.conftest import make_user

    project = typed_projects(n_tasks=2, with_gold=False)["rating"]
    assignment = claim_in_browser(web, project)
    ops = make_user("ops.browser@example.com", groups=("ops",))
    worker_suspend(worker_id=ada.pk, reason="Too many fast answers; we are looking into it.", actor_id=ops.pk)

    task = web.find("#task")
    web.press("4", Keys.ENTER)
    web.wait_swap(task, "the refusal")
    assert "suspended" in web.text("main").lower()
    assert web.find_all("[role=alert]")
    assert not Judgment.objects.filter(assignment=assignment).exists()
    assert Assignment.objects.get(pk=assignment.pk).status != Assignment.Status.LIVE
    web.check_page("task-suspended")

    web.open("/work/")
    assert web.find("[data-blocker]").get_attribute("data-blocker") == "suspended"
    web.check_page("work-suspended")
    web.open("/start/")
    assert web.find("[data-state]").get_attribute("data-state") == "suspended"
    assert "Too many fast answers" in web.text()
    web.check_page("onboarding-suspended")
    web.open(f"/work/projects/{project.pk}/")
    assert not web.find_all(f"form[action='/work/projects/{project.pk}/claim']")


def test_a_second_tab_submitting_the_same_assignment_counts_once_and_the_first_tab_says_so(web, ada):
    project = typed_projects(n_tasks=3, with_gold=False)["pairwise"]
    assignment = claim_in_browser(web, project)
    first_tab = web.driver.current_window_handle
    web.driver.switch_to.new_window("tab")
    web.open(f"/work/tasks/{assignment.pk}/")
    task = web.find("#task")
    web.press("1", Keys.ENTER)  # the second tab answers "a"
    web.wait_swap(task, "the next task in the second tab")
    assert "Saved." in web.text("#task")

    web.driver.switch_to.window(first_tab)
    assert web.path == f"/work/tasks/{assignment.pk}/"  # still showing the task, its form still there
    task = web.find("#task")
    web.press("2", Keys.ENTER)  # the first tab answers "b", too late
    web.wait_swap(task, "the first tab's refusal")
    assert web.find("#task [data-closed]").get_attribute("data-closed") == "submitted"
    assert "counted once" in web.text("#task")
    web.check_page("task-second-tab")

    judgments = Judgment.objects.filter(assignment=assignment)
    assert judgments.count() == 1 and judgments.get().answer["choice"] == "a"
    assert worker_earnings_summary(user=ada)["pending_clearance_cents"] == REWARD_CENTS


DRAG = """
const [from, to] = arguments;
const data = new DataTransfer();
const box = to.getBoundingClientRect();
const at = {bubbles: true, cancelable: true, dataTransfer: data, clientX: box.left + 5, clientY: box.bottom - 2};
from.dispatchEvent(new DragEvent("dragstart", {bubbles: true, cancelable: true, dataTransfer: data}));
to.dispatchEvent(new DragEvent("dragover", at));
to.dispatchEvent(new DragEvent("drop", at));
from.dispatchEvent(new DragEvent("dragend", {bubbles: true, dataTransfer: data}));
"""


def test_a_ranking_reordered_by_drag_and_by_the_move_buttons_is_stored_in_that_order(web, ada):
    """Chromedriver cannot drive a native HTML5 drag, so the drag's events are dispatched as a browser
    would send them (dragstart, dragover on the lower half of the target, drop, dragend)."""
    project = typed_projects(n_tasks=1, with_gold=False)["ranking"]
    assignment = claim_in_browser(web, project)
    items = web.find_all(".ranking li")
    web.driver.execute_script(DRAG, items[0], items[2])  # the first response dropped below the last
    order = [li.get_attribute("data-index") for li in web.find_all(".ranking li")]
    assert order == ["1", "2", "0"], order
    web.find(".ranking li[data-index='2'] button[data-move=up]").click()  # and the mouse's other way
    assert [li.get_attribute("data-index") for li in web.find_all(".ranking li")] == ["2", "1", "0"]
    task = web.find("#task")
    web.find("#submit-answer").click()
    web.wait_swap(task, "the answer to be stored")
    assert Judgment.objects.get(assignment=assignment).answer == {"order": [2, 1, 0]}
