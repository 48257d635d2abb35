"""End to end in headless Chromium: a citizen submits → the clerk accepts in admin → three
citizens pick, review and confirm their ballots at 360 px → tally → the results page shows
the winners; axe checks on the main pages."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from initiatives.models import Ballot, Initiative, Programme, ResultSnapshot, Vote
from initiatives.services import results_publish
from initiatives.tasks import tally_due
from opencity.cities.models import StaffRole
from tests.browser.fixtures import assert_accessible, sign_in, wait_for
from tests.factories import make_city, make_clerk
from tests.initiatives.factories import (
    make_category,
    make_initiative,
    make_programme,
    make_voter,
    stage_dates,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def move_to(programme: Programme, stage: str) -> None:
    Programme.objects.filter(pk=programme.pk).update(**stage_dates(stage))


def test_submit_accept_vote_tally_and_see_the_winners(browser):
    city = make_city(name_uk="Луцька", name_en="Lutska", slug="lutska")
    programme = make_programme(
        city, stage="submission", title="Бюджет участі Луцька 2027", max_votes=2
    )
    category = make_category(programme, name="Малі проєкти", budget="150000", max_cost="100000")
    rival = make_initiative(
        programme,
        category,
        cost="90000",
        title="Нові лавки в парку",
        status=Initiative.Status.ACCEPTED,
    )
    author = make_voter(city, full_name="Олена Авторка")
    clerk = make_clerk(city, StaffRole.Role.MODERATOR, full_name="Марія Модераторка")
    voters = [
        make_voter(city, full_name=name) for name in ("Іван Перший", "Ганна Друга", "Петро Третій")
    ]

    sign_in(browser, author)
    browser.get(f"{browser.base_url}/initiatives/{programme.slug}/submit/")
    assert_accessible(browser)
    browser.find_element(By.ID, "id_category").send_keys("Малі")
    browser.find_element(By.ID, "id_title").send_keys("Сквер біля бібліотеки")
    browser.find_element(By.ID, "id_summary").send_keys("Лавки, ліхтарі та дерева.")
    browser.find_element(By.ID, "id_description").send_keys("Облаштуємо сквер для читачів.")
    browser.find_element(By.ID, "id_address").send_keys("вул. Винниченка, 1")
    browser.find_element(By.ID, "id_lines-0-description").send_keys("Лавки")
    browser.find_element(By.ID, "id_lines-0-amount").send_keys("40000")
    browser.find_element(By.ID, "id_lines-1-description").send_keys("Ліхтарі")
    browser.find_element(By.ID, "id_lines-1-amount").send_keys("20000")
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_for(browser, EC.url_matches(r"/initiatives/[\w-]+/\d+/$"))
    initiative = Initiative.objects.get(author=author)
    assert str(initiative.total_cost) == "60000.00"

    sign_in(browser, clerk)
    browser.get(f"{browser.base_url}/admin/initiatives/initiative/{initiative.pk}/review/")
    browser.find_element(By.CSS_SELECTOR, "input[name=decision][value=accept]").click()
    browser.find_element(By.CSS_SELECTOR, "#content-main input[type=submit]").click()
    wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))
    initiative.refresh_from_db()
    assert initiative.status == Initiative.Status.ACCEPTED

    move_to(programme, "voting")
    # Every voter picks, reviews and confirms on a 360 px phone; the last one backs both.
    browser.set_window_size(360, 740)
    for n, voter in enumerate(voters):
        sign_in(browser, voter)
        browser.get(browser.base_url + initiative.get_absolute_url())
        browser.find_element(By.CSS_SELECTOR, "a[href*='/ballot/?project=']").click()
        wait_for(browser, EC.presence_of_element_located((By.ID, f"project-{initiative.pk}")))
        assert browser.find_element(By.ID, f"project-{initiative.pk}").is_selected()
        if n == len(voters) - 1:
            assert "остаточний" in browser.find_element(By.TAG_NAME, "main").text
            assert_accessible(browser)
            browser.find_element(By.CSS_SELECTOR, f"label[for=project-{rival.pk}]").click()
        browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
        wait_for(browser, EC.presence_of_element_located((By.ID, "budget-share")))
        if n == len(voters) - 1:
            assert "150" in browser.find_element(By.ID, "budget-share").text
            assert_accessible(browser)
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 360
        browser.find_element(By.XPATH, "//button[contains(., 'Підтвердити')]").click()
        wait_for(browser, EC.presence_of_element_located((By.ID, "receipt-code")))
        code = browser.find_element(By.ID, "receipt-code").text
        assert code == Ballot.objects.get(voter=voter).code
    assert_accessible(browser)
    assert Vote.objects.count() == 4
    browser.set_window_size(1280, 900)

    move_to(programme, "results")
    assert tally_due() == 1
    results_publish(snapshot=ResultSnapshot.objects.get(), actor=clerk)

    browser.delete_all_cookies()
    browser.get(f"{browser.base_url}/initiatives/{programme.slug}/results/")
    table = browser.find_element(By.CSS_SELECTOR, "[aria-labelledby=table-heading] table").text
    # 60,000 UAH with 3 votes wins first; 150,000 − 60,000 leaves exactly 90,000 for the rival.
    assert "Сквер біля бібліотеки" in table and "Нові лавки в парку" in table
    assert table.count("фінансується") == 2
    assert browser.find_element(By.CSS_SELECTOR, "svg[role=img]").get_attribute("aria-labelledby")
    assert_accessible(browser)


@pytest.fixture
def public_programme():
    city = make_city(name_uk="Чернівецька", name_en="Chernivetska", slug="chernivetska")
    programme = make_programme(city, stage="voting", title="Бюджет участі Чернівців")
    category = make_category(programme, name="Великі проєкти", budget="900000")
    initiative = make_initiative(
        programme, category, title="Велодоріжка", latitude=48.29, longitude=25.94
    )
    return programme, initiative


def test_list_detail_and_ballot_pages_are_accessible(browser, public_programme):
    programme, initiative = public_programme
    browser.get(browser.base_url + "/initiatives/")
    assert "Велодоріжка" in browser.find_element(By.TAG_NAME, "main").text
    assert_accessible(browser)
    browser.get(browser.base_url + initiative.get_absolute_url())
    assert_accessible(browser)
    browser.get(browser.base_url + programme.get_absolute_url())
    assert_accessible(browser)
    voter = make_voter(programme.city)
    sign_in(browser, voter)
    browser.get(f"{browser.base_url}/initiatives/{programme.slug}/ballot/")
    assert_accessible(browser)


def test_pages_are_usable_on_a_360px_phone(browser, public_programme):
    programme, initiative = public_programme
    browser.set_window_size(360, 740)
    for path in ("/initiatives/", initiative.get_absolute_url(), programme.get_absolute_url()):
        browser.get(browser.base_url + path)
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 360, f"{path} scrolls sideways on a phone"
