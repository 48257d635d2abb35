"""Filing a problem report with a photo on a 360 px phone, in a real browser, with the map."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from problems.models import Report
from tests.browser.fixtures import assert_accessible, sign_in, wait_for
from tests.factories import make_city, make_user
from tests.problems.factories import jpeg_bytes, make_area, make_tree

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def setup(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    from opencity.cities import conf

    original = conf.PRIVATE_FILES_ROOT
    conf.PRIVATE_FILES_ROOT = tmp_path / "private"
    city = make_city(name_uk="Луцька", name_en="Lutska", slug="lutska")
    make_area(city)
    potholes = make_tree(city)[2]
    photo = tmp_path / "pothole.jpg"
    photo.write_bytes(jpeg_bytes((800, 600), gps=True))
    yield city, potholes, photo, make_user(full_name="Тарас Шевчук", home_city=city)
    conf.PRIVATE_FILES_ROOT = original


def _no_sideways_scroll(browser):
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 360, "the page must not scroll sideways on a phone"


def test_filing_a_report_with_a_photo_on_a_360px_phone(browser, setup):
    city, potholes, photo, citizen = setup
    sign_in(browser, citizen)
    browser.set_window_size(360, 740)
    browser.get(browser.base_url + f"/problems/city/{city.slug}/new/")
    # The map appears (JavaScript on) and the page passes the accessibility check.
    wait_for(browser, EC.visibility_of_element_located((By.ID, "problem-map")))
    _no_sideways_scroll(browser)
    assert_accessible(browser)

    Select(browser.find_element(By.ID, "id_category")).select_by_value(str(potholes.pk))
    browser.find_element(By.ID, "id_title").send_keys("Глибока яма біля зупинки")
    browser.find_element(By.ID, "id_description").send_keys("Колесо провалюється повністю.")
    the_map = browser.find_element(By.ID, "problem-map")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", the_map)
    the_map.click()  # marks the place: the map fills latitude and longitude
    wait_for(browser, lambda b: b.find_element(By.ID, "id_lat").get_attribute("value"))
    browser.find_element(By.ID, "id_photos").send_keys(str(photo))
    submit = browser.find_element(By.CSS_SELECTOR, "form.problem-form button[type=submit]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", submit)
    submit.click()

    wait_for(browser, EC.url_matches(r"/problems/\d+/$"))
    report = Report.objects.get()
    assert report.lat is not None and city.problem_area.contains(report.lat, report.lon)
    assert report.photos.count() == 1
    assert "Дякуємо, звернення подано" in browser.find_element(By.TAG_NAME, "main").text
    # The processed thumbnail (no camera data) is on the page once the task has run.
    browser.refresh()
    wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".problem-photos img")))
    _no_sideways_scroll(browser)
    assert_accessible(browser)


def test_the_list_and_map_are_accessible_on_a_phone(browser, setup):
    city, *_ = setup
    browser.set_window_size(360, 740)
    browser.get(browser.base_url + f"/problems/city/{city.slug}/")
    wait_for(browser, EC.visibility_of_element_located((By.ID, "problem-map")))
    _no_sideways_scroll(browser)
    assert_accessible(browser)
