"""The work pages: projects, the brief before the first claim, the task page of each type, submit, skip.

Given a ready worker and projects; when they click through; then the queue's own rules hold (another
person's assignment is a 404, an expired lease or a second submit stores nothing twice, a suspended worker
gets a plain message) and a gold task's page is the same page as a real task's."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from payments.selectors import worker_earnings_summary
from tasks.models import Assignment, Judgment, Task
from tests.webapp.support import TYPES, assignment_id, browser, task_url, typed_project, worker
from workers.services.standing import worker_suspend

pytestmark = pytest.mark.django_db


def _judgments(assignment_pk: int) -> int:
    return Judgment.objects.filter(assignment_id=assignment_pk).count()


def test_the_work_page_shows_pay_hourly_pay_and_data_use_and_the_brief_comes_before_the_first_claim():
    ada = worker()
    project = typed_project("pairwise")
    page = browser(ada).get("/work/")
    html = page.content.decode()
    assert page.status_code == 200
    assert project.name in html and "0.25 USD" in html and "Used to train a code model." in html
    assert "not known yet" in html  # effective hourly pay: too few timed judgments
    assert f"/work/projects/{project.pk}/" in html and f"/work/projects/{project.pk}/claim" not in html
    brief = browser(ada).get(f"/work/projects/{project.pk}/").content.decode()
    assert "Pick the better completion." in brief and f"/work/projects/{project.pk}/claim" in brief


@pytest.mark.parametrize("task_type", sorted(TYPES))
def test_each_task_type_renders_and_a_submit_stores_the_answer_credits_it_and_shows_the_next_task(task_type):
    ada = worker()
    project = typed_project(task_type)
    client = browser(ada)
    first = task_url(client.post(f"/work/projects/{project.pk}/claim"))
    page = client.get(first)
    assert page.status_code == 200, page.content
    html = page.content.decode()
    assert 'id="answer"' in html and f'data-task-type="{task_type}"' in html
    assert 'class="hl"' in html  # code highlighted on the server
    _data, _schema, post, answer = TYPES[task_type]
    response = client.post(f"{first}submit", post)
    second = task_url(response)  # the next task, at once
    assert second != first
    judgment = Judgment.objects.get(assignment_id=assignment_id(first))
    assert judgment.answer == answer
    assert worker_earnings_summary(user=ada)["pending_clearance_cents"] == 25
    assert Assignment.objects.get(pk=assignment_id(second)).status == "live"
    # The last task: submitting it says there is nothing left, and goes back to the projects.
    done = client.post(f"{second}submit", post)
    assert done.status_code == 302 and done["Location"] == "/work/"


def test_type_specific_controls():
    pages = {}
    for task_type in TYPES:  # one worker each: a worker holds at most QUEUE_MAX_LIVE_CLAIMS live tasks
        project = typed_project(task_type, n_tasks=1)
        client = browser(worker(f"{task_type}@example.com"))
        pages[task_type] = client.get(task_url(client.post(f"/work/projects/{project.pk}/claim"))).content.decode()
    assert all(f'data-key="{k}"' in pages["pairwise"] for k in "123") and "Show the differences" in pages["pairwise"]
    assert pages["ranking"].count('name="order"') == 3 and 'draggable="true"' in pages["ranking"]
    assert pages["flags"].count('type="checkbox" name="flags"') == 3 and "off by one" in pages["flags"]
    assert "useless" in pages["rating"] and "excellent" in pages["rating"] and pages["rating"].count('name="score"') == 5
    assert 'maxlength="200"' in pages["text"] and 'data-counter="answer-count"' in pages["text"]
    for html in pages.values():
        assert "data-seconds-left=" in html and 'id="skip"' in html


def test_an_invalid_answer_is_shown_again_with_the_field_at_fault_and_nothing_is_stored():
    ada = worker()
    project = typed_project("rating")
    client = browser(ada)
    url = task_url(client.post(f"/work/projects/{project.pk}/claim"))
    response = client.post(f"{url}submit", {"score": "9"})
    assert response.status_code == 400
    assert "must be from 1 to 5" in response.content.decode()
    assert _judgments(assignment_id(url)) == 0
    assert Assignment.objects.get(pk=assignment_id(url)).status == "live"


def test_a_flags_form_with_none_and_a_problem_is_refused_by_the_service_with_the_field_named():
    """The page unticks one for the other, but a post that sends both anyway meets the service's rule
    (tasks.label_schemas): 400, the message under the flags, nothing stored (issue 30)."""
    ada = worker()
    project = typed_project("flags")
    project.label_schema = {"taxonomy": ["off_by_one", "style", "none"]}
    project.save(update_fields=["label_schema"])
    client = browser(ada)
    url = task_url(client.post(f"/work/projects/{project.pk}/claim"))
    page = client.get(url).content.decode()
    assert 'data-none="none"' in page and "Tick “none” if it has none." in page
    response = client.post(f"{url}submit", {"flags": ["off_by_one", "none"]})
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'<p class="errors" role="alert">[^<]*none[^<]*cannot be given together', html), html
    assert _judgments(assignment_id(url)) == 0
    assert Assignment.objects.get(pk=assignment_id(url)).status == "live"


def test_how_sure_has_words_and_keys_and_the_legend_says_ctrl_enter():
    ada = worker()
    project = typed_project("pairwise")
    project.label_schema = {"strength_scale": 5}
    project.save(update_fields=["label_schema"])
    client = browser(ada)
    html = client.get(task_url(client.post(f"/work/projects/{project.pk}/claim"))).content.decode()
    assert all(f'name="strength" value="{i + 1}" data-key="{k}"' in html for i, k in enumerate("qwert"))
    assert "not sure" in html and "very sure" in html
    assert "Q W E R T = how sure" in html and "Ctrl+Enter in the reason box" in html


def test_htmx_submit_swaps_the_next_task_in_and_pushes_its_url():
    ada = worker()
    project = typed_project("pairwise")
    client = browser(ada)
    first = task_url(client.post(f"/work/projects/{project.pk}/claim"))
    response = client.post(f"{first}submit", {"choice": "b"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    second = task_url(response)
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="task"') and "<html" not in html
    assert f'action="{second}submit"' in html and "Saved." in html


def test_skip_releases_the_task_and_serves_the_next():
    ada = worker()
    project = typed_project("text")
    client = browser(ada)
    first = task_url(client.post(f"/work/projects/{project.pk}/claim"))
    second = task_url(client.post(f"{first}skip"))
    assert Assignment.objects.get(pk=assignment_id(first)).status == "released"
    assert second != first and _judgments(assignment_id(first)) == 0


def test_return_releases_the_task_claims_no_other_and_a_get_changes_nothing():
    ada = worker()
    project = typed_project("text")
    client = browser(ada)
    first = task_url(client.post(f"/work/projects/{project.pk}/claim"))
    assert client.get(f"{first}return").status_code == 405
    assert Assignment.objects.get(pk=assignment_id(first)).status == "live"
    response = client.post(f"{first}return")
    assert response.status_code == 302 and response["Location"] == "/work/"
    assert Assignment.objects.get(pk=assignment_id(first)).status == "released"
    assert Assignment.objects.filter(worker=ada).count() == 1, "a return claims nothing"
    again = client.post(f"{first}return", HTTP_HX_REQUEST="true")  # twice: the page says it is closed
    assert again.status_code == 409 and "went back to the queue" in again.content.decode()


def test_another_workers_assignment_is_a_404_everywhere_and_nothing_changes():
    ada, bob = worker("ada@example.com"), worker("bob@example.com")
    project = typed_project("pairwise")
    url = task_url(browser(ada).post(f"/work/projects/{project.pk}/claim"))
    for method, path, data in (("get", url, None), ("post", f"{url}submit", {"choice": "a"}),
                               ("post", f"{url}skip", None), ("post", f"{url}return", None)):
        response = getattr(browser(bob), method)(path, data)
        assert response.status_code == 404, (path, response.status_code)
        assert "There is nothing here for you." in response.content.decode()
    assert Assignment.objects.get(pk=assignment_id(url)).status == "live"
    assert _judgments(assignment_id(url)) == 0
    assert browser(ada).get("/work/tasks/999999999/").status_code == 404
    assert browser(bob).get("/work/projects/999999999/").status_code == 404


def test_an_expired_lease_says_so_plainly_and_a_late_submit_stores_nothing():
    ada = worker()
    project = typed_project("pairwise")
    client = browser(ada)
    url = task_url(client.post(f"/work/projects/{project.pk}/claim"))
    Assignment.objects.filter(pk=assignment_id(url)).update(expires_at=timezone.now() - timedelta(seconds=1))
    page = client.get(url)
    assert page.status_code == 409
    assert "Your time on this task ran out at" in page.content.decode()
    assert 'id="answer"' not in page.content.decode()
    late = client.post(f"{url}submit", {"choice": "a"})
    assert late.status_code == 409 and "ran out" in late.content.decode()
    assert _judgments(assignment_id(url)) == 0
    assert worker_earnings_summary(user=ada)["pending_clearance_cents"] == 0


@pytest.mark.parametrize("second_answer", [{"choice": "a"}, {"choice": "b"}])
def test_a_second_submit_of_the_same_assignment_says_so_and_credits_once(second_answer):
    """The second tab: the same assignment posted again, with the same answer or another one."""
    ada = worker()
    project = typed_project("pairwise")
    first_tab, second_tab = browser(ada), browser(ada)
    url = task_url(first_tab.post(f"/work/projects/{project.pk}/claim"))
    assert first_tab.post(f"{url}submit", {"choice": "a"}).status_code == 302
    again = second_tab.post(f"{url}submit", second_answer)
    assert again.status_code == 409
    assert "You already submitted this task" in again.content.decode()
    assert _judgments(assignment_id(url)) == 1
    assert worker_earnings_summary(user=ada)["pending_clearance_cents"] == 25


def test_a_suspended_worker_is_told_plainly_and_cannot_claim_or_submit():
    ada = worker()
    project = typed_project("pairwise")
    client = browser(ada)
    url = task_url(client.post(f"/work/projects/{project.pk}/claim"))
    worker_suspend(worker_id=ada.pk, reason="quality review")
    work = client.get("/work/")
    assert work.status_code == 200 and "This account is suspended: quality review" in work.content.decode()
    claim = client.post(f"/work/projects/{project.pk}/claim", follow=True)
    assert "suspended" in claim.content.decode()
    submit = client.post(f"{url}submit", {"choice": "a"}, HTTP_HX_REQUEST="true")
    assert submit.status_code == 403 and "This account is suspended: quality review" in submit.content.decode()
    assert _judgments(assignment_id(url)) == 0
    assert worker_earnings_summary(user=ada)["pending_clearance_cents"] == 0


def test_an_unqualified_or_unverified_person_gets_a_plain_message_not_an_error():
    from tests.conftest import make_user

    unverified = make_user("new@example.com", verified=False)
    fresh = make_user("fresh@example.com")
    project = typed_project("pairwise")
    for person in (unverified, fresh):
        page = browser(person).get("/work/")
        assert page.status_code == 200 and 'data-blocker="' in page.content.decode()
        assert browser(person).get(f"/work/projects/{project.pk}/").status_code == 403
        claim = browser(person).post(f"/work/projects/{project.pk}/claim")
        assert claim.status_code == 302 and claim["Location"] == "/work/"
    assert not Assignment.objects.exists()


@pytest.mark.parametrize("path,data", [
    ("claim", None), ("submit", {"choice": "a"}), ("skip", None), ("return", None),
])
def test_every_work_form_refuses_a_post_without_the_csrf_token(path, data):
    ada = worker()
    project = typed_project("pairwise")
    url = task_url(browser(ada).post(f"/work/projects/{project.pk}/claim"))
    target = f"/work/projects/{project.pk}/claim" if path == "claim" else f"{url}{path}"
    response = browser(ada, csrf=True).post(target, data)
    assert response.status_code == 403
    assert Assignment.objects.count() == 1 and Assignment.objects.get().status == "live"


def _normalised(html: str) -> str:
    html = re.sub(r"/work/tasks/\d+/", "/work/tasks/N/", html)
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    return re.sub(r'data-seconds-left="\d+"', "", html)


def test_a_gold_task_page_is_the_same_page_as_a_real_task_page():
    """Same data, one gold and one real task: the two pages differ only in the assignment's own id."""
    ada = worker()
    project = typed_project("pairwise", n_tasks=0)
    data = TYPES["pairwise"][0]
    real = Task.objects.create(project=project, external_id="real", data=data, overlap=1)
    gold = Task.objects.create(project=project, external_id="gold", data=data, is_gold=True, gold={"choice": "b"},
                               overlap=Task.GOLD_OVERLAP)
    now, expires = timezone.now(), timezone.now() + timedelta(minutes=15)
    pages = []
    for task in (real, gold):
        assignment = Assignment.objects.create(task=task, worker=ada, project=project, claimed_at=now,
                                               expires_at=expires, served_reason="oldest open task")
        pages.append(browser(ada).get(f"/work/tasks/{assignment.pk}/").content.decode())
    assert _normalised(pages[0]) == _normalised(pages[1])
    assert "gold" not in pages[1].lower()


def test_htmx_gets_the_task_area_and_a_history_restore_or_a_plain_visit_the_whole_page():
    ada = worker()
    project = typed_project("pairwise")
    client = browser(ada)
    url = task_url(client.post(f"/work/projects/{project.pk}/claim"))
    part = client.get(url, HTTP_HX_REQUEST="true")
    assert "<html" not in part.content.decode() and "HX-Request" in part["Vary"]
    for headers in ({}, {"HTTP_HX_REQUEST": "true", "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}):
        assert "<html" in client.get(url, **headers).content.decode()


def test_the_last_task_submitted_by_htmx_says_there_is_nothing_left():
    ada = worker()
    project = typed_project("pairwise", n_tasks=1)
    client = browser(ada)
    url = task_url(client.post(f"/work/projects/{project.pk}/claim"))
    response = client.post(f"{url}submit", {"choice": "tie"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and response["HX-Push-Url"] == "/work/"
    assert "That was the last task for you in this project for now." in html and "Saved." in html
