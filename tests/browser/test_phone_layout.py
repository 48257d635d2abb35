"""What a resident sees on a 360 px phone: a compact header whose menu works without
JavaScript, the first card above the fold, forms laid out as people expect, tap targets of
at least 24 × 24 px (WCAG 2.5.8)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.browser.fixtures import assert_accessible, sign_in
from tests.factories import make_city, make_user
from tests.petitions.factories import make_petition, make_rules

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = (360, 740)
# Screenshots for people to look at; OPENCITY_SCREENSHOTS=<dir> keeps them.
SHOTS = os.environ.get("OPENCITY_SCREENSHOTS")

SMALL_TARGETS_JS = """
const selector = arguments[0];
return [...document.querySelectorAll(selector)]
  .filter(el => el.offsetParent !== null || el.getClientRects().length)
  .map(el => {
    let box = el.getBoundingClientRect();
    // A checkbox or radio counts together with its label, which also toggles it.
    const label = el.id && document.querySelector(`label[for="${el.id}"]`);
    if (label && (el.type === 'checkbox' || el.type === 'radio')) {
      const l = label.getBoundingClientRect();
      box = {width: Math.max(box.right, l.right) - Math.min(box.left, l.left),
             height: Math.max(box.height, l.height)};
    }
    return {what: el.outerHTML.slice(0, 90), width: box.width, height: box.height};
  })
  .filter(t => t.width < 24 || t.height < 24);
"""
TARGETS = (
    "header a, header button, header summary, main form a, main form button, "
    "main form input:not([type=hidden]), main form select, main form textarea, "
    "main .helptext a, main .share-links a, main .btn"
)


def _phone(browser):
    browser.set_window_size(*PHONE)
    return browser.execute_script("return window.innerHeight")


def _save(browser, name: str, tmp_path: Path) -> None:
    directory = Path(SHOTS) if SHOTS else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(directory / f"{name}-360.png"))


def _header_height(browser) -> float:
    return browser.execute_script(
        "return document.querySelector('.site-header').getBoundingClientRect().height"
    )


def _top(browser, selector: str) -> float:
    return browser.execute_script(
        "return document.querySelector(arguments[0]).getBoundingClientRect().top", selector
    )


def test_home_and_petition_fit_a_phone_with_a_compact_header(browser, tmp_path):
    city = make_city(name_uk="Луцька", name_en="Lutska", slug="lutska")
    make_rules(city, threshold=300)
    petition = make_petition(city, threshold=300)
    fold = _phone(browser)

    browser.get(browser.base_url + "/")
    _save(browser, "home", tmp_path)
    assert _header_height(browser) <= 100
    assert _top(browser, "main .card") < fold, "the first card is below the fold"
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]

    browser.get(browser.base_url + petition.get_absolute_url())
    _save(browser, "petition", tmp_path)
    assert _header_height(browser) <= 100
    assert _top(browser, ".petition-facts") < fold
    assert _top(browser, ".petition-jump .btn") < fold, "the sign button is below the fold"
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
    # No divider lines under the share links.
    borders = browser.execute_script(
        "return [...document.querySelectorAll('.share-links li')]"
        ".map(li => getComputedStyle(li).borderBottomWidth)"
    )
    assert borders and set(borders) == {"0px"}
    assert browser.execute_script(SMALL_TARGETS_JS, TARGETS) == []
    assert_accessible(browser)


def test_phone_menu_opens_without_javascript(browser):
    _phone(browser)
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        browser.get(browser.base_url + "/")
        petitions_link = browser.find_element(By.CSS_SELECTOR, ".main-nav a[href='/petitions/']")
        assert not petitions_link.is_displayed()
        browser.find_element(By.CSS_SELECTOR, ".site-menu > summary").click()
        assert petitions_link.is_displayed()
        assert browser.find_element(By.CSS_SELECTOR, ".account-nav a").is_displayed()
        assert browser.execute_script(SMALL_TARGETS_JS, "header a, header button, summary") == []
        petitions_link.click()
        assert browser.current_url.endswith("/petitions/")
    finally:
        browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})


def _really_visible(browser, selector: str) -> bool:
    """Drawn where a click lands (Selenium's is_displayed calls closed <details> hidden)."""
    return browser.execute_script(
        "const el = document.querySelector(arguments[0]); const r = el.getBoundingClientRect();"
        "return r.width > 0 && document.elementFromPoint(r.left + 2, r.top + 2) === el;",
        selector,
    )


@pytest.mark.parametrize("javascript", [True, False])
def test_desktop_shows_the_menu_without_a_button(browser, javascript):
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": not javascript})
    try:
        browser.get(browser.base_url + "/")
        assert _really_visible(browser, ".main-nav a[href='/petitions/']")
        assert _really_visible(browser, ".account-nav a")
        assert not browser.find_element(By.CSS_SELECTOR, ".site-menu > summary").is_displayed()
        assert _header_height(browser) <= 100
    finally:
        browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})


def test_forms_put_checkboxes_first_and_help_text_after_the_field(browser):
    _phone(browser)
    browser.get(browser.base_url + "/accounts/login/")
    box = browser.find_element(By.CSS_SELECTOR, "main input[type=checkbox]")
    label = browser.find_element(By.CSS_SELECTOR, f"label[for='{box.get_attribute('id')}']")
    assert box.location["x"] < label.location["x"]
    assert abs(box.location["y"] - label.location["y"]) < 16  # on one line
    assert not label.text.rstrip().endswith(":")
    password = browser.find_element(By.ID, "id_password")
    help_id = password.get_attribute("aria-describedby")
    assert help_id
    help_text = browser.find_element(By.ID, help_id)
    assert help_text.location["y"] > password.location["y"], "help text must follow the input"
    assert browser.execute_script(SMALL_TARGETS_JS, TARGETS) == []
    assert_accessible(browser)


def test_signed_in_form_pages_have_large_enough_tap_targets(browser):
    city = make_city(name_uk="Луцька", name_en="Lutska", slug="lutska")
    make_rules(city)
    user = make_user(full_name="Олена Мешканка", home_city=city)
    sign_in(browser, user)
    _phone(browser)
    for path in ("/petitions/new/", "/accounts/profile/", f"/petitions/{make_petition(city).pk}/"):
        browser.get(browser.base_url + path)
        assert _header_height(browser) <= 100, path
        assert browser.execute_script(SMALL_TARGETS_JS, TARGETS) == [], path
