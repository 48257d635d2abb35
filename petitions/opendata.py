"""Open data of petitions: the public list (as filtered on /petitions/), the signature counts,
and Atom feeds of new petitions and official responses. Found by opencity.opendata."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from django.db.models import F, QuerySet
from django.utils.translation import gettext_lazy as _

from opencity.opendata.registry import (
    Column,
    Dataset,
    Feed,
    FeedItem,
    filtered,
    filters_of,
    register_dataset,
    register_feed,
)
from petitions import selectors
from petitions.filters import PetitionFilter

COLUMNS = (
    Column("id", "int", "petition number"),
    Column("city", "str", "council the petition is addressed to", source="x_city"),
    Column("katottg", "str", "the council's KATOTTG code", source="x_katottg"),
    Column("title", "str", "title"),
    Column("author", "str", "the author's public name", source="x_author"),
    Column("status", "str", "collecting, reached, answered or closed"),
    Column("submitted_at", "datetime", "when it was submitted"),
    Column("published_at", "datetime", "when collection started"),
    Column("collection_ends_at", "datetime", "when collection ends"),
    Column("threshold", "int", "signatures needed"),
    Column("signature_count", "int", "signatures counted (about a second behind)"),
    Column("reached_at", "datetime", "when the threshold was reached"),
    Column("response_decision", "str", "the council's decision"),
    Column("answered_at", "datetime", "when the council answered"),
)
FILTERS = filters_of(PetitionFilter)


def _filtered(filters: Mapping[str, str]) -> QuerySet:
    return filtered(PetitionFilter, selectors.public_petitions(), filters, ordered=True)


def petitions(filters: Mapping[str, str]) -> QuerySet:
    return _filtered(filters).values(
        "id",
        "title",
        "status",
        "submitted_at",
        "published_at",
        "collection_ends_at",
        "threshold",
        "signature_count",
        "reached_at",
        "response_decision",
        "answered_at",
        x_city=F("city__name_uk"),
        x_katottg=F("city__katottg"),
        x_author=F("author_name"),
    )


def signature_counts(filters: Mapping[str, str]) -> QuerySet:
    return _filtered(filters).values("id", "signature_count", "threshold", "counted_at")


def new_petitions(limit: int) -> Iterator[FeedItem]:
    rows = selectors.public_petitions().exclude(published_at=None).order_by("-published_at")
    for petition in rows.select_related("city")[:limit]:
        yield FeedItem(
            id=f"petition-{petition.pk}",
            title=f"{petition.title} ({petition.city.name_uk})",
            link=petition.get_absolute_url(),
            updated=petition.published_at,
            summary=petition.text[:500],
        )


def responses(limit: int) -> Iterator[FeedItem]:
    rows = selectors.public_petitions().exclude(answered_at=None).order_by("-answered_at")
    for petition in rows.select_related("city")[:limit]:
        yield FeedItem(
            id=f"response-{petition.pk}",
            title=f"{petition.get_response_decision_display()}: {petition.title}",
            link=petition.get_absolute_url(),
            updated=petition.answered_at,
            summary=petition.response_text[:1000],
        )


register_dataset(
    Dataset("petitions", _("Petitions"), COLUMNS, petitions, FILTERS, page_url="/petitions/")
)
register_dataset(
    Dataset(
        "signature_counts",
        _("Signature counts"),
        (
            Column("id", "int", "petition number"),
            Column("signature_count", "int", "signatures counted"),
            Column("threshold", "int", "signatures needed"),
            Column("counted_at", "datetime", "when the count was last taken"),
        ),
        signature_counts,
        FILTERS,
        page_url="/petitions/",
    )
)
register_feed(Feed("new-petitions", _("New petitions"), new_petitions, page_url="/petitions/"))
register_feed(Feed("petition-responses", _("Responses to petitions"), responses, "/petitions/"))
