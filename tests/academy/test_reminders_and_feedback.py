"""Reminders 24 h before (idempotent) and feedback from attendees only, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.urls import reverse

from academy import services, tasks
from academy.models import Feedback, Registration
from opencity.core import Refused
from tests.academy.factories import make_past_session, make_session, seat
from tests.academy.test_registration import run_in_threads
from tests.factories import make_user

Status = Registration.Status


@pytest.mark.django_db
def test_reminder_goes_to_seated_people_of_sessions_starting_within_a_day(
    django_capture_on_commit_callbacks,
):
    soon = make_session(starts_in=timedelta(hours=20), meeting_url="https://meet.example.org/x")
    later = make_session(starts_in=timedelta(hours=30))
    seated = seat(soon, make_user())
    seat(soon, make_user(), status=Status.WAITLISTED, waitlist_position=1)
    seat(later, make_user())
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.send_reminders() == 1
    assert [m.to for m in mail.outbox] == [[seated.user.email]]
    assert "https://meet.example.org/x" in mail.outbox[0].body
    seated.refresh_from_db()
    assert seated.reminder_sent_at is not None


@pytest.mark.django_db
def test_reminders_are_not_sent_twice(django_capture_on_commit_callbacks):
    session = make_session(starts_in=timedelta(hours=10))
    seat(session, make_user())
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.send_reminders() == 1
        assert tasks.send_reminders() == 0
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_overlapping_reminder_runs_send_each_reminder_once():
    session = make_session(starts_in=timedelta(hours=10))
    people = [seat(session, make_user()) for _ in range(5)]
    results = run_in_threads([tasks.send_reminders for _ in range(4)])
    assert sum(results) == 5
    assert sorted(m.to[0] for m in mail.outbox) == sorted(r.user.email for r in people)


# --- feedback -------------------------------------------------------------------------------
@pytest.fixture
def attended(citizen):
    return seat(make_past_session(), citizen, attended=True)


@pytest.mark.django_db
def test_attendee_leaves_feedback_once(citizen_client, attended):
    url = reverse("academy:feedback", args=[attended.pk])
    assert citizen_client.get(url).status_code == 200
    response = citizen_client.post(url, {"rating": "5", "comment": "Дуже корисно"})
    assert response.status_code == 302
    assert Feedback.objects.get(registration=attended).rating == 5
    response = citizen_client.post(url, {"rating": "1", "comment": "ще раз"}, follow=True)
    assert "вже залишили відгук" in response.content.decode()
    assert Feedback.objects.get(registration=attended).rating == 5


@pytest.mark.django_db
def test_registered_person_who_did_not_attend_cannot_leave_feedback(citizen_client, citizen):
    registration = seat(make_past_session(), citizen)
    url = reverse("academy:feedback", args=[registration.pk])
    assert citizen_client.get(url).status_code == 404
    citizen_client.post(url, {"rating": "4"})
    assert not Feedback.objects.exists()


@pytest.mark.django_db
def test_nobody_leaves_feedback_on_someone_elses_registration(client, attended):
    client.force_login(make_user())
    response = client.post(reverse("academy:feedback", args=[attended.pk]), {"rating": "1"})
    assert response.status_code == 404
    assert not Feedback.objects.exists()


@pytest.mark.django_db
def test_feedback_waits_for_the_session_to_end(citizen):
    registration = seat(make_session(), citizen, attended=True)
    with pytest.raises(Refused) as refused:
        services.feedback_submit(registration=registration, user=citizen, rating=4, comment="")
    assert refused.value.code == "not_over"


@pytest.mark.django_db
def test_rating_outside_one_to_five_is_refused_by_the_form_and_the_database(
    citizen_client, attended
):
    response = citizen_client.post(reverse("academy:feedback", args=[attended.pk]), {"rating": "6"})
    assert response.status_code == 200 and not Feedback.objects.exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        Feedback.objects.create(registration=attended, rating=6)


@pytest.mark.django_db
def test_feedback_closes_a_month_after_the_session(citizen):
    registration = seat(make_past_session(starts_in=-timedelta(days=45)), citizen, attended=True)
    with pytest.raises(Refused) as refused:
        services.feedback_submit(registration=registration, user=citizen, rating=4, comment="")
    assert refused.value.code == "closed"
