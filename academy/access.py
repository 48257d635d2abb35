"""Who may run the academy: association staff, the "Academy staff" group, a session's trainers.

Attendance may be marked by the trainers of that session (experts linked to a user account),
by association staff and by members of the "Academy staff" group. Courses, sessions,
experts and certificates are managed in admin by association and academy staff only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser

from opencity.cities import access

if TYPE_CHECKING:
    from academy.models import Session
    from opencity.accounts.models import User

ACADEMY_GROUP = "Academy staff"


def is_academy_staff(user: User | AnonymousUser | None) -> bool:
    if not user or not user.is_authenticated or not user.is_active:
        return False
    return access.is_association_staff(user) or ACADEMY_GROUP in access._cached_groups(user)


def is_trainer_of(user: User | AnonymousUser | None, session: Session) -> bool:
    if not user or not user.is_authenticated or not user.is_active:
        return False
    return session.trainers.filter(user=user).exists()


def can_mark_attendance(user: User | AnonymousUser | None, session: Session) -> bool:
    return is_academy_staff(user) or is_trainer_of(user, session)
