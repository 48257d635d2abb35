"""End to end in headless Chromium: file → clerk publishes in admin → another citizen signs →
the count and the progress bar follow; axe accessibility checks on the petition pages."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from opencity.cities.models import StaffRole
from petitions import services
from petitions.models import Petition
from tests.browser.fixtures import assert_accessible, sign_in, wait_for
from tests.factories import make_city, make_clerk, make_user
from tests.petitions.factories import make_petition, make_rules, sign_many

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_file_publish_sign_and_watch_the_count(browser):
    city = make_city(name_uk="Луцька", name_en="Lutska", slug="lutska")
    make_rules(city, threshold=4, collection_days=30)
    author = make_user(full_name="Олена Авторка", home_city=city)
    clerk = make_clerk(city, StaffRole.Role.MODERATOR, full_name="Марія Модераторка")
    signer = make_user(full_name="Степан Підписант")

    sign_in(browser, author)
    browser.get(browser.base_url + "/petitions/new/")
    assert_accessible(browser)
    browser.find_element(By.ID, "id_title").send_keys("Освітлити сквер біля бібліотеки")
    browser.find_element(By.ID, "id_text").send_keys(
        "Просимо встановити ліхтарі у сквері біля центральної бібліотеки, бо ввечері там темно."
    )
    browser.find_element(By.CSS_SELECTOR, "button[value=preview]").click()
    wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, "button[value=submit]")))
    assert "Освітлити сквер" in browser.find_element(By.TAG_NAME, "main").text
    browser.find_element(By.CSS_SELECTOR, "button[value=submit]").click()
    wait_for(browser, EC.url_matches(r"/petitions/\d+/$"))
    petition = Petition.objects.get()
    assert petition.status == Petition.Status.SUBMITTED

    sign_in(browser, clerk)
    browser.get(f"{browser.base_url}/admin/petitions/petition/{petition.pk}/change/")
    browser.find_element(By.CSS_SELECTOR, ".petition-admin-form button").click()
    wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))
    petition.refresh_from_db()
    assert petition.status == Petition.Status.COLLECTING

    sign_in(browser, signer)
    browser.get(browser.base_url + petition.get_absolute_url())
    bar = browser.find_element(By.TAG_NAME, "progress")
    assert bar.get_attribute("value") == "1"  # the author's own signature
    browser.find_element(By.CSS_SELECTOR, "form[action$='/sign/'] button[type=submit]").click()
    wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".message-success")))
    assert browser.find_element(By.TAG_NAME, "progress").get_attribute("value") == "2"
    assert browser.find_element(By.CSS_SELECTOR, "[data-count]").text == "2"
    assert_accessible(browser)

    # Someone else signs meanwhile: the script refreshes the open page without a reload.
    services.petition_sign(petition=petition, user=make_user())
    services.petition_tally(petition_id=petition.pk)
    wait_for(
        browser,
        EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-count]"), "3"),
        timeout=12,
    )
    assert browser.find_element(By.TAG_NAME, "progress").get_attribute("value") == "3"
    assert browser.find_element(By.CSS_SELECTOR, "[data-percent]").text == "75"


def test_list_and_detail_pages_are_accessible(browser):
    city = make_city(slug="lutska-a11y")
    petition = make_petition(city, threshold=10, signature_count=3)
    sign_many(petition, 3)
    make_petition(city, status=Petition.Status.ANSWERED)
    for path in ("/petitions/", f"/petitions/city/{city.slug}/", petition.get_absolute_url()):
        browser.get(browser.base_url + path)
        assert_accessible(browser)


def test_petition_page_fits_a_360px_phone(browser):
    petition = make_petition(make_city(slug="phone-city"), threshold=10)
    browser.set_window_size(360, 740)
    browser.get(browser.base_url + petition.get_absolute_url())
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 360
