"""The pages the new worker's walk does not reach, in a real browser (axe-core, screenshots at both widths),
that no page shows template syntax to a person, the browser's own CSRF refusal, and the failure screenshot.
"""

import pytest

from marketplace.models import User
from tests.conftest import PASSWORD
from tests.webapp.browser.pages import SHOTS, keep_failure_screenshot
from tests.webapp.browser.world import typed_projects
from tests.workers.factories import ready_worker

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.postgres]

TEMPLATE_SYNTAX = ("{#", "#}", "{%", "%}", "{{", "}}")


def template_syntax_shown(web, name: str, found: list):
    """What Django did not render (a {# comment #} over several lines, a typo in a tag) is shown to people."""
    shown = web.driver.execute_script("return document.body.innerText")
    leaked = [s for s in TEMPLATE_SYNTAX if s in shown]
    if leaked:
        at = min(shown.find(s) for s in leaked)
        found.append(f"{name}: {leaked} in {shown[max(0, at - 20):at + 120]!r}")


def test_the_other_pages_pass_axe_fit_a_phone_and_show_no_template_syntax(web):
    leaks = []  # asserted at the end, so that every page is still checked and photographed
    visitor_pages = [("login", "/accounts/login/"), ("signup", "/accounts/signup/"),
                     ("reset-password", "/account/reset-password"), ("confirm-email", "/accounts/confirm-email/"),
                     ("verify-email-forged-key", "/account/verify-email/forged-key"),
                     ("reset-password-forged-key", "/account/reset-password/forged-key")]
    for name, path in visitor_pages:
        web.open(path)
        web.check_page(name)
        template_syntax_shown(web, name, leaks)

    # A wrong password: the form again with its error.
    web.open("/accounts/login/")
    web.fill("login", "nobody@example.com")
    web.fill("password", "not-the-password")
    web.submit_form("main form button[type=submit]")
    assert web.find_all(".errors, [role=alert]")
    web.check_page("login-error")

    # Staff: the two-factor page in the app's layout.
    from tests.conftest import make_user

    make_user("tour.ops@example.com", groups=("ops",))
    web.sign_in("tour.ops@example.com")
    web.open("/accounts/2fa/")
    web.check_page("staff-two-factor")
    template_syntax_shown(web, "staff-two-factor", leaks)

    user = ready_worker("tour.worker@example.com")
    project = typed_projects(n_tasks=1, with_gold=False)["flags"]
    web.sign_in(user.email)
    worker_pages = [("onboarding-ready", "/start/"), ("profile-accepted", "/profile/"), ("work-ready", "/work/"),
                    ("not-found", "/work/tasks/999999/"), ("quizzes-none", "/quizzes/"),
                    ("earnings-empty", "/earnings/"), ("standing", "/standing/")]
    for name, path in worker_pages:
        web.open(path)
        web.check_page(name)
        template_syntax_shown(web, name, leaks)
    web.open(f"/work/projects/{project.pk}/")
    web.submit_form(f"form[action='/work/projects/{project.pk}/claim'] button[type=submit]")
    task = web.find("#task")
    web.press("s")  # the only task skipped: the page says there is nothing else
    web.wait_swap(task, "the empty queue after a skip")
    web.check_page("work-skipped")
    template_syntax_shown(web, "work-skipped", leaks)
    assert not leaks, "template syntax shown on pages:\n" + "\n".join(leaks)


def test_a_form_posted_without_its_token_is_refused_in_the_browser(web):
    web.open("/accounts/signup/")
    web.fill("email", "forged@example.com")
    web.fill("password1", PASSWORD)
    web.driver.execute_script("document.querySelector('main form input[name=csrfmiddlewaretoken]').remove()")
    web.submit_form("main form button[type=submit]")
    assert "The form could not be sent" in web.driver.title  # the CSRF failure page (marketplace.views.csrf_failure)
    assert not User.objects.filter(email="forged@example.com").exists()


def test_a_failing_browser_test_keeps_its_screenshot(driver):
    """The hook in conftest.py calls this on a failure: the page the test was on is kept under its name."""
    driver.get("data:text/html,<h1>the page at the failure</h1>")
    path = keep_failure_screenshot(driver, "tests/webapp/browser/test_x.py::test_y[a/b]")
    assert path == SHOTS / "failed" / "test_x.py_test_y_a_b.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000
    path.unlink()


def test_the_accessibility_check_does_find_a_critical_violation(driver):
    """The control for every check_page: axe-core, as injected here, reports an image without a text
    alternative and a button without a name as critical."""
    from tests.webapp.browser.pages import Browser

    driver.get("data:text/html,<!doctype html><html lang=en><title>t</title><main><h1>t</h1>"
               "<img src='x.png'><button></button></main></html>")
    found = {v["id"]: v["impact"] for v in Browser(driver, "").axe()}
    assert found.get("image-alt") == "critical" and found.get("button-name") == "critical", found
