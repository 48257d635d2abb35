"""The council's fill-in form: every question type, conditions, bad input, one response."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import signing
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from members.surveys import services
from members.surveys.models import Answer, Invitation, MatrixAnswer, Response
from tests.factories import make_city
from tests.members.survey_factories import form_data, make_member, make_questionnaire, make_wave

pytestmark = pytest.mark.django_db


@pytest.fixture
def version():
    return make_questionnaire()


@pytest.fixture
def invitation(version):
    make_member(make_city(name_uk="Луцька", slug="lutska"))
    wave = make_wave(version)
    services.wave_send(wave=wave)
    return Invitation.objects.get(wave=wave)


def url(invitation) -> str:
    return reverse("members:survey_fill", args=[services.make_token(invitation)])


def complete(version, **extra) -> dict:
    data = form_data(
        version,
        obstacles=["cost", "other"],
        obstacles__other="Немає інтернету",
        has_edms="yes",
        edms_name="АСКОД",
        staff="12",
        readiness="4",
        level="mayor",
        comment="Потрібне навчання",
        services={"e-petitions": ("runs", 2019), "e-budget": ("plans", None)},
    )
    data.update(extra)
    return data


def test_every_question_type_is_stored_typed_on_submit(client, version, invitation):
    response = client.post(url(invitation), {**complete(version), "submit": "1"})
    assert response.status_code == 302
    saved = Response.objects.get(wave=invitation.wave, city=invitation.city)
    assert saved.status == "submitted" and saved.version == version
    answers = {a.question.code: a for a in Answer.objects.filter(response=saved)}
    assert answers["obstacles"].choices == ["cost", "other"]
    assert answers["obstacles"].other_text == "Немає інтернету"
    assert answers["has_edms"].choice == "yes"
    assert answers["edms_name"].text == "АСКОД"
    assert answers["staff"].number == 12
    assert answers["readiness"].choice == "4"
    assert answers["level"].choice == "mayor"
    assert answers["comment"].text == "Потрібне навчання"
    matrix = {m.product.slug: (m.status, m.since_year) for m in MatrixAnswer.objects.all()}
    assert matrix == {"e-petitions": ("runs", 2019), "e-budget": ("plans", None)}


def test_draft_is_saved_without_required_answers_and_shown_to_the_next_visitor(
    client, version, invitation
):
    data = form_data(version, comment="Чернетка")
    assert client.post(url(invitation), {**data, "save": "1"}).status_code == 302
    saved = Response.objects.get()
    assert saved.status == "draft"
    page = client.get(url(invitation)).content.decode()  # a colleague opens the same link
    assert "Чернетка" in page


def test_question_hidden_by_its_condition_is_not_required(client, version, invitation):
    data = complete(version, **form_data(version, has_edms="no"))
    data.pop(
        f"q{Answer._meta.get_field('question').related_model.objects.get(code='edms_name').pk}"
    )
    assert client.post(url(invitation), {**data, "submit": "1"}).status_code == 302
    assert not Answer.objects.filter(question__code="edms_name").exists()


def test_answer_to_a_hidden_question_is_refused_and_kept(client, version, invitation):
    data = complete(version, **form_data(version, has_edms="no", edms_name="АСКОД"))
    page = client.post(url(invitation), {**data, "submit": "1"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Це питання стосується лише випадку" in text
    assert 'value="АСКОД"' in text and "Потрібне навчання" in text
    assert not Response.objects.exists()


def test_condition_met_makes_the_question_required(client, version, invitation):
    data = complete(version)
    data.pop(next(k for k, v in data.items() if v == "АСКОД"))
    page = client.post(url(invitation), {**data, "submit": "1"})
    assert page.status_code == 200
    assert Response.objects.count() == 0


@pytest.mark.parametrize(
    ("staff", "message"),
    [
        ("501", "Введіть число від 0 до 500."),
        ("-1", "Введіть число від 0 до 500."),
        ("дванадцять", "Введіть ціле число."),
    ],
)
def test_number_out_of_range_or_not_a_number_is_refused_and_typed_text_kept(
    client, version, invitation, staff, message
):
    page = client.post(
        url(invitation), {**complete(version, **form_data(version, staff=staff)), "submit": "1"}
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert message in text
    assert f'value="{staff}"' in text and "Потрібне навчання" in text
    assert not Response.objects.exists()


def test_required_question_skipped_is_refused_on_submit(client, version, invitation):
    data = complete(version)
    data.pop(next(k for k, v in data.items() if v == "12"))
    page = client.post(url(invitation), {**data, "submit": "1"})
    assert page.status_code == 200
    assert "Потрібне навчання" in page.content.decode()
    assert not Response.objects.exists()


def test_other_needs_its_text(client, version, invitation):
    data = complete(version)
    data.pop(next(k for k, v in data.items() if v == "Немає інтернету"))
    assert client.post(url(invitation), {**data, "submit": "1"}).status_code == 200
    assert not Response.objects.exists()


def test_matrix_year_only_with_runs(client, version, invitation):
    data = complete(version, **form_data(version, services={"e-budget": ("no", 2020)}))
    assert client.post(url(invitation), {**data, "submit": "1"}).status_code == 200
    assert not Response.objects.exists()


def test_second_submission_is_refused_with_a_message(client, version, invitation):
    client.post(url(invitation), {**complete(version), "submit": "1"})
    page = client.post(
        url(invitation), {**complete(version, **form_data(version, staff="99")), "submit": "1"}
    )
    assert page.status_code == 200
    assert "напишіть до секретаріату" in page.content.decode()
    assert Answer.objects.get(question__code="staff").number == 12


def test_forged_link_is_refused(client, invitation):
    token = services.make_token(invitation)
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    page = client.get(reverse("members:survey_fill", args=[forged]))
    assert page.status_code == 403


def test_link_for_another_council_cannot_be_made_by_editing_the_number(client, invitation):
    payload = signing.loads(services.make_token(invitation), salt=services.TOKEN_SALT)
    tampered = signing.dumps({**payload, "i": payload["i"] + 1}, salt="another-salt")
    assert client.get(reverse("members:survey_fill", args=[tampered])).status_code == 403


def test_expired_link_is_refused(client, invitation):
    old = timezone.now() - timedelta(days=365)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("django.core.signing.time.time", lambda: old.timestamp())
        token = services.make_token(invitation)
    page = client.get(reverse("members:survey_fill", args=[token]))
    assert page.status_code == 410


def test_link_after_the_wave_closed_is_refused(client, invitation):
    wave = invitation.wave
    wave.opens_on -= timedelta(days=60)
    wave.closes_on = timezone.localdate() - timedelta(days=1)
    wave.save()
    assert client.get(url(invitation)).status_code == 410


def test_replaced_link_is_refused(client, invitation):
    old = url(invitation)
    services.invitation_resend(invitation=invitation)
    assert client.get(old).status_code == 410
    assert client.get(url(Invitation.objects.get(pk=invitation.pk))).status_code == 200


def test_reused_link_after_submission_shows_it_was_submitted(client, version, invitation):
    client.post(url(invitation), {**complete(version), "submit": "1"})
    page = client.get(url(invitation)).content.decode()
    assert "survey-form" not in page
    assert "напишіть до секретаріату" in page


def test_one_response_per_council_and_wave_is_a_database_rule(version, invitation):
    from django.db import IntegrityError, transaction

    Response.objects.create(wave=invitation.wave, city=invitation.city, version=version)
    with pytest.raises(IntegrityError), transaction.atomic():
        Response.objects.create(wave=invitation.wave, city=invitation.city, version=version)


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_submit_gives_one_submitted_response():
    version = make_questionnaire()
    make_member(make_city(slug="kovel"))
    wave = make_wave(version)
    services.wave_send(wave=wave)
    invitation = Invitation.objects.get()
    answers = {}
    from members.surveys.forms import SurveyForm

    form = SurveyForm(complete(version), version=version, submitting=True)
    assert form.is_valid(), form.errors
    answers = form.answers()
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def submit():
        try:
            barrier.wait()
            services.response_save(invitation=invitation, answers=answers, submit=True)
            outcomes.append("ok")
        except services.Refused as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "survey_already_submitted"]
    assert Response.objects.filter(status="submitted").count() == 1


def test_the_form_speaks_the_councils_language_ukrainian_first(client, version, invitation):
    """Questions in Ukrainian by default, in English when chosen; an English text left empty
    falls back to the Ukrainian one."""
    from tests.members.survey_factories import question

    level = question(version, "level")
    level.text_en = ""
    level.save()
    page = client.get(url(invitation)).content.decode()
    assert "Питання has_edms" in page and "Do you run document management?" not in page
    client.cookies["opencity_language"] = "en"
    page = client.get(url(invitation)).content.decode()
    assert "Do you run document management?" in page and "Питання has_edms" not in page
    assert "Питання level" in page  # no English text: the Ukrainian one
    assert "Secretary" in page  # choice labels in English


def test_a_choice_whose_code_contains_other_is_not_the_other_answer(client, version, invitation):
    from members.surveys.models import Choice
    from tests.members.survey_factories import question

    level = question(version, "level")
    level.allow_other = True
    level.save()
    Choice.objects.create(
        question=level, order=3, value="another", label_uk="Інший орган", label_en="Another body"
    )
    data = complete(version, **{f"q{level.pk}": "another"})
    assert client.post(url(invitation), {**data, "submit": "1"}).status_code == 302
    answer = Answer.objects.get(question=level)
    assert (answer.choice, answer.other_text) == ("another", "")


def test_other_on_a_single_choice_keeps_its_text(client, version, invitation):
    from tests.members.survey_factories import question

    level = question(version, "level")
    level.allow_other = True
    level.save()
    data = complete(version, **{f"q{level.pk}": "other", f"q{level.pk}_other": "Староста"})
    assert client.post(url(invitation), {**data, "submit": "1"}).status_code == 302
    answer = Answer.objects.get(question=level)
    assert (answer.choice, answer.other_text) == ("other", "Староста")
