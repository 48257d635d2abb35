"""What the academy contributes to notifications and to a person's data rights (issue 16)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from academy.models import Registration, Session
from opencity import notifications
from opencity.accounts.models import User
from opencity.notifications import registry


def session_cancelled(session: Session, *, told: list[int]) -> None:
    notifications.emit(
        "academy.session_changed",
        session,
        key=f"academy:session:{session.pk}:cancelled",
        city=session.city_id,
        told=told,
    )


def visible_sessions(user: User) -> QuerySet[Session]:
    return Session.objects.filter(course__is_published=True)


def export(user: User) -> dict:
    return {
        "registrations": list(
            Registration.objects.filter(user=user)
            .order_by("pk")
            .values("session_id", "session__course__title", "status", "attended", "created_at")
        )
    }


def register() -> None:
    registry.register_kind(
        registry.Kind(
            "academy.session_changed",
            "academy",
            _("Changes to academy sessions I follow"),
            _("The session has been cancelled."),
        )
    )
    registry.register_followable(
        registry.Followable("academy.session", "academy", visible_sessions, lambda s: s.city_id)
    )
    registry.register_data(registry.DataContribution("academy", export))
