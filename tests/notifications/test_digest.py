"""Digests: waiting deliveries go out once per period, from 8:00 Kyiv time whatever the UTC
offset, grouped by city and service."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import translation

from opencity.core.models import OutboundEmail
from opencity.notifications import services
from opencity.notifications.models import Delivery, Pace
from petitions.models import Petition
from tests.factories import make_city, make_user
from tests.petitions.factories import make_petition

Status = Petition.Status


def digest_mails(user):
    return OutboundEmail.objects.filter(to=user.email, key__startswith="digest:")


@pytest.fixture
def event_for(committed):
    def make(user, petition, n):
        services.follow(user, petition)
        with committed():
            return services.emit(
                "petitions.milestone",
                petition,
                key=f"t:{petition.pk}:{n}",
                city=petition.city_id,
                data={"percent": 25, "threshold": 100},
            )

    return make


@pytest.mark.django_db
def test_daily_digest_at_eight_kyiv_time_across_the_dst_change(event_for, city_a):
    """Ukraine moves its clocks forward at 03:00 on 29 March 2026: 08:00 Kyiv is 06:00 UTC
    before and 05:00 UTC after. An hourly beat sends each day's digest at 08:00 Kyiv."""
    user = make_user()
    services.set_pace(user, "petitions.milestone", Pace.DAILY)
    petition = make_petition(city_a, status=Status.COLLECTING)
    sent_at = []
    now = datetime(2026, 3, 27, 22, 0, tzinfo=UTC)
    for n in range(60):
        event_for(user, petition, n)  # something new every hour
        if services.send_digests(now):
            sent_at.append(now)
        now += timedelta(hours=1)
    assert sent_at == [
        datetime(2026, 3, 28, 6, 0, tzinfo=UTC),  # EET, UTC+2
        datetime(2026, 3, 29, 5, 0, tzinfo=UTC),  # EEST, UTC+3: same Kyiv wall-clock time
        datetime(2026, 3, 30, 5, 0, tzinfo=UTC),
    ]
    assert digest_mails(user).count() == 3
    assert Delivery.objects.filter(user=user, status=Delivery.Status.WAITING).exists()


@pytest.mark.django_db
def test_digest_from_the_autumn_change_keeps_eight_kyiv_time(event_for, city_a):
    user = make_user()
    services.set_pace(user, "petitions.milestone", Pace.DAILY)
    petition = make_petition(city_a, status=Status.COLLECTING)
    sent_at = []
    now = datetime(2026, 10, 23, 22, 0, tzinfo=UTC)  # clocks go back on 25 October 2026
    for n in range(72):
        event_for(user, petition, n)
        if services.send_digests(now):
            sent_at.append(now)
        now += timedelta(hours=1)
    assert sent_at == [
        datetime(2026, 10, 24, 5, 0, tzinfo=UTC),  # 08:00 EEST
        datetime(2026, 10, 25, 6, 0, tzinfo=UTC),  # 08:00 EET
        datetime(2026, 10, 26, 6, 0, tzinfo=UTC),
    ]


@pytest.mark.django_db
def test_digest_run_twice_in_one_day_sends_one_mail(event_for, city_a):
    user = make_user()
    services.set_pace(user, "petitions.milestone", Pace.DAILY)
    petition = make_petition(city_a, status=Status.COLLECTING)
    event_for(user, petition, 1)
    morning = datetime(2026, 5, 12, 6, 0, tzinfo=UTC)
    assert services.send_digests(morning) == 1
    event_for(user, petition, 2)
    assert services.send_digests(morning + timedelta(minutes=5)) == 0
    assert digest_mails(user).count() == 1
    # The later event waits for tomorrow's digest rather than being lost.
    assert Delivery.objects.get(user=user, event__key=f"t:{petition.pk}:2").status == "waiting"
    assert services.send_digests(morning + timedelta(days=1)) == 1


@pytest.mark.django_db
def test_weekly_digest_only_on_monday(event_for, city_a):
    user = make_user()
    services.set_pace(user, "petitions.milestone", Pace.WEEKLY)
    petition = make_petition(city_a, status=Status.COLLECTING)
    event_for(user, petition, 1)
    tuesday = datetime(2026, 5, 12, 7, 0, tzinfo=UTC)
    assert services.send_digests(tuesday) == 0
    monday = datetime(2026, 5, 18, 5, 0, tzinfo=UTC)  # 08:00 Kyiv (EEST)
    assert services.send_digests(monday) == 1
    assert digest_mails(user).get().key.startswith("digest:weekly:2026-W21:")


@pytest.mark.django_db
def test_digest_groups_by_city_and_service_and_can_be_unsubscribed(event_for, city_a):
    city_b = make_city(name_uk="Рівненська", name_en="Rivnenska", slug="rivnenska")
    user = make_user(preferred_language="en")
    services.set_pace(user, "petitions.milestone", Pace.DAILY)
    event_for(user, make_petition(city_b, status=Status.COLLECTING), 1)
    event_for(user, make_petition(city_a, status=Status.COLLECTING), 2)
    event_for(user, make_petition(city_a, status=Status.COLLECTING), 3)
    services.send_digests(datetime(2026, 5, 12, 6, 0, tzinfo=UTC))
    email = digest_mails(user).get()
    body = email.body_text
    with translation.override("en"):  # the recipient's language
        heading_a = f"== {city_a.full_name} · Petitions =="
        heading_b = f"== {city_b.full_name} · Petitions =="
    assert body.index(heading_b) > body.index(heading_a)  # sorted by city
    assert body.count(heading_a) == 1 and body.count(heading_b) == 1
    assert body.count("25 %") == 3
    assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_digest_beat_runs_every_hour():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["notifications-digests"]
    assert entry["task"] == "opencity.notifications.tasks.send_digests"
    assert entry["schedule"].minute == {0} and len(entry["schedule"].hour) == 24
