"""Sign-up → e-mail verification → login, in the Ukrainian UI of a real browser."""

import re

import pytest
from django.core import mail
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from tests.browser.fixtures import assert_accessible, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_signup_verify_and_login_in_ukrainian(browser):
    browser.get(browser.base_url + "/accounts/signup/")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "uk"
    browser.find_element(By.ID, "id_email").send_keys("olena@example.org")
    browser.find_element(By.ID, "id_full_name").send_keys("Олена Петренко")
    browser.find_element(By.ID, "id_password1").send_keys("a-long-pass-phrase-77")
    browser.find_element(By.ID, "id_password2").send_keys("a-long-pass-phrase-77")
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_for(browser, EC.url_contains("/accounts/confirm-email/"))
    assert "Підтвердіть" in browser.find_element(By.TAG_NAME, "main").text

    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[0].body).group(0)
    browser.get(link)
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    # Confirming in the browser that signed up logs the person in.
    wait_for(browser, EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".account-nav"), "Олена"))

    browser.find_element(By.CSS_SELECTOR, ".account-nav form button").click()  # sign out
    wait_for(browser, EC.presence_of_element_located((By.LINK_TEXT, "Увійти")))
    browser.get(browser.base_url + "/accounts/login/")
    browser.find_element(By.ID, "id_login").send_keys("olena@example.org")
    browser.find_element(By.ID, "id_password").send_keys("a-long-pass-phrase-77")
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_for(browser, EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".account-nav"), "Олена"))
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "uk"


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/accounts/signup/", "/cities/"])
def test_pages_have_no_serious_accessibility_violations(browser, path):
    browser.get(browser.base_url + path)
    assert_accessible(browser)


def test_home_is_usable_on_a_360px_phone(browser):
    browser.set_window_size(360, 740)
    browser.get(browser.base_url + "/")
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 360, "the page must not scroll sideways on a phone"
    assert_accessible(browser)
