"""The consoles in a real browser (Selenium, Debian's headless Chromium): each role signs in through the
admin's login form, opens its console, sees its figures and charts drawn by the vendored Chart.js, is
refused the other role's console, and decides a flag with one click; no page breaks a rule of the CSP.
Screenshots: var/screenshots/."""

import shutil
from pathlib import Path

import pytest
from django.utils import timezone

from payments.services.payouts import payout_batch_create
from quality.models import Flag
from tests.conftest import PASSWORD, ROOT, make_user
from tests.payments.factories import connect, credit, make_project

# PostgreSQL: the live server needs transactional_db, whose flush SQLite refuses (append-only ledger triggers).
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.postgres]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SHOTS = ROOT / "var" / "screenshots"


@pytest.fixture(autouse=True)
def _fresh_rollups():
    """The snapshots live in the cache, which outlives a test's database: start each test without them."""
    from django.core.cache import cache

    from marketplace.observability import gauges

    cache.delete_many([gauges.PROJECT_SNAPSHOT_KEY, gauges.THROUGHPUT_KEY])
    yield
    cache.delete_many([gauges.PROJECT_SNAPSHOT_KEY, gauges.THROUGHPUT_KEY])


@pytest.fixture
def browser():
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("needs chromium and chromium-driver (apt-get install -y chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1600"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP refusals land in the console log
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def world(transactional_db, settings):
    # The live server speaks plain http: cookies must not be Secure-only there.
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    ops = make_user("ops-browser@example.com", groups=("ops",))
    finance = make_user("finance-browser@example.com", groups=("finance",))
    worker = make_user("rater-browser@example.com")
    project = make_project(reward_cents=40)
    credit(worker, n=3, project=project)
    flag = Flag.objects.create(worker=worker, project=project, rule="too_fast", evidence={"median_seconds": 1.5})
    connect(worker)
    payout_batch_create(actor_id=finance.pk, cutoff=timezone.now(), minimum_cents=1, currency="usd")
    return {"ops": ops, "finance": finance, "flag": flag, "project": project}


def click_and_wait(driver, element):
    """Clicks and waits for the page it was on to go away (the next page has loaded), so the next lookup
    never finds an element of the old page."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    element.click()
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(element))
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def sign_in(driver, base: str, email: str):
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{base}/admin/")  # the admin sends a signed-out browser to allauth's login form
    driver.find_element(By.NAME, "login").send_keys(email)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form button[type=submit], form input[type=submit]"))
    assert "Site administration" in driver.page_source, driver.page_source[:2000]


def shot(driver, name: str):
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    return path


def charts_drawn(driver) -> bool:
    return driver.execute_script("return document.documentElement.getAttribute('data-charts')") == "drawn"


def test_ops_sees_its_console_decides_a_flag_and_not_finances(browser, live_server, world):
    from selenium.webdriver.common.by import By

    sign_in(browser, live_server.url, world["ops"].email)
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Ops console"))
    assert browser.current_url.endswith("/admin/ops/")
    assert world["project"].name in browser.find_element(By.ID, "projects").text
    assert "too_fast" in browser.find_element(By.ID, "flags").text
    assert charts_drawn(browser)
    assert browser.find_element(By.ID, "chart-throughput").size["height"] > 50
    shot(browser, "ops-console")

    row = browser.find_element(By.CSS_SELECTOR, f"tr[data-flag='{world['flag'].pk}']")
    row.find_element(By.NAME, "note").send_keys("seen in the browser")
    click_and_wait(browser, row.find_element(By.CSS_SELECTOR, "button.dismiss"))
    assert "dismissed" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    world["flag"].refresh_from_db()
    assert world["flag"].status == "dismissed" and world["flag"].note == "seen in the browser"
    shot(browser, "ops-console-after-dismiss")

    browser.get(f"{live_server.url}/admin/finance/")
    assert "Finance console" not in browser.page_source
    shot(browser, "ops-refused-finance-console")


def test_finance_sees_its_console_and_not_ops(browser, live_server, world):
    from selenium.webdriver.common.by import By

    sign_in(browser, live_server.url, world["finance"].email)
    assert "Ops console" not in browser.page_source
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Finance console"))
    money = browser.find_element(By.CSS_SELECTOR, "#money tr[data-currency='usd']")
    assert money.find_element(By.CLASS_NAME, "in_transit").text == "120"
    batches = browser.find_element(By.ID, "batches").text
    assert "waiting for a second finance user" in batches
    assert charts_drawn(browser)
    shot(browser, "finance-console")
    click_and_wait(browser, browser.find_element(By.ID, "run-reconciliation"))
    assert "Ledger and Stripe agree" in browser.find_element(By.ID, "mismatches").text
    shot(browser, "finance-console-reconciled")

    browser.get(f"{live_server.url}/admin/ops/")
    assert "Ops console" not in browser.page_source
    shot(browser, "finance-refused-ops-console")


def csp_violations(driver) -> list[str]:
    """What Chromium refused under the page's policy (it logs each refusal to the console)."""
    return [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]


def test_the_admin_the_consoles_and_the_sign_in_page_break_no_rule_of_the_csp(browser, live_server, world):
    """Issue 31: style-src 'self' (no inline style) and script-src 'self' hold in a real browser: the admin's
    own pages and widgets, both consoles with their charts and progress bars, allauth's sign-in page."""
    root = make_user("root-browser@example.com")
    type(root).objects.filter(pk=root.pk).update(is_staff=True, is_superuser=True)
    browser.get(f"{live_server.url}/accounts/login/")
    assert not csp_violations(browser)
    sign_in(browser, live_server.url, root.email)
    pages = ["/admin/", "/admin/tasks/project/", f"/admin/tasks/project/{world['project'].pk}/change/",
             "/admin/workers/workerprofile/", "/admin/quality/flag/", "/admin/payments/payoutbatch/",
             "/admin/ops/", "/admin/finance/"]
    for path in pages:
        browser.get(f"{live_server.url}{path}")
        assert 'id="content"' in browser.page_source and "Server Error" not in browser.page_source, path
        assert not csp_violations(browser), path
    browser.get(f"{live_server.url}/admin/ops/")
    assert charts_drawn(browser)
