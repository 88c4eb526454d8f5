"""The flags page's spans as a form post (issue 29): spans.js writes hidden rows (span_start, span_end,
span_category, span_comment); the service checks them. A post made by hand with a span past the code, a
category outside the taxonomy, or rows of unequal length gets the page back with the span named and
nothing stored; a good post stores the spans, and the page after an error keeps the spans it was sent."""

import re

import pytest

from tasks.models import Assignment, Judgment
from tests.webapp.support import assignment_id, browser, task_url, typed_project, worker

pytestmark = pytest.mark.django_db


def _claim():
    ada = worker()
    project = typed_project("flags")  # 2 lines of code; taxonomy off_by_one, infinite_loop, style
    client = browser(ada)
    return client, task_url(client.post(f"/work/projects/{project.pk}/claim"))


def test_the_page_numbers_each_line_for_the_span_script():
    client, url = _claim()
    page = client.get(url).content.decode()
    assert 'id="code-line-1"' in page and 'id="code-line-2"' in page and 'id="code-line-3"' not in page
    assert 'data-lines="2"' in page and "webapp/spans.js" in page
    assert re.search(r'<select id="span-category">.*value="off_by_one".*value="style"', page, re.S)


@pytest.mark.parametrize(("post", "said"), [
    ({"span_start": ["1"], "span_end": ["3"], "span_category": ["off_by_one"], "span_comment": [""]},
     "Span 1, end_line: must be a line of the code: 1 to 2 (got 3)"),
    ({"span_start": ["2", "1"], "span_end": ["2", "1"], "span_category": ["style", "typo"],
      "span_comment": ["", ""]}, "Span 2, category: must be one of"),
    ({"span_start": ["1"], "span_end": [], "span_category": ["style"]}, "Span 1, end_line: is required"),
    ({"span_start": ["x"], "span_end": ["1"], "span_category": ["style"]}, "Span 1, start_line: is required"),
])
def test_a_hand_made_span_is_refused_with_the_span_named_and_nothing_stored(post, said):
    client, url = _claim()
    response = client.post(f"{url}submit", {"flags": ["style"], **post})
    assert response.status_code == 400
    html = response.content.decode()
    assert said in html, html[html.find("errors"):][:400]
    assert Judgment.objects.filter(assignment_id=assignment_id(url)).count() == 0
    assert Assignment.objects.get(pk=assignment_id(url)).status == "live"
    assert 'name="span_start"' in html  # the spans sent are shown again, to fix rather than redo


def test_good_spans_are_stored_with_their_problems_as_flags():
    client, url = _claim()
    response = client.post(f"{url}submit", {"flags": [], "span_start": ["2", "1"], "span_end": ["2", "2"],
                                            "span_category": ["style", "off_by_one"],
                                            "span_comment": ["", " xs[i] past the end "]})
    assert response.status_code in (200, 302)
    assert Judgment.objects.get(assignment_id=assignment_id(url)).answer == {
        "flags": ["off_by_one", "style"], "spans": [
            {"start_line": 1, "end_line": 2, "category": "off_by_one", "comment": "xs[i] past the end"},
            {"start_line": 2, "end_line": 2, "category": "style"}]}
