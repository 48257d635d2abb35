"""Academy factories: topics, courses, sessions, registrations, experts, member cities."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from django.utils import timezone

from academy.models import Course, Expert, Registration, Session, Topic
from members.models import MembershipEvent
from opencity.cities.models import City

_seq = itertools.count(1)


def make_topic(**fields) -> Topic:
    n = next(_seq)
    defaults = {"slug": f"topic-{n}", "name_uk": f"Тема {n}", "name_en": f"Topic {n}"}
    defaults.update(fields)
    return Topic.objects.create(**defaults)


def make_course(*, topics=(), **fields) -> Course:
    n = next(_seq)
    defaults = {
        "title": f"Електронна демократія {n}",
        "slug": f"course-{n}",
        "description": "Як запровадити е-петиції та бюджет участі у громаді.",
        "audience": "Працівники міських рад",
        "format": Course.Format.IN_PERSON,
    }
    defaults.update(fields)
    course = Course.objects.create(**defaults)
    if topics:
        course.topics.set(topics)
    return course


def make_session(*, course: Course | None = None, starts_in=timedelta(days=10), **fields):
    """A session starting `starts_in` from now, two hours long; deadline a day before."""
    now = timezone.now()
    starts_at = fields.pop("starts_at", now + starts_in)
    defaults = {
        "course": course or make_course(),
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(hours=2),
        "registration_deadline": starts_at - timedelta(days=1),
        "capacity": 20,
        "venue": "Луцьк, вул. Богдана Хмельницького, 19, зала засідань",
        "meeting_url": "",
    }
    defaults.update(fields)
    if defaults["registration_deadline"] > defaults["starts_at"]:
        defaults["registration_deadline"] = defaults["starts_at"]
    return Session.objects.create(**defaults)


def make_past_session(*, starts_in=-timedelta(days=2), **fields) -> Session:
    """A session that has already taken place (inserted directly: the deadline passed)."""
    return make_session(starts_in=starts_in, **fields)


def seat(session: Session, user, **fields) -> Registration:
    """A seated registration created directly (bypassing the rules), for setting up scenes."""
    fields.setdefault("status", Registration.Status.SEATED)
    fields.setdefault("city", user.home_city)
    return Registration.objects.create(session=session, user=user, **fields)


def make_member(city: City, on: date | None = None) -> City:
    MembershipEvent.objects.create(
        city=city,
        status=MembershipEvent.Status.MEMBER,
        effective_on=on or date(2015, 6, 12),
        decided_by=MembershipEvent.Body.FOUNDING,
    )
    return city


def make_expert(**fields) -> Expert:
    n = next(_seq)
    defaults = {
        "full_name": f"Експертка {n}",
        "slug": f"expert-{n}",
        "headline": "Консультантка з е-урядування",
        "email": f"expert{n}@example.org",
        "phone": "+380 67 000 00 00",
        "languages": "uk,en",
    }
    defaults.update(fields)
    return Expert.objects.create(**defaults)
