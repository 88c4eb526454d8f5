"""The task pages by keyboard, in a real browser (issue 30, item 3): after Ctrl+Enter the next pairwise task
takes 1 2 3 as choices (the focus is not left in a text box), the legend says Ctrl+Enter, "how sure" has
labels and keys, a text task's box has the focus, Enter does not send a flags task with nothing ticked, and
a taxonomy's "none" cannot be ticked together with a problem."""

import pytest
from selenium.webdriver.common.keys import Keys

from tasks.models import Judgment
from tests.webapp.browser.test_task_edges import claim_in_browser
from tests.webapp.browser.world import typed_projects
from tests.workers.factories import ready_worker

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def ada(web):
    user = ready_worker("ada.keys@example.com")
    web.sign_in(user.email)
    return user


def focused(web) -> dict:
    return web.driver.execute_script(
        "const e = document.activeElement; return {tag: e.tagName, id: e.id, type: e.type || ''};")


def stored(web_path: str) -> dict:
    return Judgment.objects.get(assignment_id=int(web_path.split("/")[3])).answer


def test_after_ctrl_enter_in_the_reason_box_the_next_pairwise_task_takes_2_as_b(web, ada):
    project = typed_projects(n_tasks=3, with_gold=False)["pairwise"]
    claim_in_browser(web, project)
    assert "Ctrl+Enter" in web.text(".keys"), web.text(".keys")
    strengths = web.text("fieldset:has(input[name=strength])")
    assert "not sure" in strengths and "very sure" in strengths and "Q" in strengths, strengths

    first = web.path
    web.press("1", "w")  # A, and "how sure" 2 by its key
    assert web.find("input[name=strength][value='2']").is_selected()
    reason = web.find("textarea[name=reason]")
    reason.click()
    reason.send_keys("Sorts in place as asked.")
    task = web.find("#task")
    reason.send_keys(Keys.CONTROL, Keys.ENTER)
    web.wait_swap(task, "the next pairwise task after Ctrl+Enter")
    assert stored(first) == {"choice": "a", "strength": 2, "reason": "Sorts in place as asked."}

    now = focused(web)
    assert now["tag"] not in ("TEXTAREA", "INPUT") or now["type"] in ("radio", "checkbox"), now
    web.press("2")  # picks B, as the legend says, instead of typing a "2" in a reason box
    assert web.find("input[name=choice][value=b]").is_selected()
    assert web.find("textarea[name=reason]").get_attribute("value") == ""
    second = web.path
    task = web.find("#task")
    web.press(Keys.ENTER)
    web.wait_swap(task, "the third task")
    assert stored(second) == {"choice": "b"}
    web.check_page("task-pairwise-after-ctrl-enter")


def test_a_text_task_opens_with_the_focus_in_its_text_box_and_the_next_one_too(web, ada):
    project = typed_projects(n_tasks=2, with_gold=False)["text"]
    claim_in_browser(web, project)
    assert focused(web)["id"] == "answer-text"
    first = web.path
    web.press("It doubles x.")  # typed straight away, no click
    task = web.find("#task")
    web.driver.switch_to.active_element.send_keys(Keys.CONTROL, Keys.ENTER)  # Ctrl held while Enter
    web.wait_swap(task, "the next text task")
    assert stored(first) == {"text": "It doubles x."}
    assert focused(web)["id"] == "answer-text", "the next text task's box has the focus too"


def test_enter_does_not_send_a_flags_task_with_nothing_ticked_and_none_excludes_a_problem(web, ada):
    project = typed_projects(n_tasks=2, with_gold=False)["flags"]
    project.label_schema = {"taxonomy": ["off_by_one", "style", "none"]}
    project.save(update_fields=["label_schema"])
    claim_in_browser(web, project)
    first = web.path

    task = web.find("#task")
    web.press(Keys.ENTER)  # nothing ticked: not sent; the page says what to do
    hint = web.find("#flags-hint")
    assert hint.is_displayed() and hint.get_attribute("role") == "alert"
    assert "none" in hint.text, hint.text
    assert not gone_or_sending(web, task), "an Enter with nothing ticked was sent"
    assert not Judgment.objects.filter(assignment_id=int(first.split("/")[3])).exists()

    boxes = {box.get_attribute("value"): box for box in web.find_all("input[name=flags]")}
    web.press("1")  # off_by_one
    web.press("3")  # none: unticks off_by_one
    assert [v for v, box in boxes.items() if box.is_selected()] == ["none"]
    boxes["style"].click()  # a problem by mouse: unticks none
    assert [v for v, box in boxes.items() if box.is_selected()] == ["style"]
    web.press("3")
    assert [v for v, box in boxes.items() if box.is_selected()] == ["none"]
    web.press(Keys.ENTER)
    web.wait_swap(task, "the next flags task")
    assert stored(first) == {"flags": ["none"]}


def gone_or_sending(web, element) -> bool:
    from tests.webapp.browser.pages import gone

    return gone(element) or web.driver.execute_script("return !!document.querySelector('.htmx-request')")
