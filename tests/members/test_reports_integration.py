"""The activity and period reports on real rows of the petitions and academy apps (their
selectors, not stand-ins), and city staff kept out of the association's admin pages."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from academy.models import Course, Registration, Session
from members import reports
from members.models import CityContact, Invoice
from petitions.models import Petition
from tests.factories import make_user
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.get_current_timezone())


def _petition(city, author, submitted: date, **fields) -> Petition:
    values = {"status": "submitted", "title": "Петиція", "author_name": "Автор", "text": "Текст"}
    values.update(fields)
    return Petition.objects.create(city=city, author=author, submitted_at=_at(submitted), **values)


def _published(day: date) -> dict:
    return {"status": "collecting", "published_at": _at(day, 15), "threshold": 300,
            "collection_days": 60}  # fmt: skip


def _session(day: date, hours: str) -> Session:
    course, _ = Course.objects.get_or_create(
        slug="e-democracy-101",
        defaults={"title": "Е-демократія 101", "description": "Опис", "audience": "працівники",
                  "format": "online"},
    )  # fmt: skip
    starts = _at(day, 10)
    return Session.objects.create(
        course=course,
        starts_at=starts,
        ends_at=starts + timedelta(hours=4),
        hours=Decimal(hours),
        capacity=30,
        registration_deadline=starts,
    )


def test_activity_and_period_reports_on_real_petitions_and_trainings(city_a, city_b):
    make_member(city_a, date(2016, 1, 1))
    author = make_user()
    # in Q1 2024 for city A: 3 filed, 2 published, 1 answered on time, 1 answered late
    _petition(city_a, author, date(2024, 1, 5))
    _petition(city_a, author, date(2024, 1, 10), **_published(date(2024, 1, 11)))
    reached = _published(date(2024, 2, 2))
    reached.update(status="answered", reached_at=_at(date(2024, 2, 20)),
                   answered_at=_at(date(2024, 3, 1)), answered_on_time=True,
                   response_decision="supported")  # fmt: skip
    _petition(city_a, author, date(2024, 2, 1), **reached)
    late = _published(date(2023, 10, 2))
    late.update(status="answered", reached_at=_at(date(2023, 11, 1)),
                answered_at=_at(date(2024, 1, 20)), answered_on_time=False,
                response_decision="partly")  # fmt: skip
    _petition(city_b, author, date(2023, 10, 1), **late)
    _petition(city_a, author, date(2024, 4, 1))  # outside the period

    attended, other = _session(date(2024, 2, 14), "4.0"), _session(date(2024, 5, 1), "2.0")
    for user, city, present in ((make_user(), city_a, True), (make_user(), city_a, True),
                                (make_user(), city_b, False)):  # fmt: skip
        Registration.objects.create(session=attended, user=user, city=city, status="seated",
                                    attended=present)  # fmt: skip
    Registration.objects.create(session=other, user=make_user(), city=city_b, status="seated",
                                attended=True)  # fmt: skip

    (table,) = reports.activity_report(date(2024, 1, 1), date(2024, 3, 31)).tables
    rows = {row[0]: row[2:] for row in table.rows}
    # filed, published, on time, late, initiatives submitted, funded, staff trained; then
    # problem reports filed, answered, answered on time, median hours (none here); then
    # signatures online and on paper, ballots online and on paper (none here either)
    assert rows[city_a.name_uk] == [3, 2, 1, 0, 0, 0, 2, 0, 0, 0, Decimal("0"), 0, 0, 0, 0]
    assert rows[city_b.name_uk] == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, Decimal("0"), 0, 0, 0, 0]

    summary = dict(reports.period_report(date(2024, 1, 1), date(2024, 3, 31)).tables[0].rows)
    values = list(summary.values())
    assert values[10:13] == [1, 2, Decimal("8.0")]  # sessions held, people trained, hours
    assert values[3:8] == [3, 2, 1, 1, 1]  # filed, published, reached, on time, late


@pytest.mark.parametrize(
    "model", ["invoice", "payment", "citycontact", "membershipapplication", "duestier"]
)
def test_city_staff_do_not_see_the_association_back_office(city_admin_a, client, city_a, model):
    CityContact.objects.create(city=city_a, email="mayor@example.org")
    Invoice.objects.create(city=city_a, year=2024, annual_dues=Decimal("1.00"),
                           issued_on=date(2024, 1, 1), number="X-1")  # fmt: skip
    client.force_login(city_admin_a)
    assert client.get(reverse(f"admin:members_{model}_changelist")).status_code == 403


def test_city_profile_lists_open_petitions_and_trainings_of_its_staff(client, city_a, city_b):
    make_member(city_a, date(2016, 1, 1))
    author = make_user()
    opened = _published(date(2024, 1, 6))
    _petition(city_a, author, date(2024, 1, 5), title="Більше велодоріжок", **opened)
    _petition(city_b, author, date(2024, 1, 5), title="Чужа петиція", **opened)
    session = _session(date(2024, 2, 14), "4.0")
    Registration.objects.create(session=session, user=make_user(), city=city_a, status="seated",
                                attended=True)  # fmt: skip
    response = client.get(reverse("members:city_detail", args=[city_a.slug]))
    body = response.content.decode()
    assert "Більше велодоріжок" in body and "Чужа петиція" not in body
    assert "Е-демократія 101" in body
