"""The web app in a real browser: one headless Chromium (Debian's chromium and chromium-driver, driven by
Selenium) shared by every test of this folder, against pytest-django's live server on PostgreSQL.

Missing browsers skip these tests on a developer's machine, but fail them under REQUIRE_SERVICES=1 (CI's
PostgreSQL leg installs both with apt-get: .ci/run), so they are never silently left out there.
A failing test keeps a screenshot of the page it was on: var/screenshots/webapp/failed/<test>.png.
"""

import pytest

from tests.webapp.browser.pages import Browser, browsers_missing, keep_failure_screenshot, start_chromium


@pytest.fixture(scope="session")
def driver():
    from tests import settings as test_settings

    missing = browsers_missing()
    if missing:
        message = f"needs {missing} (apt-get install -y chromium chromium-driver; .ci/run installs them)"
        if test_settings.REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 and the browser tests cannot run: {message}", pytrace=False)
        pytest.skip(message)
    chromium = start_chromium()
    yield chromium
    chromium.quit()


@pytest.fixture
def web(driver, live_server, settings, transactional_db):
    """The shared browser, signed out, on one tab at desktop size, for one test against the live server."""
    # The live server speaks plain http: cookies must not be Secure-only there.
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    browser = Browser(driver, live_server.url)
    browser.reset()
    yield browser
    browser.reset()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when in ("setup", "call"):
        chromium = item.funcargs.get("driver") if hasattr(item, "funcargs") else None
        if chromium is not None:
            path = keep_failure_screenshot(chromium, item.nodeid)
            if path is not None:
                report.sections.append(("browser", f"screenshot of the page at the failure: {path}"))
