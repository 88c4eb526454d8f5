"""Giving a task back, in a real browser (issue 30, item 1): Return on the task page and on the work page's
list of open tasks releases the lease (tasks.services.queue.assignment_release, as the API's release) and
claims nothing, so a worker who stops, or who holds as many tasks as the queue allows, is never stuck; and
a minute before a lease ends the page warns, once, in an alert."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tasks.models import Assignment, Task
from tests.readme_screenshots import readme_shot
from tests.webapp.browser.pages import DESKTOP
from tests.webapp.browser.test_task_edges import claim_in_browser
from tests.webapp.browser.world import typed_projects
from tests.workers.factories import ready_worker

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.postgres]

LIVE = Assignment.Status.LIVE


@pytest.fixture
def ada(web):
    user = ready_worker("ada.giveback@example.com")
    web.sign_in(user.email)
    return user


def test_return_on_the_task_page_gives_the_task_back_and_claims_no_other(web, ada):
    project = typed_projects(n_tasks=3, with_gold=False)["pairwise"]
    assignment = claim_in_browser(web, project)
    assert web.find("#return-task").is_displayed()
    web.check_page("task-with-return")
    readme_shot(web.driver, "worker-task", restore=DESKTOP)  # README.md's (make screenshots)

    task = web.find("#task")
    web.find("#return-task").click()
    web.wait_swap(task, "the work page after the return")
    assert web.path == "/work/", web.path
    assert "returned the task" in web.text("#task")
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.RELEASED
    assert not Assignment.objects.filter(worker=ada, status=LIVE).exists(), "a return must not claim another task"
    assert Task.objects.get(pk=assignment.task_id).n_active == 0, "the slot went back to the queue"

    web.open(f"/work/tasks/{assignment.pk}/")  # the returned task's page says so, and takes no answer
    assert "returned" in web.text("#task [data-closed]")
    assert not web.find_all("form#answer")


def test_a_worker_holding_all_the_tasks_allowed_returns_one_from_the_work_page_and_works_again(web, ada, settings):
    settings.QUEUE_MAX_LIVE_CLAIMS = 2
    projects = typed_projects(n_tasks=2, with_gold=False)
    held = [claim_in_browser(web, projects[name]) for name in ("pairwise", "rating")]  # then the page is left

    web.open(f"/work/projects/{projects['flags'].pk}/")
    web.submit_form(f"form[action='/work/projects/{projects['flags'].pk}/claim'] button[type=submit]")
    assert web.path == "/work/" and "You already hold 2 live assignments" in web.text(), web.text()
    rows = web.find_all("ul.held li")
    assert {int(li.get_attribute("data-assignment")) for li in rows} == {a.pk for a in held}
    web.check_page("work-held-tasks")

    web.submit_form(f"ul.held li[data-assignment='{held[0].pk}'] form button[type=submit]")
    assert web.path == "/work/"
    assert "returned the task" in web.text()
    assert [int(li.get_attribute("data-assignment")) for li in web.find_all("ul.held li")] == [held[1].pk]
    assert Assignment.objects.get(pk=held[0].pk).status == Assignment.Status.RELEASED
    assert Assignment.objects.get(pk=held[1].pk).status == LIVE, "only the one returned"

    web.open(f"/work/projects/{projects['flags'].pk}/")  # and the claim that was refused now works
    web.submit_form(f"form[action='/work/projects/{projects['flags'].pk}/claim'] button[type=submit]")
    assert web.path.startswith("/work/tasks/"), (web.path, web.text())


def test_returning_a_task_already_submitted_in_another_tab_changes_nothing_and_says_so(web, ada):
    from tasks.services.queue import assignment_submit

    project = typed_projects(n_tasks=2, with_gold=False)["rating"]
    assignment = claim_in_browser(web, project)
    web.open("/work/")
    assignment_submit(user=ada, assignment_id=assignment.pk, answer={"score": 3})  # the other tab
    web.submit_form(f"ul.held li[data-assignment='{assignment.pk}'] form button[type=submit]")
    assert web.path == "/work/"
    assert "already submitted" in web.text() and "returned the task" not in web.text()
    assert Assignment.objects.get(pk=assignment.pk).status == Assignment.Status.SUBMITTED


def test_a_minute_before_the_lease_ends_the_page_warns_once_in_an_alert(web, ada):
    project = typed_projects(n_tasks=1, with_gold=False)["rating"]
    assignment = claim_in_browser(web, project)
    assert not web.find("#lease-warning").is_displayed(), "no warning with the whole lease ahead"

    Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now() + timedelta(seconds=50))
    web.open(web.path)
    web.wait_for(lambda: web.find("#lease-warning").is_displayed(), "the one-minute warning")
    warning = web.find("#lease-warning")
    assert warning.get_attribute("role") == "alert"
    assert "Less than a minute left" in warning.text and "return it" in warning.text
    assert web.find("#submit-answer").is_enabled(), "the answer can still be sent"
    web.check_page("task-lease-warning")
