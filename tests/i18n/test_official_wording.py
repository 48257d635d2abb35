"""Councils by their official name, greetings that guess no first name, neutral certificates."""

from __future__ import annotations

import pytest

from opencity.cities.models import City, default_council_name_uk
from opencity.cities.services import import_hromadas
from opencity.core.models import OutboundEmail
from petitions import services
from petitions.models import Petition
from tests.factories import make_user
from tests.petitions.factories import make_petition


@pytest.mark.parametrize(
    "name,council",
    [
        ("Луцька", "Рада Луцької громади"),
        ("Верхня", "Рада Верхньої громади"),
        ("Велика Новосілківська", "Рада Великої Новосілківської громади"),
    ],
)
def test_a_council_name_is_built_from_the_hromada_name(name, council):
    assert default_council_name_uk(name) == council


@pytest.mark.django_db
def test_imported_hromadas_get_a_council_name(tmp_path):
    csv = tmp_path / "h.csv"
    csv.write_text(
        "katottg,name_uk,name_en,raion_uk,oblast_uk,oblast_en,population_2022,edem_petitions,"
        "edem_participatory_budget,edem_consultations,edem_open_hromada\n"
        "UA07080170000013585,Луцька,Lutska,Луцький,Волинська,Volynska,215986,1,1,1,0\n",
        encoding="utf-8",
    )
    import_hromadas(csv)
    city = City.objects.get(katottg="UA07080170000013585")
    assert (city.council_name_uk, city.council_name_en) == (
        "Рада Луцької громади", "Council of Lutska hromada",
    )  # fmt: skip


@pytest.mark.django_db
def test_answer_email_names_the_council_and_greets_without_guessing_a_first_name(
    city_a, moderator_a
):
    city_a.council_name_uk = "Луцька міська рада"
    city_a.save()
    author = make_user(full_name="Петренко Ольга Іванівна", preferred_language="uk")
    petition = make_petition(city_a, author=author, status=Petition.Status.REACHED)
    services.petition_respond(
        petition=petition, actor=moderator_a, decision="supported", text="Підтримано."
    )
    mail = OutboundEmail.objects.get(to=author.email, key__contains="answered")
    assert "Луцька міська рада оприлюднила офіційну відповідь" in mail.body_text
    assert mail.body_text.startswith("Добрий день!")
    assert "Петренко!" not in mail.body_text and "Ольго" not in mail.body_text
    assert "Луцька міська рада оприлюднила" in mail.body_html


def test_the_server_error_page_promises_nothing_it_cannot_know():
    from django.template.loader import render_to_string

    page = render_to_string("500.html")
    assert "збережено" not in page and "saved" not in page
    assert "могла не виконатися" in page
