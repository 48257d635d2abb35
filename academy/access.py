"""Who may run the academy: association staff, the "Academy staff" group, a session's trainers.

Attendance may be marked by the trainers of that session (experts linked to a user account),
by association staff and by members of the "Academy staff" group. Courses, sessions,
experts and certificates are managed in admin by association and academy staff only.
"""

from __future__ import annotations

from opencity.cities import access

ACADEMY_GROUP = "Academy staff"


def is_academy_staff(user) -> bool:
    if not user or not user.is_authenticated or not user.is_active:
        return False
    return access.is_association_staff(user) or ACADEMY_GROUP in access._cached_groups(user)


def is_trainer_of(user, session) -> bool:
    if not user or not user.is_authenticated or not user.is_active:
        return False
    return session.trainers.filter(user=user).exists()


def can_mark_attendance(user, session) -> bool:
    return is_academy_staff(user) or is_trainer_of(user, session)
