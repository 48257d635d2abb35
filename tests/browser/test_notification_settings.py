"""A resident follows a petition and changes how often they hear about it, on a 360 px
phone, with the accessibility check passing on every page (issue 16)."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from opencity.notifications import services
from opencity.notifications.models import Follow
from tests.browser.fixtures import assert_accessible, sign_in, wait_for
from tests.factories import make_city, make_user
from tests.petitions.factories import make_petition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_follow_and_change_notification_settings_at_360_px(browser):
    city = make_city(name_uk="Луцька", name_en="Lutska", slug="lutska")
    petition = make_petition(city, title="Освітлити сквер біля бібліотеки")
    resident = make_user(full_name="Олена Мешканка")
    sign_in(browser, resident)  # the wide layout shows the account menu sign_in waits for
    browser.set_window_size(360, 740)

    browser.get(browser.base_url + petition.get_absolute_url())
    button = browser.find_element(By.CSS_SELECTOR, ".follow-form button[type=submit]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".message-success")))
    assert Follow.objects.filter(user=resident, object_id=petition.pk).exists()
    assert_accessible(browser)

    browser.get(browser.base_url + "/account/notifications/")
    assert "Освітлити сквер" in browser.find_element(By.TAG_NAME, "main").text
    assert_accessible(browser)
    Select(browser.find_element(By.ID, "id_pace_petitions__milestone")).select_by_value("daily")
    Select(browser.find_element(By.ID, "id_pace_petitions__answered")).select_by_value("weekly")
    auto = browser.find_element(By.ID, "id_auto_follow")
    assert auto.is_selected()
    browser.execute_script("arguments[0].click()", auto)
    browser.find_element(By.CSS_SELECTOR, "main form.stack-form button[type=submit]").click()
    wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".message-success")))
    assert_accessible(browser)
    paces = services.paces_for(resident)
    assert paces["petitions.milestone"] == "daily" and paces["petitions.answered"] == "weekly"
    assert services.auto_follows(resident) is False
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 360  # nothing forces sideways scrolling

    unfollow = browser.find_element(By.CSS_SELECTOR, ".follow-list button[type=submit]")
    unfollow.click()
    wait_for(browser, EC.staleness_of(unfollow))
    wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".message-success")))
    assert not Follow.objects.filter(user=resident).exists()
