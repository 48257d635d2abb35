"""A clerk of city A sees and edits only city A's rows in Django admin."""

from datetime import date

import pytest
from django.urls import reverse

from members.models import MembershipEvent
from opencity.cities.models import StaffRole
from opencity.core.services import audit

pytestmark = pytest.mark.django_db


@pytest.fixture
def events(city_a, city_b):
    a = MembershipEvent.objects.create(
        city=city_a, status="member", effective_on=date(2015, 6, 12), decided_by="founding"
    )
    b = MembershipEvent.objects.create(
        city=city_b, status="candidate", effective_on=date(2019, 9, 10), decided_by="board"
    )
    audit(obj=a, action="members.test.a", city=city_a, to_state="member")
    audit(obj=b, action="members.test.b", city=city_b, to_state="candidate")
    return a, b


def test_clerk_changelist_shows_only_own_city(client, moderator_a, events):
    client.force_login(moderator_a)
    response = client.get(reverse("admin:members_membershipevent_changelist"))
    assert response.status_code == 200
    shown = list(response.context["cl"].queryset)
    assert shown == [events[0]]


def test_clerk_cannot_open_another_citys_object(client, moderator_a, events):
    client.force_login(moderator_a)
    url = reverse("admin:members_membershipevent_change", args=[events[1].pk])
    response = client.get(url, follow=True)
    assert response.redirect_chain, "admin must not render another city's object"
    assert response.redirect_chain[-1][0] == reverse("admin:index")


def test_clerk_of_b_sees_b_not_a_in_audit_log(client, moderator_b, events):
    client.force_login(moderator_b)
    response = client.get(reverse("admin:core_auditentry_changelist"))
    assert response.status_code == 200
    actions = [entry.action for entry in response.context["cl"].queryset]
    assert "members.test.b" in actions
    assert "members.test.a" not in actions


def test_association_staff_see_every_city(client, association_staff, events):
    client.force_login(association_staff)
    response = client.get(reverse("admin:members_membershipevent_changelist"))
    assert set(response.context["cl"].queryset) == set(events)


def test_clerk_city_choices_are_limited_to_own_city(client, city_a, city_b):
    from tests.factories import make_clerk

    admin_a = make_clerk(city_a, StaffRole.Role.CITY_ADMIN)
    client.force_login(admin_a)
    response = client.get(reverse("admin:cities_staffrole_add"))
    assert response.status_code == 200
    choices = list(response.context["adminform"].form.fields["city"].queryset)
    assert choices == [city_a]


def test_clerk_cannot_post_a_role_for_another_city(client, city_a, city_b, citizen):
    from tests.factories import make_clerk

    admin_a = make_clerk(city_a, StaffRole.Role.CITY_ADMIN)
    client.force_login(admin_a)
    response = client.post(
        reverse("admin:cities_staffrole_add"),
        {"user": citizen.pk, "city": city_b.pk, "role": StaffRole.Role.MODERATOR},
    )
    assert response.status_code == 200  # the form re-renders with an error
    assert not StaffRole.objects.filter(city=city_b, user=citizen).exists()


def test_moderator_cannot_manage_staff_roles(client, moderator_a):
    client.force_login(moderator_a)
    response = client.get(reverse("admin:cities_staffrole_changelist"))
    assert response.status_code == 403


def test_citizen_has_no_admin_access(client, citizen):
    client.force_login(citizen)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_clerk_may_edit_only_own_city_website(client, city_a, city_b):
    from tests.factories import make_clerk

    admin_a = make_clerk(city_a, StaffRole.Role.CITY_ADMIN)
    client.force_login(admin_a)
    own = client.get(reverse("admin:cities_city_change", args=[city_a.pk]))
    assert own.status_code == 200
    other = client.get(reverse("admin:cities_city_change", args=[city_b.pk]))
    assert other.status_code == 302
