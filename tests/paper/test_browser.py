"""In headless Chromium at desktop width: a clerk opens a batch with its scan, enters lines
(a duplicate refused on its line), a second clerk confirms; axe finds no serious violation
on the service centre's pages."""

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from opencity.cities.models import StaffRole
from paper.models import Batch, Line
from tests.browser.fixtures import axe_violations, sign_in, wait_for
from tests.factories import make_city, make_clerk
from tests.paper.factories import PDF, rnokpp
from tests.petitions.factories import make_petition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def accessible_at_desktop(browser):
    browser.set_window_size(1280, 900)
    assert axe_violations(browser) == [], browser.current_url


def test_a_clerk_enters_a_batch_and_a_second_clerk_confirms_it(browser, tmp_path, monkeypatch):
    from opencity.cities import conf

    monkeypatch.setattr(conf, "PRIVATE_FILES_ROOT", tmp_path / "private")
    city = make_city(name_uk="Луцька", name_en="Lutska", slug="lutska")
    petition = make_petition(city, threshold=10, title="Освітлити сквер біля бібліотеки")
    clerk = make_clerk(city, StaffRole.Role.SERVICE_CLERK, full_name="Оксана Операторка")
    second = make_clerk(city, StaffRole.Role.SERVICE_CLERK, full_name="Петро Перевіряльник")
    sheets = tmp_path / "sheets.pdf"
    sheets.write_bytes(PDF)

    sign_in(browser, clerk, next_path="/admin/")
    browser.get(browser.base_url + "/admin/paper/batch/open/")
    accessible_at_desktop(browser)
    Select(browser.find_element(By.ID, "id_subject")).select_by_value(f"p{petition.pk}")
    browser.find_element(By.ID, "id_place").send_keys("ЦНАП, вул. Винниченка, 8")
    date_input = browser.find_element(By.ID, "id_collected_on")
    browser.execute_script(
        "arguments[0].value = arguments[1]",
        date_input,
        timezone.localdate(petition.published_at).isoformat(),
    )
    browser.find_element(By.ID, "id_scan").send_keys(str(sheets))
    browser.find_element(By.CSS_SELECTOR, "#content-main input[type=submit]").click()
    wait_for(browser, EC.presence_of_element_located((By.ID, "line-form")))
    batch = Batch.objects.get()
    accessible_at_desktop(browser)

    number = rnokpp()
    for name in ("Ганна Мельник", "Ганна Мельник (двічі)"):
        browser.find_element(By.ID, "id_full_name").send_keys(name)
        browser.find_element(By.ID, "id_id_number").send_keys(number)
        browser.find_element(By.ID, "id_address").send_keys("м. Луцьк, вул. Шевченка, 5")
        entered = browser.find_element(By.ID, "line-form")
        browser.find_element(By.CSS_SELECTOR, "form[action$='/line/'] input[type=submit]").click()
        wait_for(browser, EC.staleness_of(entered))  # the next page, not the one just sent
        wait_for(browser, EC.presence_of_element_located((By.ID, "line-form")))
    # the second entry of the same person: refused on its line, the typed name kept
    error = browser.find_element(By.CSS_SELECTOR, ".errorlist")
    assert "на папері" in error.text or "on paper" in error.text
    assert browser.find_element(By.ID, "id_full_name").get_attribute("value") == (
        "Ганна Мельник (двічі)"
    )
    accessible_at_desktop(browser)
    assert Line.objects.filter(batch=batch).count() == 1

    sign_in(browser, second, next_path="/admin/")
    browser.get(f"{browser.base_url}/admin/paper/batch/{batch.pk}/change/")
    confirm = browser.find_element(By.CSS_SELECTOR, "form[action$='/confirm/'] input[type=submit]")
    confirm.click()
    wait_for(browser, EC.staleness_of(confirm))
    wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))
    accessible_at_desktop(browser)
    batch.refresh_from_db()
    assert batch.status == Batch.Status.CONFIRMED
