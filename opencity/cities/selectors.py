"""Reads on cities and their staff."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from opencity.cities.models import City, StaffRole


def city_staff(city: City | int, roles: Iterable[str] = tuple(StaffRole.Role.values)) -> QuerySet:
    """The active people who serve `city` in one of `roles`: each once, by primary key.
    The one answer to "whom do we tell about this city's new petition / initiative"."""
    return (
        get_user_model()
        .objects.filter(
            staff_roles__city_id=getattr(city, "pk", city),
            staff_roles__role__in=list(roles),
            is_active=True,
        )
        .distinct()
        .order_by("pk")
    )
