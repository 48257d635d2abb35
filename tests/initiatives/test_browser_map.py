"""In headless Chromium at 360 px: an author proposes a project with a HEIC photo and marks
its place on the map; the project page shows the photo (as JPEG) and the place; the
programme page maps the projects above their list; axe checks each page."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from initiatives.models import Initiative, Programme
from tests.browser.fixtures import assert_accessible, sign_in, wait_for
from tests.factories import make_city
from tests.initiatives.factories import (
    make_category,
    make_initiative,
    make_programme,
    make_voter,
    stage_dates,
)
from tests.photo_files import heic_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    from opencity.cities import conf

    original = conf.PRIVATE_FILES_ROOT
    conf.PRIVATE_FILES_ROOT = tmp_path / "private"
    yield tmp_path
    conf.PRIVATE_FILES_ROOT = original


def _no_sideways_scroll(browser):
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 360, "the page must not scroll sideways on a phone"


def test_a_project_with_a_heic_photo_and_its_place_on_a_360px_phone(browser, media):
    city = make_city(name_uk="Луцька", name_en="Lutska", slug="lutska")
    programme = make_programme(city, stage="submission", title="Бюджет участі 2027")
    category = make_category(programme, name="Малі проєкти", budget="150000", max_cost="100000")
    make_initiative(
        programme, category, title="Нові лавки в парку", status=Initiative.Status.SUBMITTED,
        latitude="50.747233", longitude="25.325383",
    )  # fmt: skip
    photo = media / "IMG_0042.HEIC"
    photo.write_bytes(heic_bytes((1200, 900), gps=True))
    author = make_voter(city, full_name="Олена Авторка")

    sign_in(browser, author)
    browser.set_window_size(360, 740)
    browser.get(f"{browser.base_url}/initiatives/{programme.slug}/submit/")
    wait_for(browser, EC.visibility_of_element_located((By.ID, "project-map")))
    _no_sideways_scroll(browser)
    assert_accessible(browser)
    Select(browser.find_element(By.ID, "id_category")).select_by_value(str(category.pk))
    browser.find_element(By.ID, "id_title").send_keys("Сквер біля бібліотеки")
    browser.find_element(By.ID, "id_summary").send_keys("Лавки, ліхтарі та дерева.")
    browser.find_element(By.ID, "id_description").send_keys("Облаштуємо сквер для читачів.")
    browser.find_element(By.ID, "id_address").send_keys("вул. Винниченка, 1")
    the_map = browser.find_element(By.ID, "project-map")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", the_map)
    the_map.click()  # marks the place: the map fills latitude and longitude
    wait_for(browser, lambda b: b.find_element(By.ID, "id_latitude").get_attribute("value"))
    browser.find_element(By.ID, "id_photos").send_keys(str(photo))
    browser.find_element(By.ID, "id_lines-0-description").send_keys("Лавки")
    browser.find_element(By.ID, "id_lines-0-amount").send_keys("40000")
    submit = browser.find_element(By.CSS_SELECTOR, "form.stack-form button[type=submit]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", submit)
    submit.click()

    wait_for(browser, EC.url_matches(r"/initiatives/[^/]+/\d+/$"))
    initiative = Initiative.objects.get(title="Сквер біля бібліотеки")
    assert initiative.latitude is not None
    assert initiative.photos.count() == 1
    browser.refresh()
    wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".project-photos img")))
    thumb = browser.find_element(By.CSS_SELECTOR, ".project-photos img").get_attribute("src")
    assert thumb.endswith(".jpg"), "the HEIC photo is published as JPEG"
    wait_for(browser, EC.visibility_of_element_located((By.ID, "project-map")))
    _no_sideways_scroll(browser)
    assert_accessible(browser)

    Programme.objects.filter(pk=programme.pk).update(**stage_dates("review"))
    browser.get(browser.base_url + programme.get_absolute_url())
    wait_for(browser, EC.visibility_of_element_located((By.ID, "project-map")))
    markers = browser.find_elements(By.CSS_SELECTOR, "#project-map .leaflet-marker-icon")
    assert markers, "the placed projects are on the map"
    items = browser.find_elements(By.CSS_SELECTOR, ".project-list li")
    assert len(items) == 2, "the list is the accessible path to every project"
    _no_sideways_scroll(browser)
    assert_accessible(browser)
