"""training_stats / trainings_for_city / home_summary, and who sees what in admin."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from academy import selectors
from academy.models import Feedback, Registration
from tests.academy.factories import make_past_session, make_session, seat
from tests.factories import make_city, make_user


@pytest.fixture
def trained(city_a, city_b):
    """Two held sessions: 3 h and 2 h; people of city A and B attended."""
    other_oblast = make_city(oblast_uk="Чернівецька", oblast_en="Chernivetska")
    first = make_past_session(hours=Decimal("3.0"))
    second = make_past_session(starts_in=-timedelta(days=40))  # 2 h derived
    a1, a2, b1, c1 = (make_user() for _ in range(4))
    r = seat(first, a1, city=city_a, attended=True)
    Feedback.objects.create(registration=r, rating=5)
    r = seat(first, a2, city=city_a, attended=True)
    Feedback.objects.create(registration=r, rating=4)
    seat(second, a1, city=city_a, attended=True)
    seat(first, b1, city=city_b, attended=True)
    seat(first, c1, city=other_oblast, attended=False)  # registered, did not come
    seat(second, c1, city=other_oblast, attended=True)
    return {"first": first, "second": second, "other": other_oblast}


@pytest.mark.django_db
def test_training_stats_by_city(trained, city_a, city_b, django_assert_num_queries):
    with django_assert_num_queries(1):
        stats = selectors.training_stats(by="city")
    assert stats[city_a.pk] == {
        "people_trained": 2,
        "hours": Decimal("8.0"),  # a1: 3 + 2, a2: 3
        "sessions_held": 2,
        "avg_rating": Decimal("4.50"),
    }
    assert stats[city_b.pk]["people_trained"] == 1 and stats[city_b.pk]["avg_rating"] is None
    assert stats[trained["other"].pk]["hours"] == Decimal("2.0")


@pytest.mark.django_db
def test_training_stats_by_oblast_total_and_date_range(trained, django_assert_num_queries):
    with django_assert_num_queries(1):
        by_oblast = selectors.training_stats(by="oblast")
    assert by_oblast["Волинська"]["people_trained"] == 3
    assert by_oblast["Чернівецька"]["people_trained"] == 1
    total = selectors.training_stats(by="total")["total"]
    assert total["people_trained"] == 4 and total["sessions_held"] == 2
    recent = selectors.training_stats(
        date_from=timezone.localdate() - timedelta(days=10), by="total"
    )["total"]
    assert recent["sessions_held"] == 1 and recent["hours"] == Decimal("9.0")


@pytest.mark.django_db
def test_training_stats_query_count_does_not_grow_with_cities(django_assert_num_queries):
    session = make_past_session()
    for _ in range(15):
        seat(session, make_user(), city=make_city(), attended=True)
    with django_assert_num_queries(1):
        assert len(selectors.training_stats(by="city")) == 15


@pytest.mark.django_db
def test_trainings_for_city(trained, city_a, django_assert_num_queries):
    with django_assert_num_queries(1):
        rows = selectors.trainings_for_city(city_a)
    assert [row["attendees"] for row in rows] == [2, 1]
    assert rows[0]["course_title"] == trained["first"].course.title
    assert rows[0]["session_start"] == trained["first"].starts_at


@pytest.mark.django_db
def test_home_summary_and_card(client, trained):
    make_session()
    summary = selectors.home_summary()
    assert summary["upcoming_sessions"] == 1 and summary["people_trained"] == 4
    assert "Академія" in client.get("/").content.decode()


# --- admin ----------------------------------------------------------------------------------
@pytest.mark.django_db
def test_clerk_sees_only_their_citys_participants_in_admin(client, moderator_a, city_a, city_b):
    session = make_session()
    mine = seat(session, make_user(full_name="Учасниця Луцька"), city=city_a)
    seat(session, make_user(full_name="Учасник Чернівців"), city=city_b)
    client.force_login(moderator_a)
    response = client.get("/admin/academy/registration/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Учасниця Луцька" in body and "Учасник Чернівців" not in body
    assert client.get(f"/admin/academy/registration/{mine.pk}/change/").status_code == 200
    assert client.get("/admin/academy/session/").status_code == 403
    assert client.get("/admin/academy/certificate/").status_code == 403


@pytest.mark.django_db
def test_academy_admin_is_for_association_staff(client, association_staff, city_b):
    seat(make_session(), make_user(full_name="Учасник Чернівців"), city=city_b)
    client.force_login(association_staff)
    assert "Учасник Чернівців" in client.get("/admin/academy/registration/").content.decode()
    assert client.get("/admin/academy/session/add/").status_code == 200
    assert client.get("/admin/academy/expert/").status_code == 200


@pytest.mark.django_db
def test_admin_action_marks_attendance(client, association_staff, citizen):
    registration = seat(make_past_session(), citizen)
    client.force_login(association_staff)
    client.post(
        "/admin/academy/registration/",
        {"action": "mark_attended", "_selected_action": [registration.pk]},
    )
    registration.refresh_from_db()
    assert registration.attended
    assert Registration.objects.get(pk=registration.pk).certificate


@pytest.mark.django_db
def test_more_seats_in_admin_promote_the_waitlist(
    client, association_staff, django_capture_on_commit_callbacks
):
    session = make_session(capacity=1)
    seat(session, make_user())
    waiting = seat(session, make_user(), status=Registration.Status.WAITLISTED, waitlist_position=1)
    client.force_login(association_staff)
    url = f"/admin/academy/session/{session.pk}/change/"
    response = client.get(url)
    form = response.context["adminform"].form
    data = {
        name: form.initial.get(name) for name in form.fields if form.initial.get(name) is not None
    }
    local = timezone.localtime
    data.update(
        {
            "capacity": 2,
            "starts_at_0": local(session.starts_at).strftime("%d.%m.%Y"),
            "starts_at_1": local(session.starts_at).strftime("%H:%M:%S"),
            "ends_at_0": local(session.ends_at).strftime("%d.%m.%Y"),
            "ends_at_1": local(session.ends_at).strftime("%H:%M:%S"),
            "registration_deadline_0": local(session.registration_deadline).strftime("%d.%m.%Y"),
            "registration_deadline_1": local(session.registration_deadline).strftime("%H:%M:%S"),
            "course": session.course_id,
            "trainers": [],
        }
    )
    data.pop("starts_at", None), data.pop("ends_at", None), data.pop("registration_deadline", None)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    waiting.refresh_from_db()
    assert waiting.status == Registration.Status.SEATED


def test_beat_schedule_names_real_tasks():
    from academy.schedule import BEAT_SCHEDULE
    from opencity import celery_app

    celery_app.loader.import_default_modules()
    for entry in BEAT_SCHEDULE.values():
        assert entry["task"] in celery_app.tasks


@pytest.mark.django_db
def test_cancelling_a_session_emails_everyone_registered_once(
    client, association_staff, django_capture_on_commit_callbacks
):
    session = make_session(capacity=1)
    seated = seat(session, make_user())
    waiting = seat(session, make_user(), status=Registration.Status.WAITLISTED, waitlist_position=1)
    seat(session, make_user(), status=Registration.Status.CANCELLED)
    client.force_login(association_staff)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            client.post(
                "/admin/academy/session/",
                {"action": "cancel_sessions", "_selected_action": [session.pk]},
            )
    session.refresh_from_db()
    assert session.is_cancelled
    assert sorted(m.to[0] for m in mail.outbox) == sorted([seated.user.email, waiting.user.email])
