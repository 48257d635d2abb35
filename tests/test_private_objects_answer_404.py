"""Objects a person may not see answer 404 — the same answer as for an object that does not
exist, with nothing of the object in the page — while the people who may see them do."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from academy.models import Registration
from initiatives.models import Initiative
from members.services import application_submit
from opencity.cities import conf as private_files_conf
from petitions.models import Petition
from tests.academy.factories import make_expert, make_past_session, seat
from tests.factories import make_user
from tests.initiatives.factories import make_initiative as make_budget_initiative
from tests.initiatives.factories import make_programme
from tests.members.factories import pdf_upload
from tests.petitions.factories import make_petition, sign_many

pytestmark = pytest.mark.django_db
MISSING = 999_999


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode()


def _assert_hidden(client, user, method: str, url: str, missing_url: str, secret: str) -> None:
    client.force_login(user)
    response = getattr(client, method)(url)
    not_found = getattr(client, method)(missing_url)
    assert not_found.status_code == 404
    assert response.status_code == 404, url
    assert secret not in _body(response)


def test_a_draft_petition_is_the_authors_alone(client, city_a, moderator_b):
    petition = make_petition(city_a, status=Petition.Status.DRAFT, title="Чернетка про сквер")
    for stranger in (make_user(), moderator_b):
        for name, method in (("detail", "get"), ("submit", "post"), ("withdraw", "post")):
            _assert_hidden(
                client,
                stranger,
                method,
                reverse(f"petitions:{name}", args=[petition.pk]),
                reverse(f"petitions:{name}", args=[MISSING]),
                "Чернетка про сквер",
            )
    client.force_login(petition.author)
    assert client.get(reverse("petitions:detail", args=[petition.pk])).status_code == 200
    petition.refresh_from_db()
    assert petition.status == Petition.Status.DRAFT


def test_the_signatory_record_is_for_the_citys_staff(client, city_a, moderator_a, moderator_b):
    petition = make_petition(city_a)
    (signer,) = sign_many(petition, 1)
    url = reverse("petitions:signatories_csv", args=[petition.pk])
    missing = reverse("petitions:signatories_csv", args=[MISSING])
    for stranger in (make_user(), moderator_b):
        _assert_hidden(client, stranger, "get", url, missing, signer.email)
    client.force_login(moderator_a)
    assert signer.email in _body(client.get(url))


def test_a_withdrawn_initiative_is_seen_by_its_author_and_its_citys_staff_only(
    client, city_a, moderator_a, moderator_b
):
    programme = make_programme(city_a, stage="submission")
    initiative = make_budget_initiative(
        programme, status=Initiative.Status.WITHDRAWN, title="Сквер біля школи"
    )
    for name in ("detail", "revise"):
        url = reverse(f"initiatives:{name}", args=[programme.slug, initiative.pk])
        missing = reverse(f"initiatives:{name}", args=[programme.slug, MISSING])
        for stranger in (make_user(), moderator_b):
            _assert_hidden(client, stranger, "get", url, missing, "Сквер біля школи")
    detail = reverse("initiatives:detail", args=[programme.slug, initiative.pk])
    for viewer in (initiative.author, moderator_a):
        client.force_login(viewer)
        assert "Сквер біля школи" in _body(client.get(detail))
    client.force_login(moderator_a)  # staff see it, but only its author revises it
    revise = reverse("initiatives:revise", args=[programme.slug, initiative.pk])
    assert client.get(revise).status_code == 404


def test_a_membership_application_is_seen_by_its_applicant_only(
    client, city_a, citizen, moderator_a, tmp_path, monkeypatch
):
    monkeypatch.setattr(private_files_conf, "PRIVATE_FILES_ROOT", tmp_path / "private")
    application = application_submit(
        applicant=citizen,
        city=city_a,
        council_decision_number="77/1",
        council_decision_date=date(2024, 3, 15),
        contact_name="Олег",
        contact_email="oleh.private@example.org",
        decision_file=pdf_upload(),
    )
    for name in ("application_detail", "application_file"):
        url = reverse(f"members:{name}", args=[application.pk])
        missing = reverse(f"members:{name}", args=[MISSING])
        for stranger in (make_user(), moderator_a):  # a city's clerk is not the secretariat
            _assert_hidden(client, stranger, "get", url, missing, "oleh.private@example.org")
    client.force_login(citizen)
    detail = reverse("members:application_detail", args=[application.pk])
    assert client.get(detail).status_code == 200


def test_academy_pages_of_one_person_or_one_sessions_trainers(client, citizen, moderator_a):
    session = make_past_session()
    registration = seat(session, citizen, attended=True)
    feedback = reverse("academy:feedback", args=[registration.pk])
    _assert_hidden(
        client,
        make_user(),
        "get",
        feedback,
        reverse("academy:feedback", args=[MISSING]),
        session.course.title,
    )
    roster = reverse("academy:session_roster", args=[session.pk])
    _assert_hidden(
        client,
        moderator_a,
        "get",
        roster,
        reverse("academy:session_roster", args=[MISSING]),
        citizen.email,
    )
    expert = make_expert(user=make_user())
    _assert_hidden(
        client,
        make_user(),
        "get",
        reverse("academy:expert_edit", args=[expert.slug]),
        reverse("academy:expert_edit", args=["no-such-expert"]),
        'name="headline"',
    )
    client.force_login(citizen)
    assert client.get(feedback).status_code == 200
    client.force_login(expert.user)
    assert client.get(reverse("academy:expert_edit", args=[expert.slug])).status_code == 200
    assert Registration.objects.get(pk=registration.pk).attended


def test_directors_reports_answer_404_to_everybody_else(client, citizen, moderator_a, director):
    url = reverse("members:report_index")
    for user in (citizen, moderator_a):
        client.force_login(user)
        assert client.get(url).status_code == 404
    client.force_login(director)
    assert client.get(url).status_code == 200
