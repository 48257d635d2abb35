"""Reads: public lists, search, a petition page's parts, reports for other apps.

Every function runs a constant number of queries, whatever the number of petitions,
signatures or cities.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import BooleanField, Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils import timezone
from django.utils.functional import cached_property

from opencity import pagecache
from opencity.accounts.models import User
from opencity.accounts.selectors import remember_verified_email, verified_email_sql
from opencity.cities import access
from opencity.cities.models import City
from opencity.core.sql import datetime_from_db, prepared_cursor
from opencity.ledger import selectors as ledger
from opencity.ledger.models import Entry
from opencity.notifications import services as notifications
from petitions import conf
from petitions.models import Petition, Signature

logger = logging.getLogger(__name__)
Status = Petition.Status


def public_petitions() -> QuerySet[Petition]:
    """Public petitions for lists: without the long texts a list never shows."""
    return (
        Petition.objects.filter(status__in=Petition.PUBLIC_STATUSES)
        .select_related("city")
        .defer("text", "search_document", "response_text", "rejection_comment")
    )


def search(queryset: QuerySet[Petition], text: str) -> QuerySet[Petition]:
    """Full-text search (PostgreSQL, GIN index) or a case-insensitive match (SQLite)."""
    text = (text or "").strip()
    if not text:
        return queryset
    if connection.vendor == "postgresql":
        # The text is a bound parameter; the SQL is constant (GIN index, migration 0006).
        match = RawSQL(  # noqa: S611
            '"petitions_petition"."search_document" '
            "@@ websearch_to_tsquery('simple'::regconfig, %s)",
            (text,),
            output_field=BooleanField(),
        )
        return queryset.filter(match)
    return queryset.filter(Q(title__icontains=text) | Q(text__icontains=text))


def sort(queryset: QuerySet[Petition], order: str) -> QuerySet[Petition]:
    if order == "newest":
        # Every public petition has a publication date; saying so lets PostgreSQL use the
        # partial index instead of stepping over the NULLs that sort first.
        return queryset.filter(published_at__isnull=False).order_by("-published_at", "-id")
    if order == "ending":
        # "Ending soon" lists petitions that can still be signed.
        return queryset.filter(status__in=[Status.COLLECTING, Status.REACHED]).order_by(
            "collection_ends_at", "id"
        )
    return queryset.order_by("-signature_count", "-id")


def petition_for_viewer(user: User | AnonymousUser, pk: int) -> Petition:
    """A public petition, or a non-public one for its author and its city's staff; else 404."""
    petition = Petition.objects.select_related("city").filter(pk=pk).first()
    if petition is None:
        raise Http404
    if petition.is_public:
        return petition
    if user.is_authenticated and (
        user.pk == petition.author_id or access.can_act_on_city(user, petition.city_id)
    ):
        return petition
    raise Http404


@dataclass(frozen=True)
class SignatoryPage:
    """Public names of signatories, newest first, and the cursor of the next (older) page."""

    rows: list[tuple[str, datetime]]
    older: str | None
    first: bool


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _cursor(signed_at: datetime, pk: int) -> str:
    return f"{(signed_at - _EPOCH) // timedelta(microseconds=1)}.{pk}"


def _parse_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    try:
        micros, pk = (cursor or "").split(".")
        return _EPOCH + timedelta(microseconds=int(micros)), int(pk)
    except (ValueError, OverflowError):
        return None


def signatories_page(petition: Petition, cursor: str | None = None) -> SignatoryPage:
    """A page of signatories' public names (never e-mails), newest first, so a new signer
    finds their name on the first page. Keyset pagination: a page is one index range scan
    from the cursor (the previous page's last signature), whatever its depth; no OFFSET, no
    COUNT. A malformed cursor gives the first page."""
    position = _parse_cursor(cursor)
    rows = Signature.objects.filter(petition_id=petition.pk)
    if position is not None:
        # A row comparison, so PostgreSQL walks the (petition, created_at, id) index.
        rows = rows.filter(
            RawSQL(  # noqa: S611  (constant SQL, bound parameters)
                '("petitions_signature"."created_at", "petitions_signature"."id") < (%s, %s)',
                position,
                output_field=BooleanField(),
            )
        )
    found = list(
        rows.order_by("-created_at", "-id").values_list("public_name", "created_at", "id")[
            : conf.SIGNATORIES_PER_PAGE + 1
        ]
    )
    page = found[: conf.SIGNATORIES_PER_PAGE]
    older = _cursor(page[-1][1], page[-1][2]) if len(found) > len(page) else None
    return SignatoryPage([(name, at) for name, at, _pk in page], older, position is None)


