"""The consoles in a real browser (Selenium, Debian's headless Chromium): each role signs in through the
admin's login form, opens its console, sees its figures and charts drawn by the vendored Chart.js, is
refused the other role's console, and decides a flag with one click; no page breaks a rule of the CSP.
Screenshots: var/screenshots/."""

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from payments.services.payouts import payout_batch_create
from quality.models import Flag
from tests.conftest import PASSWORD, ROOT, make_user
from tests.payments.factories import connect, credit, make_project
from tests.readme_screenshots import readme_shot

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
    assert money.find_element(By.CLASS_NAME, "in_transit").text == "1.20 USD"
    batches = browser.find_element(By.ID, "batches").text
    assert "waiting for a second finance user" in batches
    assert charts_drawn(browser)
    shot(browser, "finance-console")
    readme_shot(browser, "finance-console")  # README.md's (make screenshots)
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


def fill(driver, name: str, value: str):
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.NAME, name)
    box.clear()
    box.send_keys(value)


def test_finance_creates_a_batch_from_a_preview_and_a_bonus(browser, live_server, transactional_db, settings):
    """Issue 30 item 11: no batch or bonus could be made in the console, and the admin's add page for
    adjustments answered raw JSON."""
    from selenium.webdriver.common.by import By

    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    finance = make_user("finance-batch@example.com", groups=("finance",))
    rich, poor = make_user("rich-browser@example.com"), make_user("poor-browser@example.com")
    credit(rich, n=4, reward_cents=2510)
    credit(poor, n=1, reward_cents=500)
    connect(rich)
    connect(poor)

    sign_in(browser, live_server.url, finance.email)
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Finance console"))
    click_and_wait(browser, browser.find_element(By.ID, "new-batch"))
    fill(browser, "minimum", "10.00")
    click_and_wait(browser, browser.find_element(By.ID, "batch-preview"))
    preview = browser.find_element(By.ID, "preview").text
    assert "rich-browser@example.com" in preview and "100.40 USD" in preview
    assert "poor-browser@example.com" not in preview  # 5.00 USD is below the minimum
    assert browser.find_element(By.ID, "preview-total").text == "100.40 USD"
    shot(browser, "finance-batch-preview")
    click_and_wait(browser, browser.find_element(By.ID, "batch-create"))
    assert "created: 1 worker(s), 100.40 USD" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    from payments.models import LedgerAdjustment, PayoutBatch

    batch = PayoutBatch.objects.get()
    assert list(batch.lines.values_list("worker_id", "amount_cents")) == [(rich.pk, 10040)]

    click_and_wait(browser, browser.find_element(By.ID, "new-adjustment"))
    fill(browser, "worker", poor.email)
    fill(browser, "amount", "2.50")
    fill(browser, "memo", "Thanks for the careful work")
    click_and_wait(browser, browser.find_element(By.ID, "adjustment-submit"))
    assert "Bonus of 2.50 USD for poor-browser@example.com posted" in browser.find_element(
        By.CSS_SELECTOR, ".messagelist").text
    assert LedgerAdjustment.objects.get().amount_cents == 250

    browser.get(f"{live_server.url}/admin/payments/ledgeradjustment/add/")
    assert "permission_denied" not in browser.page_source
    assert "finance console" in browser.find_element(By.ID, "forbidden-reason").text
    click_and_wait(browser, browser.find_element(By.ID, "to-adjustment-form"))
    assert browser.current_url.endswith("/admin/finance/adjustments/new")


