"""Promotion from the waitlist: in order, by a task queued on commit, e-mailed exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from academy import services, tasks
from academy.models import Registration
from opencity.core.models import OutboundEmail
from tests.academy.factories import make_session, seat
from tests.academy.test_registration import run_in_threads
from tests.factories import make_user
from tests.helpers import broker_down

Status = Registration.Status


def _full_session_with_waitlist(capacity: int, waiting: int):
    session = make_session(capacity=capacity)
    seated = [seat(session, make_user()) for _ in range(capacity)]
    queue = [services.register(session_id=session.pk, user=make_user()) for _ in range(waiting)]
    assert all(r.status == Status.WAITLISTED for r in queue)
    return session, seated, queue


def _promotion_emails(registration) -> int:
    return OutboundEmail.objects.filter(
        key__startswith=f"academy:promoted:r{registration.pk}:"
    ).count()


@pytest.mark.django_db
def test_cancelling_promotes_the_first_on_the_waitlist_and_emails_them(
    django_capture_on_commit_callbacks,
):
    session, seated, (first, second) = _full_session_with_waitlist(capacity=1, waiting=2)
    with django_capture_on_commit_callbacks(execute=True):
        services.registration_cancel(registration_id=seated[0].pk, user=seated[0].user)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Status.SEATED and first.promoted_at is not None
    assert second.status == Status.WAITLISTED
    assert [m.to for m in mail.outbox] == [[first.user.email]]
    assert "місце" in mail.outbox[0].subject.lower()


@pytest.mark.django_db(transaction=True)
def test_two_people_cancelling_at_the_same_moment_promote_one_person_once():
    session, seated, (waiting,) = _full_session_with_waitlist(capacity=2, waiting=1)
    results = run_in_threads(
        [
            lambda r=r: services.registration_cancel(registration_id=r.pk, user=r.user)
            for r in seated
        ]
    )
    assert results == [True, True]
    waiting.refresh_from_db()
    assert waiting.status == Status.SEATED
    assert _promotion_emails(waiting) == 1
    assert [m.to for m in mail.outbox] == [[waiting.user.email]]


@pytest.mark.django_db(transaction=True)
def test_two_cancellations_at_once_promote_the_next_two_each_exactly_once():
    session, seated, queue = _full_session_with_waitlist(capacity=2, waiting=3)
    run_in_threads(
        [
            lambda r=r: services.registration_cancel(registration_id=r.pk, user=r.user)
            for r in seated
        ]
    )
    statuses = [Registration.objects.get(pk=r.pk).status for r in queue]
    assert statuses == [Status.SEATED, Status.SEATED, Status.WAITLISTED]
    assert [_promotion_emails(r) for r in queue] == [1, 1, 0]
    assert len(mail.outbox) == 2
    assert Registration.objects.filter(session=session, status=Status.SEATED).count() == 2


@pytest.mark.django_db(transaction=True)
def test_promotion_task_running_twice_at_once_promotes_once():
    session, seated, (waiting,) = _full_session_with_waitlist(capacity=1, waiting=1)
    Registration.objects.filter(pk=seated[0].pk).update(status=Status.CANCELLED)
    results = run_in_threads([lambda: tasks.promote_waitlist(session.pk) for _ in range(4)])
    assert sorted(map(len, results)) == [0, 0, 0, 1]
    assert _promotion_emails(waiting) == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_broker_outage_loses_no_promotion_and_the_periodic_pass_promotes():
    session, seated, (waiting,) = _full_session_with_waitlist(capacity=1, waiting=1)
    with broker_down():
        assert services.registration_cancel(registration_id=seated[0].pk, user=seated[0].user)
    waiting.refresh_from_db()
    assert waiting.status == Status.WAITLISTED  # the task never reached the broker
    assert tasks.promote_missed_waitlists() == 1
    waiting.refresh_from_db()
    assert waiting.status == Status.SEATED
    assert tasks.promote_missed_waitlists() == 0
    assert _promotion_emails(waiting) == 1


@pytest.mark.django_db
def test_cancelling_a_waitlist_place_promotes_nobody(django_capture_on_commit_callbacks):
    session, seated, (first, second) = _full_session_with_waitlist(capacity=1, waiting=2)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.registration_cancel(registration_id=first.pk, user=first.user)
    assert callbacks == []
    second.refresh_from_db()
    assert second.status == Status.WAITLISTED
    assert mail.outbox == []


@pytest.mark.django_db
def test_no_promotion_once_the_session_has_started():
    session, seated, (waiting,) = _full_session_with_waitlist(capacity=1, waiting=1)
    Registration.objects.filter(pk=seated[0].pk).update(status=Status.CANCELLED)
    later = session.starts_at + timedelta(minutes=1)
    assert services.waitlist_promote(session_id=session.pk, now=later) == []
    waiting.refresh_from_db()
    assert waiting.status == Status.WAITLISTED


@pytest.mark.django_db
def test_waitlist_place_counts_only_people_still_waiting(citizen_client, citizen):
    session, seated, (first, second) = _full_session_with_waitlist(capacity=1, waiting=2)
    mine = services.register(session_id=session.pk, user=citizen)
    services.registration_cancel(registration_id=first.pk, user=first.user)
    response = citizen_client.get(session.get_absolute_url())
    assert mine.waitlist_position == 3
    assert "номер 2" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_cancellations_and_new_registrations_at_once_keep_capacity_and_order():
    session, seated, queue = _full_session_with_waitlist(capacity=5, waiting=10)
    newcomers = [make_user() for _ in range(10)]
    results = run_in_threads(
        [
            lambda r=r: services.registration_cancel(registration_id=r.pk, user=r.user)
            for r in seated
        ]
        + [lambda u=u: services.register(session_id=session.pk, user=u) for u in newcomers]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    now_seated = set(
        Registration.objects.filter(session=session, status=Status.SEATED).values_list(
            "pk", flat=True
        )
    )
    assert now_seated == {r.pk for r in queue[:5]}  # the first five waiting, in order
    waiting = Registration.objects.filter(session=session, status=Status.WAITLISTED)
    assert waiting.count() == 15
    positions = list(waiting.values_list("waitlist_position", flat=True))
    assert len(set(positions)) == 15
    assert len(mail.outbox) == 5
