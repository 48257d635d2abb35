"""Attendance, certificates for attendees only, the PDF, the public check page."""

from __future__ import annotations

import re
import zlib
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from academy import services
from academy.access import ACADEMY_GROUP
from academy.certificates import render_certificate_pdf
from academy.models import Certificate, Registration
from opencity.core import Refused
from opencity.core.models import OutboundEmail
from tests.academy.factories import make_expert, make_past_session, make_session, seat
from tests.factories import make_user

Status = Registration.Status


@pytest.fixture
def academy_staff(db):
    user = make_user(full_name="Оксана Академія", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name=ACADEMY_GROUP)[0])
    return user


@pytest.fixture
def held_session(db):
    return make_past_session()


@pytest.mark.django_db
def test_marking_attendance_issues_a_certificate_with_a_pdf(
    academy_staff, held_session, citizen, django_capture_on_commit_callbacks
):
    registration = seat(held_session, citizen)
    absent = seat(held_session, make_user())
    with django_capture_on_commit_callbacks(execute=True):
        changed = services.attendance_mark(
            session=held_session, attended_ids={registration.pk}, actor=academy_staff
        )
    assert changed == 1
    certificate = Certificate.objects.get()
    assert certificate.registration == registration
    assert certificate.holder_name == citizen.full_name
    assert certificate.hours == held_session.hours
    assert certificate.pdf.name and certificate.pdf.read(4) == b"%PDF"
    assert not Certificate.objects.filter(registration=absent).exists()
    assert [m.to for m in mail.outbox] == [[citizen.email]]
    assert certificate.code in mail.outbox[0].body


@pytest.mark.django_db
def test_no_certificate_for_people_who_did_not_attend(held_session, citizen):
    registration = seat(held_session, citizen)
    with pytest.raises(Refused) as refused:
        services.certificate_issue(registration=registration)
    assert refused.value.code == "not_attendee"
    waiting = seat(held_session, make_user(), status=Status.WAITLISTED, waitlist_position=1)
    with pytest.raises(Refused) as refused:
        services.attendance_set(registration=waiting, attended=True, actor=None)
    assert refused.value.code == "not_seated"
    assert not Certificate.objects.exists()


@pytest.mark.django_db
def test_attendance_cannot_be_marked_before_the_session_starts(academy_staff, citizen):
    registration = seat(make_session(), citizen)
    with pytest.raises(Refused) as refused:
        services.attendance_set(registration=registration, attended=True, actor=academy_staff)
    assert refused.value.code == "not_started"


@pytest.mark.django_db
def test_withdrawn_attendance_revokes_the_certificate(academy_staff, held_session, citizen):
    registration = seat(held_session, citizen)
    services.attendance_set(registration=registration, attended=True, actor=academy_staff)
    services.attendance_set(registration=registration, attended=False, actor=academy_staff)
    assert Certificate.objects.get().is_revoked


@pytest.mark.django_db
def test_pdf_generation_is_idempotent(held_session, citizen):
    registration = seat(held_session, citizen, attended=True)
    certificate = services.certificate_issue(registration=registration)
    assert services.certificate_generate_pdf(certificate_id=certificate.pk) is True
    assert services.certificate_generate_pdf(certificate_id=certificate.pk) is False
    assert Certificate.objects.get().pdf.name.endswith(".pdf")
    assert OutboundEmail.objects.filter(key__startswith="academy:certificate:").count() == 1


def _characters_with_glyphs(pdf: bytes) -> set[str]:
    """Every character the PDF's embedded fonts map a glyph to (their ToUnicode tables):
    a subset font carries exactly the characters printed with it."""
    characters = set()
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            body = zlib.decompress(match.group(1))
        except zlib.error:  # stored uncompressed (fpdf2 writes the ToUnicode maps so)
            body = match.group(1)
        for code in re.findall(rb"<[0-9A-F]{4}> <([0-9A-F]{4})>", body):
            characters.add(chr(int(code, 16)))
    return characters


@pytest.mark.django_db
def test_certificate_pdf_prints_the_holders_cyrillic_name_and_its_code(held_session):
    holder = make_user(full_name="Олена Ґудзь-Їжакевич")
    registration = seat(held_session, holder, attended=True)
    certificate = services.certificate_issue(registration=registration)
    data = render_certificate_pdf(certificate)
    assert data.startswith(b"%PDF")
    assert b"DejaVuSans" in data  # the shipped font with Cyrillic, embedded
    printed = _characters_with_glyphs(data)
    assert set(holder.full_name.replace(" ", "")) <= printed
    assert set(certificate.code) <= printed  # the speed of rendering: bench/enrol_surge.py


@pytest.mark.django_db
def test_codes_are_unique_and_unguessable():
    codes = {services.new_certificate_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(code) == len("ECA-XXXXX-XXXXX-XXXXX-XXXXX") for code in codes)


