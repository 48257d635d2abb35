"""What the academy contributes to notifications and to a person's data rights (issue 16)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as gettext_now
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


def session_changed(session: Session, change_id: int, *, fields: list[str]) -> None:
    """A session's date, time or place changed (`change_id`: its audit entry, so each change
    is one event). Followers hear what changed at their own pace; the venue and meeting link
    themselves stay on the session page, for registered people only."""
    notifications.emit(
        "academy.session_changed",
        session,
        key=f"academy:session:{session.pk}:changed:{change_id}",
        city=session.city_id,
        data={
            "change": "changed",
            "fields": fields,
            "starts_at": session.starts_at.isoformat(),
            "ends_at": session.ends_at.isoformat(),
            "city": session.city_id,
        },
    )


def describe_session_change(data: dict) -> str:
    """What changed, in the recipient's language (called under their language), Kyiv time."""
    from opencity.cities.models import City

    if data.get("change") != "changed":
        return gettext_now("The session has been cancelled.")
    fields = set(data.get("fields", []))
    sentences = []
    if fields & {"starts_at", "ends_at"}:
        starts = timezone.localtime(datetime.fromisoformat(data["starts_at"]))
        ends = timezone.localtime(datetime.fromisoformat(data["ends_at"]))
        sentences.append(
            gettext_now(
                "The session has been moved: it now takes place on %(day)s, %(from)s–%(to)s."
            )
            % {
                "day": date_format(starts, "j E Y"),
                "from": date_format(starts, "H:i"),
                "to": date_format(ends, "H:i"),
            }
        )
    if "city" in fields:
        city = City.objects.filter(pk=data.get("city")).first()
        sentences.append(
            gettext_now("It now takes place in %(city)s.") % {"city": city.full_name}
            if city
            else gettext_now("It now takes place online.")
        )
    if fields & {"venue", "meeting_url"}:
        sentences.append(
            gettext_now(
                "The venue or meeting link has changed: registered participants see it on the "
                "session page."
            )
        )
    return " ".join(sentences) or gettext_now("The session has changed.")


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
            _("The session has changed."),
            describe=describe_session_change,
        )
    )
    registry.register_followable(
        registry.Followable("academy.session", "academy", visible_sessions, lambda s: s.city_id)
    )
    registry.register_data(registry.DataContribution("academy", export))
