"""Ranking as a keyboard and screen-reader user meets it, and the way in (issue 30, item 8): positions are
numbered on the page and in each item's label while the response keeps its name, Move up is disabled on the
first item (Move down on the last), two Tabs reach the first item; the front page says what this is, the
sign-in page has no API addresses, and the site has an icon (no 404 in the browser's log)."""

import pytest
from selenium.webdriver.common.keys import Keys

from tasks.models import Judgment
from tests.webapp.browser.test_task_edges import claim_in_browser
from tests.webapp.browser.world import typed_projects
from tests.workers.factories import ready_worker

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.postgres]


def ranking_state(web) -> list[tuple]:
    return [(li.find_element("css selector", ".rank-pos").text, li.get_attribute("aria-label"),
             li.find_element("css selector", "button[data-move=up]").is_enabled(),
             li.find_element("css selector", "button[data-move=down]").is_enabled())
            for li in web.find_all(".ranking li")]


def test_ranking_numbers_positions_keeps_names_disables_the_impossible_moves_and_is_two_tabs_away(web):
    ada = ready_worker("ada.rank@example.com")
    project = typed_projects(n_tasks=1, with_gold=False)["ranking"]
    web.sign_in(ada.email)
    assignment = claim_in_browser(web, project)
    assert ranking_state(web) == [
        ("1", "Position 1 of 3: response A", False, True),
        ("2", "Position 2 of 3: response B", True, True),
        ("3", "Position 3 of 3: response C", True, False)]

    first = web.find(".ranking li")
    first.find_element("css selector", "button[data-move=up]").click()  # disabled: nothing moves
    assert [s[1] for s in ranking_state(web)][0] == "Position 1 of 3: response A"

    tabs = 0
    while web.driver.execute_script("return !document.activeElement.matches('.ranking li')") and tabs < 20:
        web.press(Keys.TAB)
        tabs += 1
    assert tabs <= 2, f"{tabs} Tabs to the first response"
    web.press(Keys.ARROW_DOWN)  # response A down one: B is first now, and the labels follow the positions
    assert ranking_state(web) == [
        ("1", "Position 1 of 3: response B", False, True),
        ("2", "Position 2 of 3: response A", True, True),
        ("3", "Position 3 of 3: response C", True, False)]
    status = web.driver.execute_script("return document.getElementById('ranking-status').textContent")
    assert status == "response A is now at position 2 of 3.", status
    assert web.driver.execute_script("return document.activeElement.getAttribute('data-index')") == "0"
    web.check_page("task-ranking-numbered")

    task = web.find("#task")
    web.press(Keys.ENTER)
    web.wait_swap(task, "the answer to be stored")
    assert Judgment.objects.get(assignment=assignment).answer == {"order": [1, 0, 2]}


def test_the_front_page_says_what_this_is_sign_in_has_no_api_and_the_icon_is_there(web):
    web.open("/")
    assert web.path == "/"
    assert "Paid work judging code" in web.text("h1")
    assert web.find_all("main a[href='/accounts/signup/']") and web.find_all("main a[href='/accounts/login/']")
    icon = web.find("link[rel=icon]").get_attribute("href")
    loaded = web.driver.execute_async_script(
        "const done = arguments[1]; fetch(arguments[0]).then(r => done(r.status), () => done(0));", icon)
    assert loaded == 200, (icon, loaded)
    ico = web.driver.execute_async_script(
        "const done = arguments[0]; fetch('/favicon.ico').then(r => done(r.status), () => done(0));")
    assert ico == 200, ico  # followed to the icon, never a 404
    web.check_page("landing-front")

    web.click_and_wait(web.find("main a[href='/accounts/login/']"))
    assert "_allauth" not in web.text("main") and "POST" not in web.text("main")
