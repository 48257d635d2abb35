"""Academy session changes (a new date, time or place) reach the session's followers once
each, at their own pace (issue 16, item 2)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from academy import services as academy
from academy.access import ACADEMY_GROUP
from opencity.core.models import AuditEntry, OutboundEmail
from opencity.notifications import services
from opencity.notifications.models import Delivery, Event
from tests.academy.factories import make_session
from tests.factories import make_user

pytestmark = pytest.mark.django_db

KYIV = ZoneInfo("Europe/Kyiv")


@pytest.fixture
def academy_staff(db):
    user = make_user(full_name="Оксана Академія", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name=ACADEMY_GROUP)[0])
    return user


def admin_form(session, **changes) -> dict:
    """The session's admin change form as the browser posts it (Kyiv local times)."""
    values = {
        "course": session.course_id,
        "starts_at": session.starts_at,
        "ends_at": session.ends_at,
        "hours": session.hours,
        "city": session.city_id or "",
        "venue": session.venue,
        "meeting_url": session.meeting_url,
        "capacity": session.capacity,
        "registration_deadline": session.registration_deadline,
        "priority_until": session.priority_until,
        **changes,
    }
    data = {}
    for name, value in values.items():
        if isinstance(value, datetime):
            local = value.astimezone(KYIV)
            data[f"{name}_0"], data[f"{name}_1"] = f"{local:%Y-%m-%d}", f"{local:%H:%M:%S}"
        elif value is None:
            data[f"{name}_0"] = data[f"{name}_1"] = ""
        else:
            data[name] = value
    return data


def save_in_admin(client, session, **changes):
    response = client.post(
        reverse("admin:academy_session_change", args=[session.pk]), admin_form(session, **changes)
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    session.refresh_from_db()


def test_session_moved_in_the_admin_reaches_each_follower_once(
    client, committed, academy_staff, city_a
):
    session = make_session(city=city_a)
    follower = make_user(preferred_language="en")
    services.follow(follower, session)
    client.force_login(academy_staff)
    new_start = session.starts_at + timedelta(days=7)
    with committed():
        save_in_admin(
            client,
            session,
            starts_at=new_start,
            ends_at=new_start + timedelta(hours=3),
            registration_deadline=new_start - timedelta(days=1),
        )
    notice = OutboundEmail.objects.get(to=follower.email, key__startswith="notification:")
    local = timezone.localtime(new_start, KYIV)
    assert "The session has been moved" in notice.body_text
    assert f"{local:%H:%M}–{local + timedelta(hours=3):%H:%M}" in notice.body_text
    assert notice.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    entry = AuditEntry.objects.get(action="academy.session.changed")
    assert entry.actor_id == academy_staff.pk
    assert entry.data == {"fields": ["starts_at", "ends_at"]}

    # Saving again without a new date, time or place is not news; more seats neither.
    with committed():
        save_in_admin(client, session, capacity=session.capacity + 5)
    assert Event.objects.filter(kind="academy.session_changed").count() == 1
    assert Delivery.objects.filter(user=follower).count() == 1


def test_session_place_change_keeps_the_venue_for_registered_people(
    client, committed, academy_staff, city_a, city_b
):
    session = make_session(city=city_a, venue="Зала 1")
    follower = make_user(preferred_language="uk")
    services.follow(follower, session)
    client.force_login(academy_staff)
    with committed():
        save_in_admin(client, session, city=city_b.pk, venue="Таємна зала 7")
    body = OutboundEmail.objects.get(to=follower.email, key__startswith="notification:").body_text
    assert city_b.name_uk in body and "Таємна зала 7" not in body


def test_session_change_waits_for_the_daily_digest_at_kyiv_time(committed, city_a):
    session = make_session(city=city_a)
    follower = make_user(preferred_language="en")
    services.follow(follower, session)
    services.set_pace(follower, "academy.session_changed", "daily")
    session.venue = "Зала 2"
    with committed():
        session.save()
        assert academy.session_changed(session=session, actor=None, changed=["venue"])
    assert not OutboundEmail.objects.filter(to=follower.email).exists()
    delivery = Delivery.objects.get(user=follower)
    assert delivery.status == Delivery.Status.WAITING
    eight = timezone.localtime(timezone.now(), KYIV).replace(hour=8, minute=0) + timedelta(days=1)
    with committed():
        services.send_digests(eight)
    digest = OutboundEmail.objects.get(to=follower.email, key__startswith="digest:daily")
    assert "The venue or meeting link has changed" in digest.body_text
    assert "Зала 2" not in digest.body_text


def test_cancelled_or_finished_session_changes_tell_nobody(committed, city_a):
    cancelled = make_session(city=city_a, is_cancelled=True)
    assert not academy.session_changed(session=cancelled, actor=None, changed=["venue"])
    assert not academy.session_changed(
        session=make_session(city=city_a), actor=None, changed=["capacity", "trainers"]
    )
    assert not Event.objects.filter(kind="academy.session_changed").exists()


def test_session_cancellation_tells_a_follower_who_is_not_registered(committed, city_a):
    session = make_session(city=city_a)
    follower = make_user(preferred_language="en")
    services.follow(follower, session)
    with committed():
        academy.session_cancel(session_id=session.pk, actor=None)
    notice = OutboundEmail.objects.get(to=follower.email, key__startswith="notification:")
    assert "The session has been cancelled." in notice.body_text
