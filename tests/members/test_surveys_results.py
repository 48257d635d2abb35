"""The directors' survey results: who may read them, what they show, the exports."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from members.surveys import services
from members.surveys.forms import SurveyForm
from members.surveys.models import Invitation
from tests.factories import make_city
from tests.members.survey_factories import form_data, make_member, make_questionnaire, make_wave

pytestmark = pytest.mark.django_db


def answer(invitation, version, **answers):
    form = SurveyForm(form_data(version, **answers), version=version, submitting=True)
    assert form.is_valid(), form.errors
    return services.response_save(invitation=invitation, answers=form.answers(), submit=True)


@pytest.fixture
def waves():
    version = make_questionnaire()
    make_member(
        make_city(slug="lviv", name_uk="Львівська", oblast_uk="Львівська", population=700_000)
    )
    make_member(
        make_city(slug="stryi", name_uk="Стрийська", oblast_uk="Львівська", population=3_000)
    )
    make_member(
        make_city(slug="lutsk", name_uk="Луцька", oblast_uk="Волинська", population=200_000)
    )
    first = make_wave(version, name="2025")
    services.wave_send(wave=first)
    inv = {i.city.slug: i for i in Invitation.objects.filter(wave=first)}
    answer(
        inv["lviv"],
        version,
        has_edms="yes",
        edms_name="Мегаполіс",
        staff="40",
        readiness="5",
        obstacles=["cost"],
        comment="Бракує фахівців",
        services={"e-petitions": ("runs", 2016), "e-budget": ("runs", 2017)},
    )
    answer(
        inv["stryi"],
        version,
        has_edms="no",
        staff="2",
        readiness="2",
        obstacles=["cost", "staff", "other"],
        obstacles__other="Немає зв'язку",
        services={"e-petitions": ("plans", None), "e-budget": ("no", None)},
    )
    second = make_wave(version, name="2026")
    services.wave_send(wave=second)
    inv2 = {i.city.slug: i for i in Invitation.objects.filter(wave=second)}
    for slug in ("lviv", "stryi", "lutsk"):
        answer(
            inv2[slug], version, has_edms="no", staff="10", services={"e-petitions": ("runs", 2016)}
        )
    return first, second


def results_url(wave, **params) -> str:
    url = reverse("members:survey_results", args=[wave.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def test_anonymous_is_sent_to_sign_in(client, waves):
    page = client.get(results_url(waves[0]))
    assert page.status_code == 302 and "login" in page["Location"]
    assert client.get(reverse("members:survey_index")).status_code == 302


@pytest.mark.parametrize("who", ["citizen", "moderator_a", "city_admin_a"])
def test_citizen_and_clerks_are_refused(client, waves, request, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(results_url(waves[0])).status_code == 403
    assert (
        client.get(reverse("members:survey_results_export", args=[waves[0].pk, "csv"])).status_code
        == 403
    )


@pytest.mark.parametrize("who", ["director", "association_staff"])
def test_directors_and_secretariat_read_the_results(client, waves, request, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("members:survey_index")).status_code == 200
    assert client.get(results_url(waves[0])).status_code == 200


def test_results_show_rates_distributions_matrix_and_free_text(director_client, waves):
    page = director_client.get(results_url(waves[0])).content.decode()
    assert "відповіли 2 ради" in page  # Ukrainian is the default language
    assert "66,7" in page  # Львівська: 2 of 2 invited, total 2 of 3
    assert "Бракує фахівців" in page and "Немає зв&#x27;язку" in page
    assert 'class="num heat-' in page
    assert "<svg" in page and "E-petitions" in page


def test_filters_by_oblast_tier_and_size(director_client, waves):
    page = director_client.get(results_url(waves[0], oblast="Волинська")).content.decode()
    assert "Бракує фахівців" not in page
    page = director_client.get(results_url(waves[0], tier="village")).content.decode()
    assert "Немає зв&#x27;язку" in page and "Бракує фахівців" not in page
    page = director_client.get(results_url(waves[0], size="100k%2B")).content.decode()
    assert "Бракує фахівців" in page and "Немає зв&#x27;язку" not in page


def test_csv_export_has_every_question_and_free_text(director_client, waves):
    response = director_client.get(
        reverse("members:survey_results_export", args=[waves[0].pk, "csv"])
    )
    assert response.status_code == 200 and response["Cache-Control"].startswith("private")
    text = b"".join(
        response.streaming_content if response.streaming else [response.content]
    ).decode("utf-8-sig")
    assert "staff" in text and "Бракує фахівців" in text and "E-petitions" in text
    assert "Мегаполіс" in text


def test_xlsx_export_keeps_numbers_as_numbers_and_lists_free_text(director_client, waves):
    response = director_client.get(
        reverse("members:survey_results_export", args=[waves[0].pk, "xlsx"])
    )
    workbook = load_workbook(io.BytesIO(response.content))
    assert len(workbook.worksheets) == 6  # two rates, answers, numbers, matrix, free text
    rate = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert any(isinstance(row[1], int) for row in rate[1:])
    numbers = list(workbook.worksheets[3].iter_rows(values_only=True))
    staff = next(row for row in numbers if row[0] == "staff")
    assert staff[1:] == (2, 2, 21, 40)
    texts = [cell for row in workbook.worksheets[5].iter_rows(values_only=True) for cell in row]
    assert "Бракує фахівців" in texts and "Мегаполіс" in texts


def test_two_wave_comparison_shows_the_change(director_client, waves):
    first, second = waves
    url = reverse("members:survey_compare", args=[first.pk, second.pk])
    page = director_client.get(url).content.decode()
    assert page.count("<tr>") > 5
    # has_edms "yes": 50 % of 2 in 2025, 0 % of 3 in 2026 → −50 p.p.
    assert "-50" in page or "−50" in page
    csv = director_client.get(
        reverse("members:survey_compare_export", args=[first.pk, second.pk, "csv"])
    )
    assert csv.status_code == 200


def test_comparison_with_another_questionnaire_is_404(director_client, waves):
    from members.surveys.models import Questionnaire, QuestionnaireVersion

    other_version = QuestionnaireVersion.objects.create(
        questionnaire=Questionnaire.objects.create(title_uk="Інше", slug="other"), number=1
    )
    other = make_wave(other_version, name="інша")
    url = reverse("members:survey_compare", args=[waves[0].pk, other.pk])
    assert director_client.get(url).status_code == 404


def test_printable_view_uses_the_print_stylesheet(director_client, waves):
    page = director_client.get(results_url(waves[0], print=1)).content.decode()
    assert 'print.css" media="all"' in page


def test_demo_survey_has_324_answers_from_the_imported_hromadas_and_reports_them(
    director_client,
):
    from members.surveys import demo
    from members.surveys.models import Response, Wave
    from opencity.cities.services import HROMADAS_CSV, import_hromadas

    import_hromadas(HROMADAS_CSV)
    demo.seed(log=lambda *_: None)
    demo.seed(log=lambda *_: None)  # idempotent
    wave = Wave.objects.get()
    assert Response.objects.filter(wave=wave, status="submitted").count() == 324
    assert wave.invitations.count() == 400
    # every answered condition was honoured: no programme year without a programme
    assert (
        not Response.objects.filter(
            answers__question__code="strategy_year",
        )
        .exclude(answers__question__code="has_strategy", answers__choice="yes")
        .exists()
    )
    page = director_client.get(results_url(wave)).content.decode()
    assert "Бракує фахівців" in page and "81,0" in page
