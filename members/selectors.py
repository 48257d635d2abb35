from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from members.models import City, MembershipEvent


def _latest_event(field: str, on=None) -> Subquery:
    on = on or timezone.localdate()
    return Subquery(
        MembershipEvent.objects.filter(city=OuterRef("pk"), effective_on__lte=on)
        .order_by("-effective_on", "-id")
        .values(field)[:1]
    )


def cities_with_membership(on=None) -> QuerySet[City]:
    """Cities annotated with `membership_status` derived from their latest event (or None)."""
    return City.objects.annotate(membership_status=_latest_event("status", on))


def member_cities(on=None) -> QuerySet[City]:
    return cities_with_membership(on).filter(membership_status=MembershipEvent.Status.MEMBER)


def city_membership_status(city: City, on=None) -> str | None:
    on = on or timezone.localdate()
    event = (
        city.membership_events.filter(effective_on__lte=on).order_by("-effective_on", "-id").first()
    )
    return event.status if event else None


def home_summary() -> dict:
    return {"member_cities": member_cities().count(), "hromadas": City.objects.count()}
