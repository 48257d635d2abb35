"""Academy reads: the catalogue, a person's registrations, rosters, reports.

The report selectors (`training_stats`, `trainings_for_city`) run a constant number of
queries whatever the number of cities, sessions or people (GROUP BY, never a loop).
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth.models import AnonymousUser
from django.db.models import Avg, Count, F, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from academy.models import Certificate, Expert, Registration, Session
from opencity.accounts.models import User
from opencity.cities.models import City

Status = Registration.Status


def sessions_with_seats() -> QuerySet[Session]:
    """Published sessions annotated with `seated`, `waiting` and `free_seats`."""
    return (
        Session.objects.filter(course__is_published=True)
        .select_related("course", "city")
        .annotate(
            seated=Count("registrations", filter=Q(registrations__status=Status.SEATED)),
            waiting=Count("registrations", filter=Q(registrations__status=Status.WAITLISTED)),
        )
        .annotate(free_seats=F("capacity") - F("seated"))
    )


def catalogue_sessions() -> QuerySet[Session]:
    return sessions_with_seats().prefetch_related("course__topics").order_by("starts_at", "pk")


def session_detail(pk: int) -> Session:
    return (
        sessions_with_seats()
        .prefetch_related(
            "course__topics",
            "course__materials",
            Prefetch("trainers", queryset=Expert.objects.filter(is_public=True)),
        )
        .get(pk=pk)
    )


def active_registration(session: Session, user: User | AnonymousUser) -> Registration | None:
    if not user.is_authenticated:
        return None
    return (
        Registration.objects.filter(session=session, user=user)
        .exclude(status=Status.CANCELLED)
        .select_related("certificate", "feedback")
        .first()
    )


def waitlist_place(registration: Registration) -> int | None:
    """1 for the first person waiting, and so on."""
    if registration.status != Status.WAITLISTED:
        return None
    ahead = Registration.objects.filter(
        session_id=registration.session_id,
        status=Status.WAITLISTED,
        waitlist_position__lt=registration.waitlist_position,
    ).count()
    return ahead + 1


def registrations_of(user: User) -> QuerySet[Registration]:
    return (
        Registration.objects.filter(user=user)
        .exclude(status=Status.CANCELLED)
        .select_related("session__course", "session__city", "certificate", "feedback")
        .order_by("-session__starts_at")
    )


def roster(session: Session) -> QuerySet[Registration]:
    return (
        Registration.objects.filter(session=session)
        .exclude(status=Status.CANCELLED)
        .select_related("user", "city")
        .order_by("status", "waitlist_position", "user__full_name")
    )


def certificate_by_code(code: str) -> Certificate | None:
    return Certificate.objects.filter(code=code).first()


def upcoming_sessions_feed(limit: int = 200) -> QuerySet[Session]:
    return (
        # Cancelled sessions stay in the feed (STATUS:CANCELLED) so calendars drop them.
        Session.objects.filter(course__is_published=True, ends_at__gt=timezone.now())
        .select_related("course", "city")
        .order_by("starts_at")[:limit]
    )


def public_experts() -> QuerySet[Expert]:
    return Expert.objects.filter(is_public=True).prefetch_related("expertise")


def expert_detail(slug: str) -> Expert:
    return (
        Expert.objects.filter(is_public=True)
        .prefetch_related(
            "expertise",
            "cities",
            "products",
            Prefetch(
                "sessions",
                queryset=Session.objects.filter(course__is_published=True)
                .select_related("course")
                .order_by("-starts_at"),
            ),
        )
        .get(slug=slug)
    )


# --- reports --------------------------------------------------------------------------------
def _bounds(date_from: date | None, date_to: date | None) -> Q:
    tz = timezone.get_current_timezone()
    condition = Q()
    if date_from:
        condition &= Q(session__starts_at__gte=datetime.combine(date_from, time.min, tzinfo=tz))
    if date_to:
        condition &= Q(session__starts_at__lte=datetime.combine(date_to, time.max, tzinfo=tz))
    return condition


def _decimal_rating(value) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


_GROUP_FIELDS = {"city": "city_id", "oblast": "city__oblast_uk"}


def training_stats(
    *, date_from: date | None = None, date_to: date | None = None, by: str = "city"
) -> dict:
    """People trained, hours, sessions held and average rating, per city, oblast or in total.

    Counts attended registrations of sessions that started in the range (Kyiv dates).
    A participant's city is Registration.city. `hours` is the sum of the attended sessions'
    hours over attendances (person-hours of training); `sessions_held` counts distinct sessions
    with at least one attendee of the group; `avg_rating` averages the group's feedback.
    One query.
    """
    if by not in ("city", "oblast", "total"):
        raise ValueError("by must be 'city', 'oblast' or 'total'")
    attended = Registration.objects.filter(
        _bounds(date_from, date_to),
        status=Status.SEATED,
        attended=True,
        session__is_cancelled=False,
    )
    aggregates = {
        "people_trained": Count("user", distinct=True),
        "hours": Sum("session__hours"),
        "sessions_held": Count("session", distinct=True),
        "avg_rating": Avg("feedback__rating"),
    }
    if by == "total":
        rows = [{"key": "total", **attended.aggregate(**aggregates)}]
    else:
        rows = (
            attended.exclude(city__isnull=True)
            .values(key=F(_GROUP_FIELDS[by]))
            .annotate(**aggregates)
            .order_by()
        )
    return {
        row["key"]: {
            "people_trained": row["people_trained"] or 0,
            "hours": row["hours"] or Decimal("0"),
            "sessions_held": row["sessions_held"] or 0,
            "avg_rating": _decimal_rating(row["avg_rating"]),
        }
        for row in rows
    }


def trainings_for_city(city: City) -> list[dict]:
    """Sessions attended by people of `city`, newest first: course, start, attendees. One query."""
    rows = (
        Registration.objects.filter(city=city, status=Status.SEATED, attended=True)
        .values("session_id", "session__starts_at", "session__course__title")
        .annotate(attendees=Count("pk"))
        .order_by("-session__starts_at", "-session_id")
    )
    return [
        {
            "course_title": row["session__course__title"],
            "session_start": row["session__starts_at"],
            "attendees": row["attendees"],
        }
        for row in rows
    ]


def home_summary() -> dict:
    """For the home page card: upcoming sessions, the next one, people trained. Three queries."""
    now = timezone.now()
    upcoming = Session.objects.filter(
        course__is_published=True, is_cancelled=False, starts_at__gt=now
    )
    next_session = upcoming.select_related("course").order_by("starts_at").first()
    trained = (
        Registration.objects.filter(status=Status.SEATED, attended=True)
        .values("user")
        .distinct()
        .count()
    )
    return {
        "upcoming_sessions": upcoming.count(),
        "next_session": next_session,
        "people_trained": trained,
    }


def public_experts_for_product(product) -> list[Expert]:
    """Public experts who helped cities with an e-product (the catalogue page). One query."""
    return list(Expert.objects.filter(is_public=True, products=product).order_by("full_name"))