def test_finance_reads_every_pending_kind_and_approves_only_what_others_created(browser, live_server,
                                                                               transactional_db, settings):
    """Issue 30 item 12: "Pending" was held money only, in cents beside "5.00 USD", and the creator was
    offered Approve, refused only after clicking; no queue of what waits for me."""
    from selenium.webdriver.common.by import By

    from payments.services.adjustments import ledger_adjustment_create

    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    settings.PAYMENTS_ADJUSTMENT_APPROVAL_ABOVE_CENTS = 1000
    alice = make_user("alice-finance@example.com", groups=("finance",))
    bob = make_user("bob-finance@example.com", groups=("finance",))
    paid, fresh = make_user("paid-rater@example.com"), make_user("fresh-rater@example.com")
    credit(paid, n=4, reward_cents=2510)
    connect(paid)
    credit(fresh, n=3, reward_cents=125, cleared=False)  # a new worker's credits wait to be checked
    batch = payout_batch_create(actor_id=alice.pk, cutoff=timezone.now(), minimum_cents=1, currency="usd")
    bonus = ledger_adjustment_create(actor_id=bob.pk, worker_id=fresh.pk, amount_cents=5000, currency="usd",
                                     kind="bonus", memo="Launch week", reference="browser-bonus")
    assert bonus.status == "pending"

    sign_in(browser, live_server.url, alice.email)
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Finance console"))
    money = browser.find_element(By.CSS_SELECTOR, "#money tr[data-currency='usd']")
    assert money.find_element(By.CLASS_NAME, "awaiting_clearance").text == "3.75 USD"
    assert money.find_element(By.CLASS_NAME, "adjustments").text == "50.00 USD (1)"
    assert money.find_element(By.CLASS_NAME, "in_transit").text == "100.40 USD"
    page_text = browser.find_element(By.ID, "console-finance").text
    assert "10,040" not in page_text and "10040" not in page_text
    queue = browser.find_element(By.ID, "approval-queue")
    assert queue.find_elements(By.CSS_SELECTOR, f"tr[data-adjustment='{bonus.pk}'] button.approve")
    assert not queue.find_elements(By.CSS_SELECTOR, f"tr[data-batch='{batch.pk}']")  # alice's own batch
    mine = browser.find_element(By.ID, "mine-waiting").text
    assert f"Payout batch #{batch.pk}" in mine and "waiting for another finance user" in mine
    shot(browser, "finance-console-queues")
    click_and_wait(browser, queue.find_element(By.CSS_SELECTOR, f"tr[data-adjustment='{bonus.pk}'] button.approve"))
    assert "approved and posted" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    bonus.refresh_from_db()
    assert bonus.status == "posted" and bonus.decided_by == alice

    sign_in(browser, live_server.url, bob.email)
    browser.get(f"{live_server.url}/admin/finance/")
    row = browser.find_element(By.CSS_SELECTOR, f"#approval-queue tr[data-batch='{batch.pk}']")
    assert "100.40 USD" in row.text and alice.email in row.text
    click_and_wait(browser, row.find_element(By.CSS_SELECTOR, "button.approve"))
    batch.refresh_from_db()
    assert batch.status == "approved" and batch.approved_by == bob