# --- the public check page ------------------------------------------------------------------
@pytest.fixture
def certificate(held_session, citizen):
    registration = seat(held_session, citizen, attended=True)
    return services.certificate_issue(registration=registration)


@pytest.mark.django_db
def test_check_page_confirms_a_valid_certificate_with_only_what_is_printed(client, certificate):
    response = client.get(reverse("academy:certificate_check", args=[certificate.code]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "справжній" in body
    assert certificate.holder_name in body and certificate.course_title in body
    assert certificate.registration.user.email not in body


@pytest.mark.django_db
def test_check_page_accepts_a_code_typed_in_lower_case(client, certificate):
    response = client.get(reverse("academy:certificate_check", args=[certificate.code.lower()]))
    assert response.status_code == 200


@pytest.mark.django_db
def test_unknown_code_gives_a_not_found_page(client):
    response = client.get(
        reverse("academy:certificate_check", args=["ECA-AAAAA-BBBBB-CCCCC-DDDDD"])
    )
    assert response.status_code == 404
    assert "Сертифікат не знайдено" in response.content.decode()


@pytest.mark.django_db
def test_revoked_certificate_says_it_is_revoked(client, certificate):
    services.certificate_revoke(certificate=certificate, reason="помилка")
    response = client.get(reverse("academy:certificate_check", args=[certificate.code]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "відкликано" in body and "справжній" not in body


@pytest.mark.django_db
def test_lookup_form_redirects_to_the_check_page(client):
    response = client.get(reverse("academy:certificate_lookup"), {"code": " eca-abc/<x> "})
    assert response["Location"] == reverse("academy:certificate_check", args=["ECA-ABCX"])


@pytest.mark.django_db
def test_only_the_holder_downloads_the_pdf(client, certificate, citizen):
    services.certificate_generate_pdf(certificate_id=certificate.pk)
    url = reverse("academy:certificate_pdf", args=[certificate.code])
    assert client.get(url).status_code == 302  # anonymous: sign in first
    client.force_login(make_user())
    assert client.get(url).status_code == 404
    client.force_login(citizen)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")


# --- the roster page ------------------------------------------------------------------------
@pytest.mark.django_db
def test_trainer_of_the_session_marks_attendance_on_the_roster(client, held_session, citizen):
    trainer = make_user(full_name="Ігор Тренер")
    held_session.trainers.add(make_expert(user=trainer))
    registration = seat(held_session, citizen)
    client.force_login(trainer)
    url = reverse("academy:session_roster", args=[held_session.pk])
    assert citizen.full_name in client.get(url).content.decode()
    client.post(url, {"attended": [registration.pk]})
    registration.refresh_from_db()
    assert registration.attended


@pytest.mark.parametrize("who", ["association", "academy"])
@pytest.mark.django_db
def test_association_and_academy_staff_may_open_any_roster(
    client, held_session, association_staff, academy_staff, who
):
    client.force_login(association_staff if who == "association" else academy_staff)
    response = client.get(reverse("academy:session_roster", args=[held_session.pk]))
    assert response.status_code == 200


@pytest.mark.django_db
def test_citizens_clerks_and_other_trainers_may_not_mark_attendance(
    client, held_session, citizen, moderator_a
):
    registration = seat(held_session, citizen)
    other_trainer = make_user()
    make_session().trainers.add(make_expert(user=other_trainer))
    url = reverse("academy:session_roster", args=[held_session.pk])
    for user in (citizen, moderator_a, other_trainer):
        client.force_login(user)
        assert client.get(url).status_code == 404
        assert client.post(url, {"attended": [registration.pk]}).status_code == 404
        assert not Registration.objects.get(pk=registration.pk).attended
    client.logout()
    assert client.get(url).status_code == 302
    registration.refresh_from_db()
    assert not registration.attended


@pytest.mark.django_db
def test_roster_before_the_session_refuses_attendance(client, academy_staff, citizen):
    session = make_session(starts_in=timedelta(hours=30))
    registration = seat(session, citizen)
    client.force_login(academy_staff)
    client.post(
        reverse("academy:session_roster", args=[session.pk]), {"attended": [registration.pk]}
    )
    registration.refresh_from_db()
    assert not registration.attended
    assert timezone.now() < session.starts_at


def test_bundled_certificate_fonts_cover_ukrainian_text():
    from fontTools.ttLib import TTFont

    from academy.certificates import FONTS

    text = "АБВГҐДЕЄЖЗИІЇЙКЛМНОПРСТУФХЦЧШЩЬЮЯабвгґдеєжзиіїйклмнопрстуфхцчшщьюя’«»·№–—ABCxyz019"
    for name in ("DejaVuSans-LatinCyrillic.ttf", "DejaVuSans-Bold-LatinCyrillic.ttf"):
        cmap = TTFont(FONTS / name).getBestCmap()
        assert [char for char in text if ord(char) not in cmap] == []
    assert (FONTS / "LICENSE-DejaVu.txt").exists()
