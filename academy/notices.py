"""What the academy contributes to notifications and to a person's data rights (issue 16)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _

from academy.models import Expert, Registration, Session
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


def _expert_profile(user: User) -> dict | None:
    expert = (
        Expert.objects.filter(user=user).prefetch_related("expertise", "cities", "products").first()
    )
    if expert is None:
        return None
    return {
        "full_name": expert.full_name,
        "slug": expert.slug,
        "headline": expert.headline,
        "bio": expert.bio,
        "photo": expert.photo.name or None,
        "languages": expert.language_codes,
        "expertise": sorted(topic.name_uk for topic in expert.expertise.all()),
        "cities": sorted(city.full_name for city in expert.cities.all()),
        "products": sorted(product.name for product in expert.products.all()),
        "email": expert.email,
        "phone": expert.phone,
        "website": expert.website,
        "is_public": expert.is_public,
        "updated_at": expert.updated_at,
    }


def export(user: User) -> dict:
    return {
        "registrations": list(
            Registration.objects.filter(user=user)
            .order_by("pk")
            .values("session_id", "session__course__title", "status", "attended", "created_at")
        ),
        "expert_profile": _expert_profile(user),
    }


def erase(user: User, remove_public_name: bool) -> None:
    """Registrations stay (they count in the training figures and keep the waitlist order
    on the record). The expert profile the person may edit is theirs: it goes, with its
    photo (the file after commit), and with it the person's place among the trainers of
    sessions; the sessions themselves, their hours and attendance stay."""
    for expert in Expert.objects.filter(user=user):
        photo = expert.photo.name
        storage = expert.photo.storage
        expert.delete()
        if photo:
            transaction.on_commit(lambda name=photo, storage=storage: storage.delete(name))


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
    registry.register_data(registry.DataContribution("academy", export, erase))
