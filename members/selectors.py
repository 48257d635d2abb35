from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery
from django.utils import timezone

from members.models import (
    CityEService,
    EProduct,
    MembershipApplication,
    MembershipEvent,
    OGPParticipation,
)
from opencity import reports
from opencity.cities.models import City


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
    return {
        "member_cities": member_cities().count(),
        "hromadas": City.objects.count(),
        "e_products": EProduct.objects.count(),
    }


@dataclass(frozen=True)
class Membership:
    """A city's membership as of a day, derived from its event history."""

    status: str | None
    since: date | None  # start of the current uninterrupted membership (member or suspended)
    founding: bool
    history: list[MembershipEvent]


def membership_from_events(events: list[MembershipEvent], on: date) -> Membership:
    """Derive status and "member since" from a city's events (any order). Pure function."""
    past = sorted((e for e in events if e.effective_on <= on), key=lambda e: (e.effective_on, e.id))
    status = past[-1].status if past else None
    since, founding = None, False
    Status = MembershipEvent.Status
    if status in (Status.MEMBER, Status.SUSPENDED):
        for event in past:
            if event.status in (Status.WITHDRAWN, Status.CANDIDATE):
                since, founding = None, False
            elif event.status == Status.MEMBER and since is None:
                since, founding = event.effective_on, event.founding
    return Membership(status=status, since=since, founding=founding, history=past)


def city_membership(city: City, on: date | None = None) -> Membership:
    on = on or timezone.localdate()
    return membership_from_events(list(city.membership_events.all()), on)


def city_list_queryset() -> QuerySet[City]:
    return cities_with_membership().order_by("name_uk")


def city_profile(city: City) -> dict:
    """Everything the public profile shows; a fixed number of queries (one per section the
    services register in opencity.reports)."""
    ogp = (
        OGPParticipation.objects.filter(city=city)
        .prefetch_related("commitments", "reports")
        .first()
    )
    return {
        "membership": city_membership(city),
        "eservices": list(city.eservices.select_related("product").order_by("since")),
        "ogp": ogp,
        "sections": reports.sections("city", city),
    }


def products_catalogue() -> QuerySet[EProduct]:
    return EProduct.objects.annotate(city_count=Count("adoptions")).order_by("name")


def product_with_adoptions(slug: str) -> EProduct:
    adoptions = CityEService.objects.select_related("city").order_by("since", "city__name_uk")
    return EProduct.objects.prefetch_related(Prefetch("adoptions", queryset=adoptions)).get(
        slug=slug
    )


def applications_of(user) -> QuerySet[MembershipApplication]:
    return MembershipApplication.objects.filter(applicant=user).select_related("city")
