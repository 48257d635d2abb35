"""What every public-budget workflow shares: who reviews a city's initiatives, and the
author's and staff's notifications."""

from __future__ import annotations

from datetime import date
from typing import Any

from initiatives import notices
from initiatives.models import Initiative, Programme
from opencity.cities.models import StaffRole
from opencity.cities.selectors import city_staff
from opencity.core.services import notify_user

REVIEW_ROLES = (StaffRole.Role.MODERATOR, StaffRole.Role.CITY_ADMIN)


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def notify_author(initiative: Initiative, event: str, template: str, **context: Any) -> None:
    notify_user(
        user=initiative.author,
        key=f"initiatives:{event}:i{initiative.pk}",
        template=template,
        context={"initiative": initiative, "programme": initiative.programme, **context},
        city=initiative.programme.city,
    )
    notices.project_status(initiative, event)  # followers of the project (issue 16)


def notify_staff(programme: Programme, key: str, template: str, **context: Any) -> None:
    for user in city_staff(programme.city, REVIEW_ROLES):
        notify_user(
            user=user,
            key=key,
            template=template,
            context={"programme": programme, **context},
            city=programme.city,
        )
