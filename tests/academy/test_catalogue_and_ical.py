"""The public catalogue, the session page (venue only for registered people), iCalendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from academy import ical
from academy.models import Course, Registration
from tests.academy.factories import make_course, make_past_session, make_session, make_topic, seat
from tests.factories import make_user

Status = Registration.Status


@pytest.mark.django_db
def test_catalogue_lists_upcoming_sessions_by_default(client):
    upcoming = make_session(course=make_course(title="Відкриті дані громади"))
    make_past_session(course=make_course(title="Минулий курс"))
    response = client.get(reverse("academy:index"))
    body = response.content.decode()
    assert response.status_code == 200
    assert upcoming.course.title in body and "Минулий курс" not in body


@pytest.mark.django_db
def test_catalogue_filters_by_topic_format_city_time_and_free_seats(client, city_a):
    topic = make_topic(name_uk="Бюджет участі")
    online = make_session(course=make_course(title="Онлайн-курс", topics=[topic],
                                             format=Course.Format.ONLINE))  # fmt: skip
    in_city = make_session(course=make_course(title="Курс у Луцьку"), city=city_a)
    full = make_session(course=make_course(title="Повний курс"), capacity=1)
    seat(full, make_user())
    past = make_past_session(course=make_course(title="Торішній курс"))

    def titles(**params):
        body = client.get(reverse("academy:index"), params).content.decode()
        return {s.course.title for s in (online, in_city, full, past) if s.course.title in body}

    assert titles(topic=topic.pk) == {"Онлайн-курс"}
    assert titles(format="online") == {"Онлайн-курс"}
    assert titles(city=city_a.pk) == {"Курс у Луцьку"}
    assert titles(when="past") == {"Торішній курс"}
    assert titles(free_seats="on") == {"Онлайн-курс", "Курс у Луцьку"}


@pytest.mark.django_db
def test_unpublished_course_is_not_shown(client):
    session = make_session(course=make_course(is_published=False, title="Чернетка курсу"))
    assert "Чернетка курсу" not in client.get(reverse("academy:index")).content.decode()
    assert client.get(session.get_absolute_url()).status_code == 404


@pytest.mark.django_db
def test_venue_and_meeting_link_are_shown_only_to_registered_people(client, citizen):
    session = make_session(meeting_url="https://meet.example.org/secret-room")
    assert "secret-room" not in client.get(session.get_absolute_url()).content.decode()
    client.force_login(citizen)
    assert "secret-room" not in client.get(session.get_absolute_url()).content.decode()
    seat(session, citizen)
    body = client.get(session.get_absolute_url()).content.decode()
    assert "secret-room" in body and session.venue in body


@pytest.mark.django_db
def test_waitlisted_people_do_not_see_the_meeting_link(client, citizen):
    session = make_session(meeting_url="https://meet.example.org/secret-room", capacity=1)
    seat(session, make_user())
    seat(session, citizen, status=Status.WAITLISTED, waitlist_position=1)
    client.force_login(citizen)
    assert "secret-room" not in client.get(session.get_absolute_url()).content.decode()


# --- iCalendar ------------------------------------------------------------------------------
def _unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


@pytest.mark.django_db
def test_session_ics_follows_rfc_5545(client, settings):
    settings.SITE_URL = "https://opencity.example.org"
    starts = datetime(2030, 3, 5, 8, 0, tzinfo=UTC)  # 10:00 in Kyiv
    course = make_course(
        title="Е-петиції; бюджет участі, відкриті дані\\аналітика",
        description="Перший рядок\nДругий рядок " + "довгий опис " * 20,
    )
    session = make_session(course=course, starts_at=starts)
    response = client.get(reverse("academy:session_ics", args=[session.pk]))
    assert response["Content-Type"].startswith("text/calendar")
    text = response.content.decode("utf-8")
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert text.endswith("END:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")  # only CRLF line endings
    for line in text.split("\r\n"):
        assert len(line.encode("utf-8")) <= 75
    lines = _unfold(text)
    assert f"UID:academy-session-{session.pk}@opencity.example.org" in lines
    assert "DTSTART:20300305T080000Z" in lines
    assert "DTEND:20300305T100000Z" in lines
    assert any(line.startswith("DTSTAMP:") and line.endswith("Z") for line in lines)
    assert "SUMMARY:Е-петиції\\; бюджет участі\\, відкриті дані\\\\аналітика" in lines
    description = next(line for line in lines if line.startswith("DESCRIPTION:"))
    assert "Перший рядок\\nДругий рядок" in description
    assert not any(line.startswith("LOCATION:") for line in lines)  # not registered


@pytest.mark.django_db
def test_session_ics_has_the_venue_for_a_registered_person(client, citizen):
    session = make_session(venue="Зала 2, вул. Лесі Українки, 1")
    seat(session, citizen)
    client.force_login(citizen)
    lines = _unfold(client.get(reverse("academy:session_ics", args=[session.pk])).content.decode())
    assert "LOCATION:Зала 2\\, вул. Лесі Українки\\, 1" in lines


@pytest.mark.django_db
def test_calendar_feed_lists_upcoming_sessions_only(client):
    upcoming = [make_session(), make_session(starts_in=timedelta(days=40))]
    past = make_past_session()
    text = client.get(reverse("academy:calendar_feed")).content.decode()
    lines = _unfold(text)
    assert lines.count("BEGIN:VEVENT") == 2
    for session in upcoming:
        assert f"UID:academy-session-{session.pk}@127.0.0.1" in lines
    assert f"UID:academy-session-{past.pk}@127.0.0.1" not in lines
    assert upcoming[0].venue.split(",")[0] not in text  # venues are for registered people


def test_folding_never_splits_a_multibyte_character():
    line = "SUMMARY:" + "Ї" * 100
    folded = ical.fold(line)
    for part in folded.split("\r\n"):
        assert len(part.encode("utf-8")) <= 75
        part.encode("utf-8").decode("utf-8")
    assert folded.replace("\r\n ", "") == line


@pytest.mark.django_db
def test_calendar_feed_marks_a_cancelled_session_so_calendars_drop_it(client):
    session = make_session(is_cancelled=True)
    lines = _unfold(client.get(reverse("academy:calendar_feed")).content.decode())
    assert f"UID:academy-session-{session.pk}@127.0.0.1" in lines
    assert "STATUS:CANCELLED" in lines
