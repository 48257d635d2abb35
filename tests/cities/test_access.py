import pytest
from django.contrib.auth.models import AnonymousUser

from opencity.cities import access
from opencity.cities.models import StaffRole
from tests.factories import make_clerk

pytestmark = pytest.mark.django_db


def test_clerk_may_act_on_own_city(moderator_a, city_a):
    assert access.can_act_on_city(moderator_a, city_a)
    assert access.can_act_on_city(moderator_a, city_a.pk)


def test_clerk_may_not_act_on_another_city(moderator_a, city_b):
    assert not access.can_act_on_city(moderator_a, city_b)


def test_role_must_match_when_a_role_is_required(city_a):
    responder = make_clerk(city_a, StaffRole.Role.RESPONDER)
    assert access.can_act_on_city(responder, city_a, [StaffRole.Role.RESPONDER])
    assert not access.can_act_on_city(responder, city_a, [StaffRole.Role.MODERATOR])


def test_citizen_and_anonymous_may_not_act_on_any_city(citizen, city_a):
    assert not access.can_act_on_city(citizen, city_a)
    assert not access.can_act_on_city(AnonymousUser(), city_a)
    assert not access.can_act_on_city(None, city_a)


def test_association_staff_act_on_every_city(association_staff, city_a, city_b):
    assert access.can_act_on_city(association_staff, city_a)
    assert access.can_act_on_city(association_staff, city_b)


def test_inactive_staff_lose_access(moderator_a, city_a):
    moderator_a.is_active = False
    moderator_a.save()
    moderator_a.refresh_from_db()
    assert not access.can_act_on_city(moderator_a, city_a)


def test_scoping_a_queryset(moderator_a, association_staff, city_a, city_b):
    from opencity.cities.models import City

    assert set(access.scope_to_user_cities(City.objects.all(), moderator_a, "")) == {city_a}
    assert set(access.scope_to_user_cities(City.objects.all(), association_staff, "")) >= {
        city_a,
        city_b,
    }


def test_assigning_a_role_gives_admin_access_and_is_idempotent(citizen, city_a):
    from opencity.cities.services import staff_role_assign

    staff_role_assign(user=citizen, city=city_a, role=StaffRole.Role.MODERATOR)
    staff_role_assign(user=citizen, city=city_a, role=StaffRole.Role.MODERATOR)
    citizen.refresh_from_db()
    assert citizen.is_staff
    assert citizen.staff_roles.count() == 1
