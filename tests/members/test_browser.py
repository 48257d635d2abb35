"""A director downloads the period report as XLSX in a real browser; axe on the main pages."""

import time
from datetime import date

import pytest
from django.contrib.auth.models import Group
from openpyxl import load_workbook
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from opencity.accounts.models import User
from opencity.cities.access import DIRECTORS_GROUP
from tests.browser.fixtures import assert_accessible, sign_in
from tests.factories import PASSWORD, make_city, make_user
from tests.members.factories import adopt, make_event, make_member, make_product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def registry(db):
    lutsk = make_city(name_uk="Луцька", name_en="Lutska", slug="lutska")
    sambir = make_city(name_uk="Самбірська", name_en="Sambirska", slug="sambirska")
    make_member(lutsk, date(2015, 6, 12), founding=True, decided_by="founding")
    make_event(sambir, "candidate", date(2024, 2, 1))
    adopt(lutsk, make_product("Міський чат-бот", slug="chatbot"), date(2024, 3, 1))
    return lutsk


def _sign_in(browser, email):
    sign_in(browser, User.objects.get(email=email), PASSWORD, next_path="/reports/")
    assert browser.current_url.endswith("/reports/")


def _allow_downloads(browser, folder):
    try:
        browser.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)}
        )
    except Exception:  # older Chromium knows only the Page domain variant
        browser.execute_cdp_cmd(
            "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)}
        )


def _wait_for_file(folder, pattern, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.glob(pattern) if not p.name.endswith(".crdownload")]
        if done:
            return done[0]
        time.sleep(0.1)
    pytest.fail(f"no {pattern} downloaded into {folder}: {list(folder.iterdir())}")


def test_director_opens_the_period_report_and_downloads_the_xlsx(browser, registry, tmp_path):
    director = make_user(email="director@example.org", is_staff=True)
    director.groups.add(Group.objects.get_or_create(name=DIRECTORS_GROUP)[0])
    _sign_in(browser, "director@example.org")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Звіт за період").click()
    WebDriverWait(browser, 10).until(EC.url_contains("/reports/period/"))
    for field, value in (("id_date_from", "2024-01-01"), ("id_date_to", "2024-03-31")):
        # a date input takes typed digits in the locale's order; set the ISO value directly
        element = browser.find_element(By.ID, field)
        browser.execute_script("arguments[0].value = arguments[1];", element, value)
    browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    WebDriverWait(browser, 10).until(EC.url_contains("date_from=2024-01-01"))
    assert "Міський чат-бот" in browser.find_element(By.TAG_NAME, "main").text
    assert_accessible(browser)

    _allow_downloads(browser, tmp_path)
    browser.find_element(By.PARTIAL_LINK_TEXT, "XLSX").click()
    downloaded = _wait_for_file(tmp_path, "period_2024-01-01_2024-03-31*.xlsx")
    workbook = load_workbook(downloaded)
    introduced = list(workbook.worksheets[3].iter_rows(values_only=True))
    assert introduced[1][:3] == ("Луцька", "Волинська", "Міський чат-бот")


@pytest.mark.parametrize("path", ["/cities/", "/cities/lutska/", "/cities/e-services/"])
def test_public_member_pages_are_accessible(browser, registry, path):
    browser.get(browser.base_url + path)
    assert browser.find_element(By.TAG_NAME, "h1").text
    assert_accessible(browser)


def test_report_page_is_accessible_and_fits_a_phone(browser, registry):
    director = make_user(email="director2@example.org", is_staff=True)
    director.groups.add(Group.objects.get_or_create(name=DIRECTORS_GROUP)[0])
    _sign_in(browser, "director2@example.org")
    browser.get(browser.base_url + "/reports/membership/")
    assert browser.find_element(By.CSS_SELECTOR, "svg[role=img]")
    assert_accessible(browser)
    browser.set_window_size(360, 740)
    smallest = browser.execute_script(
        """return Math.min(...[...document.querySelectorAll('svg.chart text')].map(
             t => t.getScreenCTM().a * parseFloat(getComputedStyle(t).fontSize)))"""
    )
    assert smallest >= 12, f"chart labels are {smallest:.1f} px on a phone"
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 360  # the chart scrolls inside its own box, not the page
    browser.set_window_size(360, 740)
    browser.get(browser.base_url + "/cities/lutska/")
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 360