@dataclass(frozen=True)
class VisitorState:
    signed_at: datetime | None
    following: bool
    receipt: Entry | None
    verified: bool  # a confirmed e-mail address: may sign


def visitor_state(petition: Petition, user: User) -> VisitorState:
    """What a signed-in visitor's part of the petition page shows, in one statement: when
    they signed, whether they follow it, their ledger receipt and whether they may sign (a
    confirmed e-mail address)."""
    subject = f"petitions.petition/{petition.pk}"
    follows, follow_params = notifications.following_sql(user.pk, petition)
    receipt, receipt_params = ledger.receipt_sql(user.pk, subject)
    verified, verified_params = verified_email_sql(user.pk)
    with prepared_cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT created_at FROM petitions_signature"  # noqa: S608 - constant SQL
            f" WHERE petition_id = %s AND user_id = %s), {follows}, {receipt}, {verified}",
            [petition.pk, user.pk, *follow_params, *receipt_params, *verified_params],
        )
        signed_at, following, index, code, has_verified = cursor.fetchone()
    remember_verified_email(user, has_verified)
    signed_at = datetime_from_db(signed_at)
    receipt_entry = ledger.receipt_from(index, code)
    if signed_at is not None and receipt_entry is None:
        receipt_entry = ledger.receipt_after_catch_up(user.pk, subject)
    return VisitorState(signed_at, bool(following), receipt_entry, bool(has_verified))


def has_signed(petition: Petition, user: User) -> bool:
    if not user.is_authenticated:
        return False
    return Signature.objects.filter(petition_id=petition.pk, user_id=user.pk).exists()


def petitions_of_author(user: User) -> QuerySet[Petition]:
    return Petition.objects.filter(author=user).select_related("city").order_by("-created_at")


def signatures_of_user(user: User) -> QuerySet[Signature]:
    return (
        Signature.objects.filter(user=user)
        .select_related("petition", "petition__city")
        .order_by("-created_at")
    )


def signatories_for_record(petition: Petition) -> QuerySet:
    """Rows for the official signatory CSV (the city's staff only; the caller checks)."""
    return (
        Signature.objects.filter(petition_id=petition.pk)
        .order_by("created_at", "id")
        .values_list("created_at", "user__full_name", "user__email", "user__identity_provider")
    )


def filter_cities() -> QuerySet[City]:
    """Cities to offer in the list's filter: those with public petitions (the ids are kept
    in the cache for a few minutes; the choices then cost one primary-key query)."""
    key = "petitions:filter-city-ids"
    try:
        ids = cache.get(key)
    except Exception:
        ids = None
    if ids is None:
        ids = list(
            City.objects.filter(
                Exists(
                    Petition.objects.filter(
                        city=OuterRef("pk"), status__in=Petition.PUBLIC_STATUSES
                    )
                )
            ).values_list("pk", flat=True)
        )
        try:
            cache.set(key, ids, 300)
        except Exception as exc:
            logger.warning("cache unavailable (%s)", type(exc).__name__)
    return City.objects.filter(pk__in=ids).order_by("name_uk")


