"""Driving the web app in headless Chromium (no tests here): start the browser, sign in, press keys, wait
for htmx swaps, and check a page: axe-core (vendored, no critical violation), screenshots at desktop
(1280x900) and phone (390x844) width under var/screenshots/webapp/, and no sideways scrolling on a phone."""

import json
import os
import re
import shutil
from pathlib import Path

from tests.conftest import PASSWORD, ROOT

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
SHOTS = ROOT / "var" / "screenshots" / "webapp"
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
DESKTOP = (1280, 900)
PHONE = (390, 844)
WAIT = 20  # seconds: a generous bound on a page load or an htmx swap on a busy 2-core machine


def browsers_missing() -> str | None:
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER))
               if not Path(path).exists()]
    return " and ".join(missing) or None


def start_chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={DESKTOP[0]},{DESKTOP[1]}", "--lang=en-US", "--disable-extensions"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP refusals land in the console log
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver


def keep_failure_screenshot(driver, nodeid: str) -> Path | None:
    """The page a failing test was on, kept as var/screenshots/webapp/failed/<test id>.png."""
    module, _, test = nodeid.partition("::")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{Path(module).name}_{test}").strip("_")[:150]
    path = SHOTS / "failed" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _metrics(driver, DESKTOP, mobile=False)
        driver.save_screenshot(str(path))
    except Exception:  # noqa: BLE001 - the browser itself may be what failed; the report says so then
        return None
    return path


def _metrics(driver, size: tuple[int, int], *, mobile: bool) -> None:
    """The viewport exactly (not the window, whose chrome differs between headless versions)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": mobile})


def full_page_screenshot(driver, path: Path) -> None:
    """The whole page at the viewport's width (down to 6000 px), not only its first screen."""
    import base64

    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 6000), "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))


def gone(element) -> bool:
    """The element left the document (its page was replaced, or htmx swapped it out). Chromium sometimes
    answers a check on a node of the page being replaced with an inspector error instead of "stale"."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc) or "No node with given id" in str(exc):
            return True
        raise
    return False


_AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ["violations"]}).then(
  r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))}))),
  e => done({error: String(e)}));
"""


class Browser:
    """The session's Chromium, for one test against one live server."""

    axe_source = None
    violations: dict[str, list] = {}  # page name -> axe violations of any impact (written to axe.json)

    def __init__(self, driver, base_url: str):
        self.driver = driver
        self.base = base_url

    # -- navigation -------------------------------------------------------------------------------------
    def reset(self):
        """One tab, no cookies, desktop size: what the next test starts from."""
        handles = self.driver.window_handles
        for handle in handles[1:]:
            self.driver.switch_to.window(handle)
            self.driver.close()
        self.driver.switch_to.window(handles[0])
        self.driver.delete_all_cookies()
        _metrics(self.driver, DESKTOP, mobile=False)

    def open(self, path: str):
        self.driver.get(self.base + path)
        self.loaded()
        return self

    def loaded(self):
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, WAIT).until(lambda d: d.execute_script("return document.readyState") == "complete")
        # Issue 31: every page a browser test opens keeps to the CSP (no inline script or style, nothing from
        # elsewhere); Chromium logs each refusal to the console.
        refused = [e["message"] for e in self.driver.get_log("browser") if "Content Security Policy" in e["message"]]
        assert not refused, refused

    @property
    def path(self) -> str:
        return self.driver.current_url[len(self.base):]

    def find(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str = "main") -> str:
        return self.find(css).text

    def click_and_wait(self, element):
        """Click, and wait for the page it was on to go away and the next one to load."""
        element.click()
        self.wait_for(lambda: gone(element), "the next page")
        self.loaded()

    def submit_form(self, css: str):
        """Submits the form holding the element (its submit button), waiting for the next page."""
        self.click_and_wait(self.find(css))

    def fill(self, name: str, value: str):
        field = self.find(f"[name='{name}']")
        field.clear()
        field.send_keys(value)
        return field

    def press(self, *keys):
        """Keys as a person types them, to whatever has the focus (the page's own keyboard handler)."""
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(self.driver).send_keys(*keys).perform()

    def wait_for(self, predicate, message: str = "the page"):
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, WAIT, poll_frequency=0.05).until(lambda d: predicate(), message=message)

    def wait_swap(self, old_task_element, message: str = "the next task"):
        """An htmx swap replaced #task (the element we held is gone, a new #task is there)."""
        self.wait_for(lambda: gone(old_task_element), message)
        self.wait_for(lambda: self.find_all("#task"), message)
        self.wait_for(lambda: self.driver.execute_script(
            "return !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')"), "htmx to settle")

    # -- people -----------------------------------------------------------------------------------------
    def sign_in(self, email: str, password: str = PASSWORD):
        self.driver.delete_all_cookies()
        self.open("/accounts/login/")
        self.fill("login", email)
        self.fill("password", password)
        self.submit_form("main form button[type=submit]")
        return self

    # -- checks -----------------------------------------------------------------------------------------
    def check_page(self, name: str, *, axe: bool = True):
        """axe-core finds no critical violation; screenshots at desktop and phone width; on a phone the page
        does not scroll sideways (wide code scrolls inside its own box)."""
        _metrics(self.driver, DESKTOP, mobile=False)
        if axe:
            found = self.axe()
            Browser.violations[name] = found
            critical = [v for v in found if v["impact"] == "critical"]
            assert not critical, f"{name}: critical accessibility violations: {json.dumps(critical, indent=1)}"
        SHOTS.mkdir(parents=True, exist_ok=True)
        full_page_screenshot(self.driver, SHOTS / f"{name}-desktop.png")
        _metrics(self.driver, PHONE, mobile=True)
        try:
            overflow = self.driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            full_page_screenshot(self.driver, SHOTS / f"{name}-phone.png")
            assert overflow <= 1, f"{name}: the page scrolls sideways by {overflow}px on a phone ({PHONE[0]}px)"
        finally:
            _metrics(self.driver, DESKTOP, mobile=False)
        (SHOTS / "axe.json").write_text(json.dumps(Browser.violations, indent=1, sort_keys=True))

    def axe(self) -> list[dict]:
        if Browser.axe_source is None:
            Browser.axe_source = AXE.read_text()
        if not self.driver.execute_script("return typeof window.axe === 'object'"):
            self.driver.execute_script(Browser.axe_source)
        found = self.driver.execute_async_script(_AXE_RUN)
        assert not (isinstance(found, dict) and "error" in found), found
        return found
