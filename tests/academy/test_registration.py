"""Registration: capacity under concurrency, waitlist order, priority window, deadlines."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from academy import services
from academy.models import Registration
from opencity.cities.models import StaffRole
from opencity.core import Refused
from tests.academy.factories import make_member, make_session, seat
from tests.factories import make_city, make_clerk, make_user

Status = Registration.Status


def run_in_threads(functions) -> list:
    """Start all functions at the same moment on their own DB connections; return results."""
    barrier = threading.Barrier(len(functions))
    results: list = [None] * len(functions)

    def worker(index, function):
        try:
            barrier.wait()
            results[index] = function()
        except Exception as exc:  # collected and asserted on by the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_registrations_never_exceed_capacity():
    session = make_session(capacity=10)
    users = [make_user() for _ in range(50)]
    results = run_in_threads(
        [lambda u=u: services.register(session_id=session.pk, user=u) for u in users]
    )
    assert all(isinstance(r, Registration) for r in results), results
    seated = Registration.objects.filter(session=session, status=Status.SEATED).count()
    waiting = Registration.objects.filter(session=session, status=Status.WAITLISTED)
    assert seated == 10
    assert waiting.count() == 40
    assert sorted(waiting.values_list("waitlist_position", flat=True)) == list(range(1, 41))


@pytest.mark.django_db(transaction=True)
def test_the_same_person_registering_twice_at_once_gets_one_registration(citizen):
    session = make_session()
    results = run_in_threads(
        [lambda: services.register(session_id=session.pk, user=citizen) for _ in range(5)]
    )
    assert sum(isinstance(r, Registration) for r in results) == 1
    assert [r.code for r in results if isinstance(r, Refused)] == ["already"] * 4
    assert Registration.objects.filter(session=session, user=citizen).count() == 1


@pytest.mark.django_db
def test_full_session_puts_people_on_the_waitlist_in_order():
    session = make_session(capacity=1)
    first, second, third = make_user(), make_user(), make_user()
    assert services.register(session_id=session.pk, user=first).status == Status.SEATED
    r2 = services.register(session_id=session.pk, user=second)
    r3 = services.register(session_id=session.pk, user=third)
    assert (r2.status, r2.waitlist_position) == (Status.WAITLISTED, 1)
    assert (r3.status, r3.waitlist_position) == (Status.WAITLISTED, 2)


@pytest.mark.django_db
def test_a_newcomer_does_not_jump_the_waitlist_while_a_seat_awaits_promotion():
    session = make_session(capacity=1)
    waiting = make_user()
    seated = seat(session, make_user())
    services.register(session_id=session.pk, user=waiting)
    # The seat is freed, but the promotion task has not run yet.
    Registration.objects.filter(pk=seated.pk).update(status=Status.CANCELLED)
    late = services.register(session_id=session.pk, user=make_user())
    assert late.status == Status.WAITLISTED and late.waitlist_position == 2


@pytest.mark.django_db
def test_second_active_registration_is_refused_by_the_database(citizen):
    session = make_session()
    seat(session, citizen)
    with pytest.raises(IntegrityError), transaction.atomic():
        seat(session, citizen)


@pytest.mark.django_db
def test_registering_again_after_cancelling_is_allowed(citizen):
    session = make_session()
    registration = services.register(session_id=session.pk, user=citizen)
    services.registration_cancel(registration_id=registration.pk, user=citizen)
    again = services.register(session_id=session.pk, user=citizen)
    assert again.status == Status.SEATED and again.pk != registration.pk


@pytest.mark.django_db
def test_registration_after_the_deadline_is_refused(citizen):
    session = make_session(starts_in=timedelta(hours=5))  # deadline = start (5 h ahead)
    session.registration_deadline = timezone.now() - timedelta(minutes=1)
    session.save()
    with pytest.raises(Refused) as refused:
        services.register(session_id=session.pk, user=citizen)
    assert refused.value.code == "closed"


@pytest.mark.django_db
def test_cancelled_session_takes_no_registrations(citizen):
    session = make_session(is_cancelled=True)
    with pytest.raises(Refused) as refused:
        services.register(session_id=session.pk, user=citizen)
    assert refused.value.code == "cancelled"


# --- priority window ------------------------------------------------------------------------
def _priority_session():
    return make_session(priority_until=timezone.now() + timedelta(days=3))


@pytest.mark.django_db
def test_citizen_cannot_register_during_the_priority_window(citizen):
    with pytest.raises(Refused) as refused:
        services.register(session_id=_priority_session().pk, user=citizen)
    assert refused.value.code == "priority"


@pytest.mark.django_db
def test_member_city_staff_register_during_the_priority_window_for_their_city():
    city = make_member(make_city())
    clerk = make_clerk(city, StaffRole.Role.MODERATOR, home_city=make_city())
    registration = services.register(session_id=_priority_session().pk, user=clerk)
    assert registration.status == Status.SEATED
    assert registration.city == city  # the city they represent, not their home city


@pytest.mark.django_db
def test_staff_of_a_city_that_is_not_a_member_wait_for_the_priority_window_to_end():
    clerk = make_clerk(make_city(), StaffRole.Role.MODERATOR)
    with pytest.raises(Refused) as refused:
        services.register(session_id=_priority_session().pk, user=clerk)
    assert refused.value.code == "priority"


@pytest.mark.django_db
def test_everyone_registers_after_the_priority_window(citizen):
    session = make_session(priority_until=timezone.now() - timedelta(minutes=1))
    registration = services.register(session_id=session.pk, user=citizen)
    assert registration.status == Status.SEATED
    assert registration.city == citizen.home_city


# --- cancellation ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_cancelling_after_the_deadline_is_refused_with_a_clear_message(client, citizen):
    session = make_session(starts_in=timedelta(hours=3))
    registration = seat(session, citizen)
    session.registration_deadline = timezone.now() - timedelta(minutes=5)
    session.save()
    client.force_login(citizen)
    response = client.post(reverse("academy:cancel", args=[registration.pk]), follow=True)
    registration.refresh_from_db()
    assert registration.status == Status.SEATED
    assert "Строк реєстрації минув" in response.content.decode()


@pytest.mark.django_db
def test_cancelling_frees_the_seat(citizen_client, citizen):
    session = make_session(capacity=1)
    registration = seat(session, citizen)
    response = citizen_client.post(reverse("academy:cancel", args=[registration.pk]))
    assert response.status_code == 302
    registration.refresh_from_db()
    assert registration.status == Status.CANCELLED and registration.cancelled_at
    assert services.register(session_id=session.pk, user=make_user()).status == Status.SEATED


@pytest.mark.django_db
def test_nobody_cancels_someone_elses_registration(client, citizen):
    session = make_session()
    registration = seat(session, citizen)
    client.force_login(make_user())
    response = client.post(reverse("academy:cancel", args=[registration.pk]))
    assert response.status_code == 404
    registration.refresh_from_db()
    assert registration.status == Status.SEATED


# --- the register view ----------------------------------------------------------------------
@pytest.mark.django_db
def test_anonymous_visitor_is_sent_to_sign_in(client):
    session = make_session()
    response = client.post(reverse("academy:register", args=[session.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not Registration.objects.exists()


@pytest.mark.django_db
def test_register_view_seats_the_citizen(citizen_client, citizen):
    session = make_session()
    response = citizen_client.post(reverse("academy:register", args=[session.pk]), follow=True)
    assert Registration.objects.get(session=session, user=citizen).status == Status.SEATED
    assert "Ви зареєстровані" in response.content.decode()


@pytest.mark.django_db
def test_register_is_rate_limited(settings, citizen_client):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "register": (2, 60)}
    sessions = [make_session() for _ in range(3)]
    codes = [
        citizen_client.post(reverse("academy:register", args=[s.pk])).status_code for s in sessions
    ]
    assert codes == [302, 302, 429]
    assert Registration.objects.count() == 2
