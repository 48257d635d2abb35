"""A promotion from the waitlist is recorded for the registrant's city: the audit row a city's
clerks see in their log, and the e-mail in the city's outbox (issue 21: found by the
mutation run)."""

from __future__ import annotations

import pytest

from academy import services
from academy.models import Registration
from opencity.cities.models import StaffRole
from opencity.core.models import AuditEntry, OutboundEmail
from tests.academy.factories import make_member, make_session, seat
from tests.factories import make_city, make_clerk, make_user

Status = Registration.Status
pytestmark = pytest.mark.django_db


def test_a_promotion_is_audited_and_mailed_for_the_registrants_city():
    session = make_session(capacity=1)
    seated = seat(session, make_user())
    city = make_member(make_city())
    clerk = make_clerk(city, StaffRole.Role.MODERATOR, home_city=make_city())
    waiting = seat(session, clerk, status=Status.WAITLISTED, waitlist_position=1, city=city)
    Registration.objects.filter(pk=seated.pk).update(status=Status.CANCELLED)
    assert services.waitlist_promote(session_id=session.pk) == [waiting.pk]
    (entry,) = AuditEntry.objects.filter(action="academy.registration.promoted")
    assert entry.object_id == str(waiting.pk) and entry.city_id == city.pk
    (mail,) = OutboundEmail.objects.filter(key__startswith=f"academy:promoted:r{waiting.pk}:")
    assert mail.to == clerk.email and mail.city_id == city.pk
