"""Versions and their lock, waves and their links, reminders, late change, the catalogue."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from members.models import CityEService
from members.surveys import services
from members.surveys.forms import SurveyForm
from members.surveys.models import Choice, Invitation, Question, QuestionnaireVersion, Response
from members.tasks import send_survey_reminders
from opencity.core.models import AuditEntry, OutboundEmail
from tests.factories import make_city
from tests.members.survey_factories import (
    form_data,
    make_member,
    make_questionnaire,
    make_wave,
    question,
)

pytestmark = pytest.mark.django_db


def invitation_in(body: str) -> Invitation:
    """The invitation whose signed link an e-mail carries (the link works)."""
    token = re.search(r"http://\S+/surveys/([^/\s]+)/", body).group(1)
    return services.invitation_from_token(token)


def submit(invitation, version, **answers):
    defaults = {"has_edms": "no", "staff": "3"}
    form = SurveyForm(
        form_data(version, **{**defaults, **answers}), version=version, submitting=True
    )
    assert form.is_valid(), form.errors
    return services.response_save(invitation=invitation, answers=form.answers(), submit=True)


@pytest.fixture
def version():
    return make_questionnaire()


@pytest.fixture
def sent(version):
    make_member(make_city(name_uk="Луцька", slug="lutska"), email="rada@lutsk.example.org")
    make_member(make_city(name_uk="Ковельська", slug="kovel", oblast_uk="Волинська"))
    make_city(name_uk="Не член", slug="not-member")
    wave = make_wave(version)
    services.wave_send(wave=wave)
    return wave


# --- versions ----------------------------------------------------------------------------------
def test_first_answer_locks_the_version_in_the_database(version, sent):
    invitation = Invitation.objects.filter(wave=sent).first()
    submit(invitation, version)
    version.refresh_from_db()
    assert version.locked_at is not None
    q = question(version, "staff")
    q.text_en = "Changed"
    with pytest.raises(IntegrityError), transaction.atomic():
        q.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        Choice.objects.create(question=question(version, "level"), value="x", label_uk="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Question.objects.filter(section__version=version, code="comment").delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        QuestionnaireVersion.objects.filter(pk=version.pk).update(intro_uk="нове")


def test_a_draft_locks_the_version_too(version, sent):
    invitation = Invitation.objects.filter(wave=sent).first()
    form = SurveyForm(form_data(version, comment="чернетка"), version=version)
    assert form.is_valid()
    services.response_save(invitation=invitation, answers=form.answers(), submit=False)
    assert services.version_is_locked(version)


def test_unlocked_version_can_be_edited(version):
    q = question(version, "staff")
    q.text_en = "How many IT staff?"
    q.save()
    assert question(version, "staff").text_en == "How many IT staff?"


def test_change_makes_a_new_version_and_answers_keep_theirs(client, version, sent):
    first, second = Invitation.objects.filter(wave=sent).order_by("pk")
    submit(first, version)
    new = services.version_copy(version=version)
    assert new.number == 2 and new.locked_at is None
    assert [q.code for q in Question.objects.filter(section__version=new)] == [
        q.code for q in Question.objects.filter(section__version=version)
    ]
    copied = question(new, "edms_name")
    assert copied.show_if_question == question(new, "has_edms") and copied.show_if_value == "yes"
    assert sorted(question(new, "obstacles").choices.values_list("value", flat=True)) == [
        "cost",
        "staff",
    ]
    staff = question(new, "staff")
    staff.max_value = 1000
    staff.save()  # the new version is editable
    wave2 = make_wave(new, name="2026")
    services.wave_send(wave=wave2)
    answered = Response.objects.get(wave=sent, city=first.city)
    assert answered.version == version
    assert answered.answers.get(question__code="staff").question.section.version == version


# --- waves and reminders -----------------------------------------------------------------------
def test_wave_goes_to_members_only_with_a_personal_link_each(version, sent):
    invitations = Invitation.objects.filter(wave=sent)
    assert sorted(i.city.slug for i in invitations) == ["kovel", "lutska"]
    mail = OutboundEmail.objects.get(to="rada@lutsk.example.org")
    lutsk = invitations.get(city__slug="lutska")
    assert invitation_in(mail.body_text) == lutsk
    assert "Луцька" in mail.body_text
    other = OutboundEmail.objects.exclude(pk=mail.pk).get()
    assert invitation_in(other.body_text).city.slug == "kovel"


def test_sending_a_wave_twice_invites_nobody_twice(version, sent):
    assert services.wave_send(wave=sent).invited == 0
    assert OutboundEmail.objects.count() == 2


def test_wave_to_an_oblast_and_to_a_tier(version):
    make_member(make_city(slug="lviv", oblast_uk="Львівська", population=700_000))
    make_member(make_city(slug="village", oblast_uk="Львівська", population=3_000))
    make_member(make_city(slug="lutsk", oblast_uk="Волинська", population=200_000))
    by_oblast = make_wave(version, audience="oblast", value="Львівська", name="Львів")
    by_tier = make_wave(version, audience="tier", value="village", name="села")
    services.wave_send(wave=by_oblast)
    services.wave_send(wave=by_tier)
    assert sorted(by_oblast.invitations.values_list("city__slug", flat=True)) == ["lviv", "village"]
    assert list(by_tier.invitations.values_list("city__slug", flat=True)) == ["village"]


def test_council_without_a_contact_email_is_listed_not_invited(version):
    city = make_city(slug="no-mail", name_uk="Безадресна")
    make_member(city, email="")
    wave = make_wave(version)
    result = services.wave_send(wave=wave)
    assert result.invited == 0 and result.without_email == ["Безадресна"]


def test_reminders_after_7_and_14_days_once_each_and_not_after_submitting(version, sent):
    lutsk = Invitation.objects.get(wave=sent, city__slug="lutska")
    kovel = Invitation.objects.get(wave=sent, city__slug="kovel")
    submit(kovel, version)
    now = timezone.now()
    assert services.reminders_send(now=now + timedelta(days=6)) == 0
    assert services.reminders_send(now=now + timedelta(days=7, minutes=1)) == 1
    assert services.reminders_send(now=now + timedelta(days=8)) == 0  # once
    assert services.reminders_send(now=now + timedelta(days=14, minutes=1)) == 1
    assert services.reminders_send(now=now + timedelta(days=20)) == 0
    mails = list(OutboundEmail.objects.filter(to=lutsk.email).order_by("id"))
    assert len(mails) == 3
    assert "Тиждень тому" in mails[1].body_text and "Нагадування" in mails[1].subject
    assert "останнє нагадування" in mails[2].body_text
    assert invitation_in(mails[2].body_text) == lutsk
    assert (
        not OutboundEmail.objects.filter(to=kovel.email)
        .exclude(key__startswith="survey-invitation")
        .exists()
    )


def test_reminder_task_is_idempotent(version, sent):
    Invitation.objects.update(sent_at=timezone.now() - timedelta(days=8))
    assert send_survey_reminders() == 2
    assert send_survey_reminders() == 0
    assert OutboundEmail.objects.count() == 4


def test_late_reminder_sends_one_email_not_two(version, sent):
    Invitation.objects.update(sent_at=timezone.now() - timedelta(days=15))
    assert services.reminders_send() == 2
    assert OutboundEmail.objects.count() == 4
    assert services.reminders_send() == 0


# --- late change and the catalogue -------------------------------------------------------------
def test_secretariat_reopens_a_submitted_response_with_a_reason(version, sent, association_staff):
    invitation = Invitation.objects.get(wave=sent, city__slug="lutska")
    response = submit(invitation, version)
    with pytest.raises(services.Refused):
        services.response_reopen(response=response, actor=association_staff, reason=" ")
    services.response_reopen(response=response, actor=association_staff, reason="Помилка у числі")
    entry = AuditEntry.objects.get(action="members.survey_response.reopened")
    assert entry.reason == "Помилка у числі" and entry.actor == association_staff
    resubmitted = submit(invitation, version, staff="5")
    assert resubmitted.pk == response.pk and resubmitted.status == "submitted"
    assert resubmitted.answers.get(question__code="staff").number == 5


def test_admin_reopen_page_for_the_secretariat_only(
    client, version, sent, association_staff, director
):
    response = submit(Invitation.objects.get(wave=sent, city__slug="lutska"), version)
    page = reverse("admin:members_response_reopen", args=[response.pk])
    client.force_login(director)
    assert client.post(page, {"reason": "x"}).status_code in (302, 403, 404)
    response.refresh_from_db()
    assert response.status == "submitted"
    client.force_login(association_staff)
    assert client.post(page, {"reason": "Виправити"}).status_code == 302
    response.refresh_from_db()
    assert response.status == "draft"


def test_accept_matrix_answers_into_the_catalogue_with_the_source(version, sent, association_staff):
    invitation = Invitation.objects.get(wave=sent, city__slug="lutska")
    response = submit(
        invitation, version, services={"e-petitions": ("runs", 2019), "e-budget": ("plans", None)}
    )
    assert services.matrix_accept(response=response, actor=association_staff) == 1
    entry = CityEService.objects.get(city=invitation.city)
    assert entry.product.slug == "e-petitions" and entry.since.year == 2019
    assert str(sent) in entry.source
    row = response.matrix.get(product__slug="e-petitions")
    assert row.catalogue_entry == entry and row.accepted_by == association_staff
    assert services.matrix_accept(response=response, actor=association_staff) == 0
    assert (
        AuditEntry.objects.filter(action="members.survey_response.accepted_into_catalogue").count()
        == 2
    )


def test_draft_cannot_be_accepted_into_the_catalogue(version, sent, association_staff):
    invitation = Invitation.objects.get(wave=sent, city__slug="lutska")
    form = SurveyForm(form_data(version, services={"e-petitions": ("runs", 2019)}), version=version)
    assert form.is_valid()
    draft = services.response_save(invitation=invitation, answers=form.answers(), submit=False)
    with pytest.raises(services.Refused):
        services.matrix_accept(response=draft, actor=association_staff)
    assert not CityEService.objects.exists()


def test_clerk_and_director_see_no_survey_admin(client, moderator_a, director):
    for user in (moderator_a, director):
        client.force_login(user)
        assert client.get(reverse("admin:members_questionnaire_changelist")).status_code in (
            302,
            403,
        )
        assert client.get(reverse("admin:members_response_changelist")).status_code in (302, 403)


def test_secretariat_admin_pages_open_and_locked_version_is_read_only(
    client, version, sent, association_staff
):
    submit(Invitation.objects.get(wave=sent, city__slug="lutska"), version)
    client.force_login(association_staff)
    for model in (
        "questionnaire",
        "questionnaireversion",
        "section",
        "question",
        "wave",
        "invitation",
        "response",
    ):
        assert client.get(reverse(f"admin:members_{model}_changelist")).status_code == 200
    for model in ("questionnaire", "questionnaireversion", "question", "wave"):
        assert client.get(reverse(f"admin:members_{model}_add")).status_code == 200
    q = question(version, "staff")
    page = client.post(
        reverse("admin:members_question_change", args=[q.pk]), {"text_uk": "змінено"}
    )
    assert page.status_code == 403
    assert question(version, "staff").text_uk != "змінено"
    response = Response.objects.get(city__slug="lutska")
    page = client.get(reverse("admin:members_response_change", args=[response.pk]))
    assert page.status_code == 200 and "reopen" in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_an_edit_racing_the_first_answer_is_refused():
    import threading

    from django.db import connection

    version = make_questionnaire()
    make_member(make_city(slug="lutska"))
    wave = make_wave(version)
    services.wave_send(wave=wave)
    invitation = Invitation.objects.get()
    answered, outcome = threading.Event(), []

    def first_answer():
        try:
            with transaction.atomic():
                Response.objects.create(wave=wave, city=invitation.city, version=version)
                answered.set()
                threading.Event().wait(1.0)  # the edit below now waits for this commit
        finally:
            connection.close()

    def edit():
        answered.wait(10)
        try:
            Question.objects.filter(section__version=version, code="staff").update(max_value=9)
            outcome.append("changed")
        except IntegrityError:
            outcome.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=first_answer), threading.Thread(target=edit)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcome == ["refused"]
    assert question(version, "staff").max_value == 500