def test_ops_reads_flags_in_sentences_opens_the_answers_and_dismisses_two_at_once(browser, live_server,
                                                                                  transactional_db, settings):
    """Issue 30 item 9: evidence was a raw dump, the worker an email without a link, no bulk decision,
    and the page 1351 px wide at 1280."""
    from selenium.webdriver.common.by import By

    from quality.services.flags import flag_raise

    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    ops = make_user("ops-flags@example.com", groups=("ops",))
    fast = {"rule": "fast", "level": "suspend", "message": "Median time per task is under 4 s.",
            "evidence": {"median_seconds": 1.2, "n_timed": 30, "floor": 4}}
    flags = []
    for name in ("first", "second", "third"):
        worker = make_user(f"{name}-a-rather-long-address-for-a-rater@example.com")
        project = make_project(reward_cents=40)
        credit(worker, n=3, project=project)
        flags.append(flag_raise(worker_id=worker.pk, project_id=project.pk, findings=[fast], n_judgments=30))

    browser.set_window_size(1280, 1400)
    sign_in(browser, live_server.url, ops.email)
    browser.get(f"{live_server.url}/admin/ops/")
    table = browser.find_element(By.ID, "flags").text
    assert "Median 1.2 s per task over 30 timed judgments (the floor is 4 s)." in table
    assert "Earnings held: 1.20 USD." in table and "Suspended from all work on the platform." in table
    for raw in ("[{", "'rule'", "requeued_judgment_ids", "True"):
        assert raw not in table, raw
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 1280, width
    shot(browser, "ops-console-flags-1280")

    row = browser.find_element(By.CSS_SELECTOR, f"tr[data-flag='{flags[0].pk}']")
    click_and_wait(browser, row.find_element(By.CSS_SELECTOR, "a.answers"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#judgments tbody tr[data-judgment]")) == 3
    assert flags[0].worker.email in browser.find_element(By.TAG_NAME, "h2").text
    browser.back()

    for flag in flags[:2]:
        browser.find_element(By.CSS_SELECTOR, f"tr[data-flag='{flag.pk}'] input[type=checkbox]").click()
    browser.find_element(By.ID, "bulk-note").send_keys("same bot, both dismissed")
    click_and_wait(browser, browser.find_element(By.ID, "bulk-dismiss"))
    assert "2 flags dismissed" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    statuses = []
    for flag in flags:
        flag.refresh_from_db()
        statuses.append(flag.status)
    assert statuses == ["dismissed", "dismissed", "open"]
    assert flags[0].note == "same bot, both dismissed"


def test_ops_sees_which_project_is_behind_and_reads_pay_in_units(browser, live_server, transactional_db, settings):
    """Issue 30 item 10: nothing marked a project as behind, pay read "581,853 usd cents cleared", chart
    labels were clipped and one outlier flattened the pay chart."""
    from selenium.webdriver.common.by import By

    from tasks.models import Judgment, Task

    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    settings.PAY_HOURLY_MIN_JUDGMENTS = 3
    settings.PAY_FLOOR_HOURLY_CENTS = 1000
    ops = make_user("ops-eta@example.com", groups=("ops",))
    stalled = make_project(reward_cents=40)
    stalled.name = "Stalled code review of the payments module, second pass"
    stalled.save(update_fields=["name"])
    for i in range(4):
        Task.objects.create(project=stalled, external_id=f"idle-{i}", data={"content": "x"}, overlap=3)
    steady, bot = make_project(reward_cents=40), make_project(reward_cents=40)
    for project, name in ((steady, "Python completions, pairwise round 2"), (bot, "Flag bugs in shell one-liners")):
        project.name = name
        project.save(update_fields=["name"])
    for project, seconds, email in ((steady, 12.0, "steady@example.com"), (bot, 0.25, "bot@example.com")):
        worker = make_user(email)
        credit(worker, n=3, project=project, reward_cents=40)
        Judgment.objects.filter(worker=worker).update(seconds_spent=seconds)

    # Issue 30 item 10, deadlines: like the steady project, three days of work left at its pace; due tomorrow.
    late = make_project(reward_cents=40)
    late.name = "SQL explanations, due tomorrow"
    late.deadline = timezone.now() + timedelta(days=1, hours=2)
    late.save(update_fields=["name", "deadline"])
    credit(make_user("late@example.com"), n=3, project=late, reward_cents=40)
    Judgment.objects.filter(project=late).update(seconds_spent=12.0)

    sign_in(browser, live_server.url, ops.email)
    browser.get(f"{live_server.url}/admin/ops/")
    rows = browser.find_elements(By.CSS_SELECTOR, "#projects tbody tr")
    assert rows[0].get_attribute("data-project") == str(stalled.pk)
    assert rows[0].find_element(By.CLASS_NAME, "outlook").text.startswith("stalled: no judgment in 24 h")
    assert rows[1].get_attribute("data-project") == str(late.pk)  # late comes right after stalled
    outlook = rows[1].find_element(By.CLASS_NAME, "outlook").text
    assert outlook.startswith("late: about 3.0 days left"), outlook
    assert "the deadline is 1 day, 1 hour from now (" in outlook, outlook
    steady_row = browser.find_element(By.CSS_SELECTOR, f"#projects tr[data-project='{steady.pk}']")
    assert "on track: about 3.0 days left" in steady_row.find_element(By.CLASS_NAME, "outlook").text
    bot_row = browser.find_element(By.CSS_SELECTOR, f"#projects tr[data-project='{bot.pk}']")
    assert bot_row.find_element(By.CLASS_NAME, "hourly").text == "5,760.00 USD cleared"
    assert "cents" not in browser.find_element(By.ID, "projects").text
    assert f"{bot.name} at 5,760.00 USD an hour" in browser.find_element(By.ID, "pay-outliers").text
    assert charts_drawn(browser)
    pay = browser.execute_script("""
        var chart = Chart.getChart(document.getElementById('chart-pay'));
        return {max: chart.scales.x.max, data: chart.data.datasets[0].data};""")
    assert pay["max"] == 180  # 1.5 x the steady project's 120.00 USD, not 5,760
    shot(browser, "ops-console-outlook")
    for canvas in ("chart-pay", "chart-throughput"):
        fit = browser.execute_script("""
            var chart = Chart.getChart(document.getElementById(arguments[0])), y = chart.scales.y;
            chart.ctx.save(); chart.ctx.font = Chart.helpers.toFont(y.options.ticks.font).string;
            var lines = [].concat.apply([], y.ticks.map(function (t) { return [].concat(t.label); }));
            var widest = Math.max.apply(null, lines.map(function (l) { return chart.ctx.measureText(l).width; }));
            chart.ctx.restore();
            return {labels: y.ticks.map(function (t) { return [].concat(t.label).join(" "); }), widest: widest,
                    room: y.width, left: y.left};""", canvas)
        assert sorted(fit["labels"]) == sorted([stalled.name, late.name, steady.name, bot.name]), fit  # every tick, whole
        assert fit["left"] >= 0 and fit["widest"] <= fit["room"], fit  # and every line fits beside the bars
    readme_shot(browser, "ops-console")  # README.md's (make screenshots), after the charts' checks
