"""Registration, cancellation and waitlist promotion through the services a person's request
calls: the city recorded for a clerk of a member or non-member city, unpublished courses,
deadlines at their exact instant (time-machine freezes the clock for every module), the
audit entry of every change, and the promotion e-mail's body (date, time and link)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from academy import services
from academy.models import Registration, Session
from opencity.cities.models import StaffRole
from opencity.core import Refused
from opencity.core.models import OutboundEmail
from opencity.core.services import audit_trail
from tests.academy.factories import make_course, make_member, make_session, seat
from tests.factories import make_city, make_clerk, make_user
from tests.helpers import message_of

Status = Registration.Status
pytestmark = pytest.mark.django_db


def only_entry(obj, action):
    entries = [e for e in audit_trail(obj) if e.action == action]
    assert len(entries) == 1, [e.action for e in audit_trail(obj)]
    return entries[0]


def test_registration_is_audited_with_the_person_city_and_seat(city_a):
    session = make_session(capacity=1)
    person = make_user(home_city=city_a)
    registration = services.register(session_id=session.pk, user=person)
    assert registration.status == Status.SEATED and registration.waitlist_position is None
    entry = only_entry(registration, "academy.registration.registered")
    assert (entry.actor, entry.city_id, entry.to_state) == (person, city_a.pk, "seated")
    # what the public ledger shows of it: the session and the waitlist place (none: seated)
    assert entry.data == {"session": session.pk, "waitlist_position": None}
    later = services.register(session_id=session.pk, user=make_user(home_city=city_a))
    assert only_entry(later, "academy.registration.registered").data == {
        "session": session.pk,
        "waitlist_position": 1,
    }


def test_a_full_session_puts_newcomers_on_the_waitlist_in_order(city_a):
    session = make_session(capacity=1)
    seat(session, make_user())
    first = services.register(session_id=session.pk, user=make_user())
    second = services.register(session_id=session.pk, user=make_user())
    assert (first.status, first.waitlist_position) == (Status.WAITLISTED, 1)
    assert (second.status, second.waitlist_position) == (Status.WAITLISTED, 2)
    assert only_entry(second, "academy.registration.registered").to_state == "waitlisted"


def test_nobody_jumps_the_waitlist_when_a_seat_is_free(city_a):
    session = make_session(capacity=2)
    seat(session, make_user())
    seat(session, make_user(), status=Status.WAITLISTED, waitlist_position=1)
    newcomer = services.register(session_id=session.pk, user=make_user())
    assert (newcomer.status, newcomer.waitlist_position) == (Status.WAITLISTED, 2)


def test_a_cancelled_registration_does_not_take_a_seat(city_a):
    session = make_session(capacity=1)
    seat(session, make_user(), status=Status.CANCELLED)
    assert services.register(session_id=session.pk, user=make_user()).status == Status.SEATED


def test_registering_twice_is_refused(city_a):
    session = make_session()
    person = make_user()
    services.register(session_id=session.pk, user=person)
    with pytest.raises(Refused) as info:
        services.register(session_id=session.pk, user=person)
    assert message_of(info, "already") == "You are already registered for this session."


def test_a_session_of_an_unpublished_course_cannot_be_registered_for():
    session = make_session(course=make_course(is_published=False))
    with pytest.raises(Session.DoesNotExist):
        services.register(session_id=session.pk, user=make_user())
    assert not Registration.objects.exists()


def test_registration_closes_at_the_deadline_instant():
    session = make_session()
    deadline = session.registration_deadline
    with time_machine.travel(deadline - timedelta(seconds=1), tick=False):
        services.register(session_id=session.pk, user=make_user())
    with (
        time_machine.travel(deadline, tick=False),
        pytest.raises(Refused) as info,
    ):
        services.register(session_id=session.pk, user=make_user())
    assert message_of(info, "closed") == "Registration for this session has closed."
    assert Registration.objects.count() == 1


def test_a_session_cancelled_while_the_request_was_checked_refuses_registration():
    """The rules are checked again under the session's lock: an organiser who cancels the
    session between the first check and the insert wins."""
    session = make_session()
    check = services._check_can_register

    def organiser_cancels_meanwhile(*args, **kwargs):
        city_id = check(*args, **kwargs)
        Session.objects.filter(pk=session.pk).update(is_cancelled=True)
        return city_id

    with pytest.MonkeyPatch.context() as patch, pytest.raises(Refused) as info:
        patch.setattr(services, "_check_can_register", organiser_cancels_meanwhile)
        services.register(session_id=session.pk, user=make_user())
    assert message_of(info, "closed") == "Registration for this session has closed."
    assert not Registration.objects.exists()


def test_a_cancelled_session_refuses_registration():
    session = make_session(is_cancelled=True)
    with pytest.raises(Refused) as info:
        services.register(session_id=session.pk, user=make_user())
    assert message_of(info, "cancelled") == "This session has been cancelled."


def test_an_inactive_account_is_asked_to_sign_in():
    session = make_session()
    with pytest.raises(Refused) as info:
        services.register(session_id=session.pk, user=make_user(is_active=False))
    assert message_of(info, "sign_in") == "Please sign in to register."


def test_a_clerk_of_a_non_member_city_registers_for_their_city(city_a):
    outsider = make_city()
    clerk = make_clerk(outsider, StaffRole.Role.MODERATOR, home_city=city_a)
    registration = services.register(session_id=make_session().pk, user=clerk)
    assert registration.city_id == outsider.pk
    assert services.represented_city_id(clerk) == outsider.pk
    assert only_entry(registration, "academy.registration.registered").city_id == outsider.pk


def test_a_clerk_of_a_member_and_a_non_member_city_registers_for_the_member(city_a):
    outsider = make_city(name_uk="Аааа")
    member = make_member(make_city(name_uk="Яяяя"))
    clerk = make_clerk(outsider, StaffRole.Role.MODERATOR)
    make_clerk_role = StaffRole.objects.create
    make_clerk_role(user=clerk, city=member, role=StaffRole.Role.MODERATOR)
    assert services.member_city_staff_city_id(clerk) == member.pk
    assert services.represented_city_id(clerk) == member.pk
    registration = services.register(session_id=make_session().pk, user=clerk)
    assert registration.city_id == member.pk


def test_a_citizen_without_a_staff_role_registers_for_the_home_city(city_a):
    person = make_user(home_city=city_a)
    assert services.member_city_staff_city_id(person) is None
    assert services.represented_city_id(person) == city_a.pk


def test_the_priority_window_admits_member_city_staff_and_tells_others_when_it_opens():
    member = make_member(make_city())
    opens = timezone.now() + timedelta(days=2)
    session = make_session(priority_until=opens)
    clerk = make_clerk(member, StaffRole.Role.MODERATOR)
    assert services.register(session_id=session.pk, user=clerk).city_id == member.pk
    with pytest.raises(Refused) as info:
        services.register(session_id=session.pk, user=make_user())
    local = timezone.localtime(opens).strftime("%d.%m.%Y %H:%M")
    assert message_of(info, "priority") == (  # worded when raised, in the person's language
        f"До {local} реєстрація відкрита лише для працівників міст — членів асоціації. "
        "Будь ласка, поверніться пізніше."
    )


def test_cancelling_is_audited_and_frees_the_seat_for_the_first_in_line(
    django_capture_on_commit_callbacks,
):
    session = make_session(capacity=1)
    seated = seat(session, make_user(home_city=make_city()))
    waiting = services.register(session_id=session.pk, user=make_user())
    with django_capture_on_commit_callbacks(execute=True):
        assert services.registration_cancel(registration_id=seated.pk, user=seated.user)
    seated.refresh_from_db()
    assert seated.status == Status.CANCELLED and seated.cancelled_at is not None
    assert seated.waitlist_position is None
    entry = only_entry(seated, "academy.registration.cancelled")
    assert (entry.actor, entry.from_state, entry.to_state) == (seated.user, "seated", "cancelled")
    assert entry.city_id == seated.city_id
    assert entry.data == {"session": session.pk, "waitlist_position": None}
    waiting.refresh_from_db()
    assert waiting.status == Status.SEATED
    promoted = only_entry(waiting, "academy.registration.promoted")
    assert (promoted.from_state, promoted.to_state) == ("waitlisted", "seated")
    assert promoted.data == {"session": session.pk, "waitlist_position": 1}
    assert services.registration_cancel(registration_id=seated.pk, user=seated.user) is False


def test_leaving_the_waitlist_promotes_nobody(django_capture_on_commit_callbacks):
    session = make_session(capacity=1)
    seat(session, make_user())
    first = services.register(session_id=session.pk, user=make_user())
    second = services.register(session_id=session.pk, user=make_user())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.registration_cancel(registration_id=first.pk, user=first.user)
    assert callbacks == []
    second.refresh_from_db()
    assert second.status == Status.WAITLISTED
    assert only_entry(first, "academy.registration.cancelled").from_state == "waitlisted"


def test_someone_else_cannot_cancel_a_registration():
    registration = services.register(session_id=make_session().pk, user=make_user())
    with pytest.raises(Registration.DoesNotExist):
        services.registration_cancel(registration_id=registration.pk, user=make_user())
    registration.refresh_from_db()
    assert registration.status == Status.SEATED


def test_cancelling_closes_at_the_deadline_instant():
    session = make_session()
    registration = services.register(session_id=session.pk, user=make_user())
    with (
        time_machine.travel(session.registration_deadline, tick=False),
        pytest.raises(Refused) as info,
    ):
        services.registration_cancel(registration_id=registration.pk, user=registration.user)
    assert message_of(info, "deadline").startswith("The registration deadline has passed")
    registration.refresh_from_db()
    assert registration.status == Status.SEATED


def test_the_promotion_email_names_the_course_date_time_and_link():
    course = make_course(title="Відкриті дані громади")
    starts = timezone.make_aware(timezone.datetime(2027, 5, 20, 10, 30))
    session = make_session(course=course, capacity=1, starts_at=starts)
    waiting = seat(session, make_user(), status=Status.WAITLISTED, waitlist_position=1)
    with time_machine.travel(starts - timedelta(days=5), tick=False):
        assert services.waitlist_promote(session_id=session.pk) == [waiting.pk]
    key = f"academy:promoted:r{waiting.pk}:u{waiting.user_id}"
    email = OutboundEmail.objects.get(key=key)
    assert email.to == waiting.user.email
    assert "Відкриті дані громади" in email.body_text
    assert "20 травня 2027, 10:30" in email.body_text
    assert f"{settings.SITE_URL}/academy/sessions/{session.pk}/" in email.body_text
    entry = only_entry(waiting, "academy.registration.promoted")
    assert (entry.from_state, entry.to_state) == ("waitlisted", "seated")


def test_one_changed_waitlist_row_does_not_stop_the_promotion_of_those_behind_it():
    session = make_session(capacity=2)
    first = seat(session, make_user(), status=Status.WAITLISTED, waitlist_position=1)
    second = seat(session, make_user(), status=Status.WAITLISTED, waitlist_position=2)
    third = seat(session, make_user(), status=Status.WAITLISTED, waitlist_position=3)
    promote = services.transition

    def first_leaves_meanwhile(registration, **kwargs):
        # The first person cancels between the read of the waitlist and their promotion
        # (committed by their own request, so outside the promotion's claim of the row).
        if registration.pk == first.pk:
            Registration.objects.filter(pk=first.pk).update(
                status=Status.CANCELLED, waitlist_position=None
            )
        return promote(registration, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "transition", first_leaves_meanwhile)
        promoted = services.waitlist_promote(session_id=session.pk)
    assert promoted == [second.pk]
    statuses = dict(Registration.objects.values_list("pk", "status"))
    assert statuses == {first.pk: "cancelled", second.pk: "seated", third.pk: "waitlisted"}
    emails = OutboundEmail.objects.filter(key__startswith="academy:promoted:")
    assert list(emails.values_list("to", flat=True)) == [second.user.email]


def test_promotion_fills_every_free_seat_in_waitlist_order_and_only_those():
    session = make_session(capacity=3)
    seat(session, make_user())
    queue = [
        seat(session, make_user(), status=Status.WAITLISTED, waitlist_position=n) for n in (2, 1, 3)
    ]
    assert services.waitlist_promote(session_id=session.pk) == [queue[1].pk, queue[0].pk]
    assert services.waitlist_promote(session_id=session.pk) == []
    assert Registration.objects.get(pk=queue[2].pk).status == Status.WAITLISTED
    assert services.sessions_with_free_seats_and_waitlist() == []


def test_no_promotion_once_the_session_started_or_was_cancelled():
    session = make_session(capacity=1)
    waiting = seat(session, make_user(), status=Status.WAITLISTED, waitlist_position=1)
    with time_machine.travel(session.starts_at, tick=False):
        assert services.waitlist_promote(session_id=session.pk) == []
        assert services.sessions_with_free_seats_and_waitlist() == []
    assert services.sessions_with_free_seats_and_waitlist() == [session.pk]
    Session.objects.filter(pk=session.pk).update(is_cancelled=True)
    assert services.waitlist_promote(session_id=session.pk) == []
    assert services.sessions_with_free_seats_and_waitlist() == []
    waiting.refresh_from_db()
    assert waiting.status == Status.WAITLISTED


def test_the_priority_window_is_judged_at_the_moment_of_the_request():
    """register(now=…) is the moment the request arrived; the window is judged then."""
    session = make_session(starts_in=timedelta(days=10))
    opened = timezone.now() - timedelta(hours=1)
    Session.objects.filter(pk=session.pk).update(priority_until=opened)
    with pytest.raises(Refused) as info:
        services.register(
            session_id=session.pk, user=make_user(), now=opened - timedelta(minutes=5)
        )
    assert info.value.code == "priority"
    assert services.register(session_id=session.pk, user=make_user()).status == Status.SEATED


def test_a_session_with_a_free_seat_and_nobody_waiting_needs_no_promotion():
    session = make_session(capacity=2)
    seat(session, make_user())
    seat(session, make_user(), status=Status.CANCELLED)
    assert services.sessions_with_free_seats_and_waitlist() == []
    seat(session, make_user(), status=Status.WAITLISTED, waitlist_position=1)
    assert services.sessions_with_free_seats_and_waitlist() == [session.pk]