class CachedCountPaginator(Paginator):
    """The total of a filtered list changes slowly; counting 100,000 rows on every page view
    does not pay. The count is kept per filter combination for a short while, and only while
    the page cache's version of `tag` is the one it was counted under: a petition published,
    closed or answered (which invalidates the lists) is counted in at once."""

    def __init__(self, object_list, per_page, *, count_key: str, tag: str, seconds: int = 30):
        super().__init__(object_list, per_page)
        self.count_key = count_key
        self.version_key = pagecache.version_key(tag)
        self.seconds = seconds

    @cached_property
    def count(self) -> int:
        try:
            found = cache.get_many([self.count_key, self.version_key])
        except Exception:
            found = {}
        version = found.get(self.version_key)
        stored = found.get(self.count_key)
        if isinstance(stored, tuple) and stored[0] == version:
            return stored[1]
        value = self.object_list.count()
        try:
            cache.set(self.count_key, (version, value), self.seconds)
        except Exception as exc:
            logger.warning("cache unavailable (%s)", type(exc).__name__)
        return value


def fileable_cities() -> QuerySet[City]:
    """Cities that take petitions through the portal: those that saved their rules."""
    return City.objects.filter(petition_rules__isnull=False).order_by("name_uk")


def export_rows(queryset: QuerySet[Petition]) -> QuerySet:
    """Open data: no personal data beyond the author's public name."""
    return queryset.values_list(
        "pk",
        "city__name_uk",
        "city__katottg",
        "title",
        "author_name",
        "status",
        "submitted_at",
        "published_at",
        "collection_ends_at",
        "threshold",
        "signature_count",
        "paper_signature_count",
        "reached_at",
        "response_decision",
        "answered_at",
    )


EXPORT_COLUMNS = (
    "id",
    "city",
    "katottg",
    "title",
    "author",
    "status",
    "submitted_at",
    "published_at",
    "collection_ends_at",
    "threshold",
    "signature_count",
    "paper_signature_count",
    "reached_at",
    "response_decision",
    "answered_at",
)


# --- contracts for other apps ---------------------------------------------------------------


def home_summary() -> dict:
    """Counts for the home page card: two queries, cached for a minute."""
    key = "petitions:home-summary"
    try:
        summary = cache.get(key)
    except Exception:
        summary = None
    if summary is not None:
        return summary
    totals = Petition.objects.filter(status__in=Petition.PUBLIC_STATUSES).aggregate(
        collecting=Count("pk", filter=Q(status=Status.COLLECTING)),
        answered=Count("pk", filter=Q(status=Status.ANSWERED)),
        signatures=Sum("signature_count"),
    )
    top = list(
        Petition.objects.filter(status=Status.COLLECTING)
        .order_by("-signature_count", "-id")
        .values("pk", "title", "signature_count", "threshold")[:3]
    )
    summary = {
        "collecting": totals["collecting"],
        "answered": totals["answered"],
        "signatures": totals["signatures"] or 0,
        "top": top,
    }
    try:
        cache.set(key, summary, 60)
    except Exception as exc:
        logger.warning("cache unavailable (%s)", type(exc).__name__)
    return summary


def open_petitions_for_city(city: City, limit: int = 5) -> list[Petition]:
    return list(
        Petition.objects.filter(city=city, status=Status.COLLECTING)
        .select_related("city")
        .order_by("-signature_count", "-id")[:limit]
    )


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def city_activity(date_from: date, date_to: date) -> dict[int, dict]:
    """Per city, in [date_from, date_to] (Kyiv days): filed, published, reached, answered on
    time or late. One GROUP BY query."""
    start, end = _day_start(date_from), _day_start(date_to + timedelta(days=1))

    def within(field: str) -> Q:
        return Q(**{f"{field}__gte": start, f"{field}__lt": end})

    answered = within("answered_at")
    rows = (
        Petition.objects.filter(
            within("submitted_at") | within("published_at") | within("reached_at") | answered
        )
        .values("city_id")
        .annotate(
            filed=Count("pk", filter=within("submitted_at")),
            published=Count("pk", filter=within("published_at")),
            reached_threshold=Count("pk", filter=within("reached_at")),
            answered_on_time=Count("pk", filter=answered & Q(answered_on_time=True)),
            answered_total=Count("pk", filter=answered),
        )
        .order_by()
    )
    result = {}
    for row in rows:
        result[row["city_id"]] = {
            "filed": row["filed"],
            "published": row["published"],
            "reached_threshold": row["reached_threshold"],
            "answered_on_time": row["answered_on_time"],
            "answered_late": row["answered_total"] - row["answered_on_time"],
        }
    return result
