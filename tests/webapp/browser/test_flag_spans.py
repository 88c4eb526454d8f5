"""Line-anchored flags in a real browser (issue 29): a worker adds a span by clicking lines, another by keys
in the code box (j/k, Space, the problem's number), removes one, and submits; the stored answers are the
spans the page showed. The server stays the authority: a span the page was made to send past the code
comes back as the page's error (tests/webapp/test_flag_spans_form.py)."""

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from tests.webapp.browser.test_keyboard import stored
from tests.webapp.browser.test_task_edges import claim_in_browser
from tests.webapp.browser.world import typed_projects
from tests.workers.factories import ready_worker

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def ada(web):
    user = ready_worker("ada.spans@example.com")
    web.sign_in(user.email)
    return user


def spans_listed(web) -> list[str]:
    return [li.get_attribute("data-start") + "-" + li.get_attribute("data-end") + ":" + li.get_attribute("data-category")
            for li in web.find_all("#span-list > li")]


def test_a_span_by_click_and_one_by_keyboard_are_submitted(web, ada):
    project = typed_projects(n_tasks=2, with_gold=False)["flags"]  # code of 2 lines; off_by_one 1, infinite_loop 2, style 3
    claim_in_browser(web, project)
    first = web.path

    # By mouse: line 1, shift+click line 2, the problem, a comment, "Add span".
    web.find("#code-line-1").click()
    assert "Line 1" in web.text("#span-selection")
    ActionChains(web.driver).key_down(Keys.SHIFT).click(web.find("#code-line-2")).key_up(Keys.SHIFT).perform()
    assert "1 to 2" in web.text("#span-selection"), web.text("#span-selection")
    Select(web.find("#span-category")).select_by_value("off_by_one")
    web.find("#span-comment").send_keys("range(len(xs) + 1) reads past the end")
    web.find("#add-span").click()
    assert spans_listed(web) == ["1-2:off_by_one"]
    assert web.find("input[name=flags][value=off_by_one]").is_selected()  # the span's problem is ticked
    assert "span-flagged" in web.find("#code-line-2").get_attribute("class")
    web.check_page("task-flags-spans")
    task = web.find("#task")
    web.find("#submit-answer").click()
    web.wait_swap(task, "the next flags task")
    assert stored(first) == {"flags": ["off_by_one"], "spans": [
        {"start_line": 1, "end_line": 2, "category": "off_by_one", "comment": "range(len(xs) + 1) reads past the end"}]}

    # By keyboard, on the next task: into the code box, j j puts the cursor on line 2, 3 adds it as style;
    # k, Space, j makes lines 1-2, 2 adds them as infinite_loop; x removes it; again with 1 (off_by_one).
    second = web.path
    web.driver.execute_script("document.getElementById('span-code').focus()")
    web.press("j", "j")
    assert "span-cursor" in web.find("#code-line-2").get_attribute("class")
    web.press("3")
    assert spans_listed(web) == ["2-2:style"]
    web.press("k", " ", "j", "2")
    assert spans_listed(web) == ["2-2:style", "1-2:infinite_loop"]
    web.press("x")
    assert spans_listed(web) == ["2-2:style"]
    web.press("k", " ", "j", " ", "1")  # Space again ends the range; the number adds it
    assert spans_listed(web) == ["2-2:style", "1-2:off_by_one"]
    # The numbers in the code box made spans, and ticked their problems; infinite_loop's box stays as it was
    # (ticked when its span was added: removing a span does not say the problem is not there).
    boxes = {b.get_attribute("value"): b.is_selected() for b in web.find_all("input[name=flags]")}
    assert boxes == {"off_by_one": True, "infinite_loop": True, "style": True}
    web.find("input[name=flags][value=infinite_loop]").click()  # the worker unticks it
    task = web.find("#task")
    web.driver.execute_script("document.getElementById('span-code').focus()")
    web.press(Keys.ENTER)  # Enter in the code box sends the answer, as anywhere on the page
    web.wait_swap(task, "the page after the last task")
    assert stored(second) == {"flags": ["off_by_one", "style"], "spans": [
        {"start_line": 1, "end_line": 2, "category": "off_by_one"},
        {"start_line": 2, "end_line": 2, "category": "style"}]}
