"""A council fills a survey with a condition on a 360 px phone; axe finds nothing serious."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from members.surveys import services
from members.surveys.models import Answer, Invitation, Response
from tests.browser.fixtures import assert_accessible, wait_for
from tests.factories import make_city
from tests.members.survey_factories import make_member, make_questionnaire, make_wave, question

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _click(browser, element):
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def test_council_fills_a_survey_with_a_condition_on_a_phone(browser):
    version = make_questionnaire()
    make_member(make_city(name_uk="Луцька", slug="lutska"))
    wave = make_wave(version)
    services.wave_send(wave=wave)
    invitation = Invitation.objects.get()
    has_edms, edms_name = question(version, "has_edms"), question(version, "edms_name")
    staff = question(version, "staff")

    browser.set_window_size(360, 740)
    browser.get(browser.base_url + f"/surveys/{services.make_token(invitation)}/")
    box = browser.find_element(By.ID, f"question-{edms_name.pk}")
    assert not box.is_displayed()  # hidden until "yes" is chosen
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 360
    assert_accessible(browser)

    _click(browser, browser.find_element(By.CSS_SELECTOR, f"input[name=q{has_edms.pk}][value=yes]"))
    wait_for(browser, EC.visibility_of(box))
    browser.find_element(By.NAME, f"q{edms_name.pk}").send_keys("АСКОД")
    number = browser.find_element(By.NAME, f"q{staff.pk}")
    number.send_keys("900")  # out of range: refused, nothing lost
    _click(browser, browser.find_element(By.CSS_SELECTOR, "button[name=submit]"))
    wait_for(browser, EC.presence_of_element_located((By.ID, "form-errors")))
    assert browser.find_element(By.NAME, f"q{edms_name.pk}").get_attribute("value") == "АСКОД"
    assert_accessible(browser)
    # the condition still holds after the round trip, so the answer stays visible
    assert browser.find_element(By.ID, f"question-{edms_name.pk}").is_displayed()

    number = browser.find_element(By.NAME, f"q{staff.pk}")
    number.clear()
    number.send_keys("12")
    _click(browser, browser.find_element(By.CSS_SELECTOR, "button[name=submit]"))
    wait_for(browser, lambda b: "survey-form" not in b.page_source)
    response = Response.objects.get()
    assert response.status == "submitted"
    assert Answer.objects.get(response=response, question=edms_name).text == "АСКОД"
    assert Answer.objects.get(response=response, question=staff).number == 12
    assert_accessible(browser)


def test_director_reads_the_results_on_a_phone_with_labels_of_12px_or_more(browser):
    from django.contrib.auth.models import Group

    from members.surveys.forms import SurveyForm
    from opencity.cities.access import DIRECTORS_GROUP
    from tests.browser.fixtures import sign_in
    from tests.factories import make_user
    from tests.members.survey_factories import form_data

    version = make_questionnaire()
    make_member(make_city(name_uk="Луцька", slug="lutska"))
    wave = make_wave(version)
    services.wave_send(wave=wave)
    form = SurveyForm(
        form_data(version, has_edms="no", staff="4", obstacles=["cost"], readiness="3"),
        version=version,
        submitting=True,
    )
    assert form.is_valid(), form.errors
    services.response_save(invitation=Invitation.objects.get(), answers=form.answers(), submit=True)
    director = make_user(is_staff=True)
    director.groups.add(Group.objects.get_or_create(name=DIRECTORS_GROUP)[0])

    browser.set_window_size(360, 740)
    sign_in(browser, director)
    browser.get(browser.base_url + f"/reports/surveys/{wave.pk}/")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 360
    smallest = browser.execute_script(
        """
        let smallest = 1000;
        document.querySelectorAll('.survey-chart svg').forEach(svg => {
          const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
          svg.querySelectorAll('text').forEach(t => {
            const size = parseFloat(getComputedStyle(t).fontSize) * scale;
            smallest = Math.min(smallest, size);
          });
        });
        return smallest;
        """
    )
    assert 12 <= smallest < 1000
    assert_accessible(browser)
