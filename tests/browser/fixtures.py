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
    """A clean browser session (no cookies) pointed at the live server.

    Every HTML page it is served must pass the Nu Html Checker
    (tests/browser/html_validation.py), and every page of the portal the test visits is
    checked for accessibility at a phone's and a desktop's width
    (`check_accessibility_at_phone_and_desktop`): before `browser.get` leaves it, and at the
    end of the test."""
    _driver.delete_all_cookies()
    _driver.base_url = live_server.url
    _driver.set_window_size(1280, 900)
    navigate = _driver.get

    def get(url):
        check_accessibility_at_phone_and_desktop(_driver)
        navigate(url)

    _driver.get = get
    try:
        yield _driver
        check_accessibility_at_phone_and_desktop(_driver)
    finally:
        _driver.get = navigate
        _driver.delete_all_cookies()


def wait_for(browser, condition, timeout: float = 20):
    # A page replaced mid-check raises a generic WebDriverException in Chromium: retry.
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout, ignored_exceptions=(WebDriverException,)).until(
        condition
    )


def sign_in(browser, user, password: str | None = None, next_path: str = "") -> None:
    """Log `user` in through the login form, in a fresh browser session. Staff get an
    authenticator app first and type its code at the second step, as a person would."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC

    from opencity.accounts.second_factor import must_use_second_factor
    from tests.factories import PASSWORD
    from tests.mfa import add_totp, totp_code

    secret = add_totp(user) if must_use_second_factor(user) else None
    browser.delete_all_cookies()
    query = f"?next={next_path}" if next_path else ""
    browser.get(browser.base_url + "/accounts/login/" + query)
    browser.find_element(By.ID, "id_login").send_keys(user.email)
    browser.find_element(By.ID, "id_password").send_keys(password or PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    if secret:
        wait_for(browser, EC.url_contains("/accounts/2fa/authenticate/"))
        browser.find_element(By.ID, "id_code").send_keys(totp_code(secret))
        browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
        wait_for(browser, lambda driver: "/accounts/2fa/" not in driver.current_url)
    if next_path:
        wait_for(browser, EC.url_contains(next_path))
        return
    # On a phone the account links sit in the folded menu: read the text, not what is shown.
    wait_for(
        browser,
        lambda driver: (
            user.get_short_name()
            in (
                driver.execute_script(
                    "const nav = document.querySelector('.account-nav');"
                    "return nav ? nav.textContent : '';"
                )
                or ""
            )
        ),
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


#: (width, height) of a small phone and of a desktop window
ACCESSIBILITY_WIDTHS = ((360, 740), (1280, 900))
#: Django admin's own pages are not the portal's markup; they are not checked automatically
UNCHECKED_PATHS = ("/admin/",)


def check_accessibility_at_phone_and_desktop(driver, *, force: bool = False) -> None:
    """axe-core on the current page at 360 px and at desktop width: no serious or critical
    violation. Each page (document) is checked once, unless `force`; the window size is
    restored afterwards."""
    from urllib.parse import urlsplit

    url = driver.current_url
    base = getattr(driver, "base_url", "")
    if not base or not url.startswith(base):
        return  # about:blank, downloads, other sites
    if urlsplit(url).path.startswith(UNCHECKED_PATHS) and not force:
        return
    if not force and driver.execute_script("return window.__openCityAxeChecked === true"):
        return
    size = driver.get_window_size()
    try:
        for width, height in ACCESSIBILITY_WIDTHS:
            driver.set_window_size(width, height)
            violations = axe_violations(driver)
            assert violations == [], (
                f"accessibility violations at {width} px on {driver.current_url}: {violations}"
            )
    finally:
        driver.set_window_size(size["width"], size["height"])
    driver.execute_script("window.__openCityAxeChecked = true")


def assert_accessible(driver):
    check_accessibility_at_phone_and_desktop(driver, force=True)
