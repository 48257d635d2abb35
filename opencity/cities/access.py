"""One answer to "may this user act on this city's object?", used by views and admin.

Association staff (superusers, or members of the "Association staff" group) act on every
city. City staff act only on cities where they hold a StaffRole, and only in the roles an
action requires.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from opencity.cities.models import City, StaffRole

ASSOCIATION_GROUP = "Association staff"
DIRECTORS_GROUP = "Directors"
# Every role that works on a service's objects. A service centre clerk only enters paper
# signatures and ballots (paper/): every other admin page stays closed to that role.
ALL_ROLES = tuple(role for role in StaffRole.Role.values if role != StaffRole.Role.SERVICE_CLERK)
PAPER_ROLES = (StaffRole.Role.SERVICE_CLERK, StaffRole.Role.CITY_ADMIN)


def _cached_groups(user) -> set[str]:
    if not hasattr(user, "_opencity_groups"):
        user._opencity_groups = set(user.groups.values_list("name", flat=True))
    return user._opencity_groups


def is_association_staff(user) -> bool:
    if not user or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or ASSOCIATION_GROUP in _cached_groups(user)


def is_director(user) -> bool:
    if not user or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or DIRECTORS_GROUP in _cached_groups(user)


def city_roles(user) -> dict[int, set[str]]:
    """{city_id: {role, ...}} for a city staff user; cached on the user object per request."""
    if not user or not user.is_authenticated or not user.is_active:
        return {}
    if not hasattr(user, "_opencity_city_roles"):
        roles: dict[int, set[str]] = {}
        for city_id, role in StaffRole.objects.filter(user=user).values_list("city_id", "role"):
            roles.setdefault(city_id, set()).add(role)
        user._opencity_city_roles = roles
    return user._opencity_city_roles


def is_city_staff(user) -> bool:
    return bool(city_roles(user))


def city_ids_for(user, roles: Iterable[str] = ALL_ROLES) -> set[int]:
    wanted = set(roles)
    return {city_id for city_id, held in city_roles(user).items() if held & wanted}


def can_act_on_city(user, city: City | int | None, roles: Iterable[str] = ALL_ROLES) -> bool:
    """True if `user` may act on an object of `city` in one of `roles`.

    Only staff act on a city: a staff role or the association group comes with `is_staff`
    (cities.services.staff_role_assign sets it; admin needs it), so a citizen is answered
    without a query, on every page that asks (a petition page under a surge)."""
    if user is None or isinstance(user, AnonymousUser):
        return False
    if not (user.is_staff or user.is_superuser):
        return False
    if is_association_staff(user):
        return True
    if city is None:
        return False
    city_id = city if isinstance(city, int) else city.pk
    return city_id in city_ids_for(user, roles)


def scope_to_user_cities(
    queryset: QuerySet, user, city_field: str = "city", roles: Iterable[str] = ALL_ROLES
) -> QuerySet:
    """Rows of `queryset` the user may see: all for association staff, else their cities'."""
    if is_association_staff(user):
        return queryset
    lookup = f"{city_field}__in" if city_field else "pk__in"
    return queryset.filter(**{lookup: city_ids_for(user, roles)})
