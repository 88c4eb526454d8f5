"""Code as people read it, in a real browser (issue 30, item 4): on a phone (390 px) a long line of Python
scrolls sideways inside its own box instead of wrapping to column 0 (which breaks how indentation reads),
on the pairwise page and in a quiz; pairwise code has line numbers; `backticks` in a prompt show as code,
and markup in a prompt shows as text."""

import pytest

from tasks.models import Task
from tests.webapp.browser.pages import DESKTOP, PHONE, Browser, _metrics
from tests.webapp.browser.test_task_edges import claim_in_browser
from tests.webapp.browser.world import python_quiz, typed_projects
from tests.workers.factories import ready_worker
from workers.models import Question
from workers.services.quizzes import quiz_attempt_start

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.postgres]

LONG = ("def sort_in_place(xs):\n"
        "    if xs is not None and len(xs) > 1 and all(isinstance(x, (int, float)) for x in xs) and not any(x != x for x in xs):\n"
        "        xs.sort()\n"
        "    return xs\n")
LINES = LONG.count("\n")

# How many lines the code takes on the screen (its box's height over its line height), and whether its
# box scrolls sideways (wider content than the box).
MEASURE = """
const pre = arguments[0], box = pre.closest('.hl');
const lh = parseFloat(getComputedStyle(pre).lineHeight);
return {lines: Math.round(pre.getBoundingClientRect().height / lh), scrolls: box.scrollWidth > box.clientWidth + 1};
"""


def measured_on_a_phone(web, css: str) -> list[dict]:
    _metrics(web.driver, PHONE, mobile=True)
    try:
        return [web.driver.execute_script(MEASURE, pre) for pre in web.find_all(css)]
    finally:
        _metrics(web.driver, DESKTOP, mobile=False)


def test_pairwise_code_keeps_its_lines_on_a_phone_has_line_numbers_and_the_prompt_shows_code(web):
    ada = ready_worker("ada.code@example.com")
    project = typed_projects(n_tasks=1, with_gold=False)["pairwise"]
    task = Task.objects.get(project=project)
    task.data = {**task.data, "response_a": LONG,
                 "prompt": "Sort `xs` in place; do not return `sorted(xs)`. Keep <b>this</b> as text."}
    task.save(update_fields=["data"])
    web.sign_in(ada.email)
    claim_in_browser(web, project)

    shown = measured_on_a_phone(web, ".pair section pre")
    assert shown[0] == {"lines": LINES, "scrolls": True}, shown  # response A: one screen line per line
    assert [n.text.strip() for n in web.find_all("section[aria-labelledby=response-a] .linenos")] == [
        str(i) for i in range(1, LINES + 1)]
    assert web.find_all("section[aria-labelledby=response-b] .linenos"), "B has line numbers too"

    prompt = web.find(".prompt")
    assert [c.text for c in prompt.find_elements("css selector", "code")] == ["xs", "sorted(xs)"]
    assert "`" not in prompt.text and "<b>this</b>" in prompt.text
    assert not prompt.find_elements("css selector", "b")
    web.check_page("task-pairwise-long-line")  # and the page itself never scrolls sideways on a phone
    no_serious_violations("task-pairwise-long-line")  # a box that scrolls takes the keyboard's focus


def test_quiz_code_keeps_its_lines_on_a_phone(web):
    grace = ready_worker("grace.code@example.com", qualified=())
    quiz = python_quiz()
    Question.objects.filter(quiz=quiz, code__startswith="print(").update(code=LONG)
    attempt = quiz_attempt_start(worker_id=grace.pk, quiz_slug=quiz.slug)
    web.sign_in(grace.email)
    web.open(f"/quizzes/attempts/{attempt.pk}/")

    long_code = [m for m in measured_on_a_phone(web, "fieldset pre") if m["scrolls"]]
    assert long_code == [{"lines": LINES, "scrolls": True}], measured_on_a_phone(web, "fieldset pre")
    web.check_page("quiz-attempt-long-line")
    no_serious_violations("quiz-attempt-long-line")


def no_serious_violations(page: str):
    serious = [v for v in Browser.violations[page] if v["impact"] in ("serious", "critical")]
    assert not serious, serious
