"""Headless system Chromium through Selenium, and an axe-core accessibility check."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.browser.html_validation import _html_checker, html_of_visited_pages_is_valid  # noqa: F401

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--window-size=1280,900",
    "--lang=uk",
)


def _chromium_binary() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("system Chromium is missing: bin/test installs it with apt-get")


@pytest.fixture(scope="session")
def _driver(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _chromium_binary()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_experimental_option("prefs", {"intl.accept_languages": "uk,uk-UA"})
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.implicitly_wait(0)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def browser(_driver, live_server, html_of_visited_pages_is_valid):  # noqa: F811
    """A clean browser session (no cookies) pointed at the live server; every HTML page it is
    served must pass the Nu Html Checker (tests/browser/html_validation.py)."""
    _driver.delete_all_cookies()
    _driver.base_url = live_server.url
    _driver.set_window_size(1280, 900)
    yield _driver
    _driver.delete_all_cookies()


def wait_for(browser, condition, timeout: float = 20):
    # A page replaced mid-check raises a generic WebDriverException in Chromium: retry.
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout, ignored_exceptions=(WebDriverException,)).until(
        condition
    )


def sign_in(browser, user, password: str | None = None) -> None:
    """Log `user` in through the login form, in a fresh browser session."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC

    from tests.factories import PASSWORD

    browser.delete_all_cookies()
    browser.get(browser.base_url + "/accounts/login/")
    browser.find_element(By.ID, "id_login").send_keys(user.email)
    browser.find_element(By.ID, "id_password").send_keys(password or PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_for(
        browser,
        EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".account-nav"), user.get_short_name()),
    )


def axe_violations(driver, *, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core (WCAG 2.0/2.1 A and AA rules) on the current page."""
    driver.execute_script(AXE_JS.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
        axe.run(document, {runOnly: {type: 'tag', values: tags}})
          .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))))
          .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));
        """
    )
    return [v for v in result if v["impact"] in impacts]


def assert_accessible(driver):
    violations = axe_violations(driver)
    assert violations == [], f"accessibility violations on {driver.current_url}: {violations}"
