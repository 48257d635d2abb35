"""Open data of public budgets: programmes, projects (as filtered on /initiatives/), published
results, and an Atom feed of published results. Found by opencity.opendata."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from django.db.models import F, QuerySet
from django.utils.translation import gettext_lazy as _

from initiatives import selectors
from initiatives.filters import InitiativeFilter
from initiatives.models import ResultRow, ResultSnapshot
from opencity.opendata.registry import (
    Column,
    Dataset,
    Feed,
    FeedItem,
    Filter,
    filtered,
    filters_of,
    register_dataset,
    register_feed,
)


def programmes(filters: Mapping[str, str]) -> QuerySet:
    rows = selectors.programmes()
    if "city" in filters:
        rows = rows.filter(city__slug=filters["city"])
    if "year" in filters:
        rows = rows.filter(year=filters["year"]) if filters["year"].isdigit() else rows.none()
    return rows.order_by("-year", "title", "pk").values(
        "id", "slug", "title", "year", "total_budget", "submission_opens", "submission_closes",
        "voting_opens", "voting_closes", "max_votes", "min_voter_age",
        x_city=F("city__name_uk"), x_katottg=F("city__katottg"),
    )  # fmt: skip


def projects(filters: Mapping[str, str]) -> QuerySet:
    rows = filtered(InitiativeFilter, selectors.public_initiatives(), filters)
    return rows.values(
        "id", "title", "summary", "address", "status", "total_cost",
        x_programme=F("programme__slug"), x_category=F("category__name"),
        x_district=F("district__name"), x_city=F("programme__city__name_uk"),
        x_votes=F("vote_total"),
    )  # fmt: skip


def results(filters: Mapping[str, str]) -> QuerySet:
    rows = ResultRow.objects.filter(snapshot__published_at__isnull=False)
    if "programme" in filters:
        rows = rows.filter(snapshot__programme__slug=filters["programme"])
    return rows.order_by("snapshot__programme__slug", "category__name", "rank", "pk").values(
        "rank", "votes", "amount", x_votes_online=F("votes") - F("paper_votes"),
        x_votes_paper=F("paper_votes"), x_programme=F("snapshot__programme__slug"),
        x_category=F("category__name"),
        x_initiative_id=F("initiative__id"), x_title=F("initiative__title"),
        x_funded=F("winner"), x_published_at=F("snapshot__published_at"),
        x_content_hash=F("snapshot__content_hash"),
    )  # fmt: skip


def published_results(limit: int) -> Iterator[FeedItem]:
    rows = (
        ResultSnapshot.objects.filter(published_at__isnull=False)
        .select_related("programme__city")
        .order_by("-published_at")[:limit]
    )
    for snapshot in rows:
        programme = snapshot.programme
        yield FeedItem(
            id=f"results-{snapshot.pk}",
            title=f"{programme.title} ({programme.city.name_uk}): {_('results')}",
            link=f"{programme.get_absolute_url()}results/",
            updated=snapshot.published_at,
            summary=f"{snapshot.total_votes} / {snapshot.funded_amount} UAH",
        )


register_dataset(
    Dataset(
        "programmes",
        _("Public budget programmes"),
        (
            Column("id", "int", "programme number"),
            Column("slug", "str", "address name"),
            Column("title", "str", "title"),
            Column("city", "str", "council", source="x_city"),
            Column("katottg", "str", "the council's KATOTTG code", source="x_katottg"),
            Column("year", "int", "budget year"),
            Column("total_budget", "decimal", "total budget, UAH"),
            Column("submission_opens", "date", "project submission opens"),
            Column("submission_closes", "date", "project submission closes"),
            Column("voting_opens", "date", "voting opens"),
            Column("voting_closes", "date", "voting closes"),
            Column("max_votes", "int", "votes per voter"),
            Column("min_voter_age", "int", "minimum voter age"),
        ),
        programmes,
        (Filter("city", "council slug"), Filter("year", "budget year", type="int")),
        page_url="/initiatives/",
    )
)
register_dataset(
    Dataset(
        "projects",
        _("Public budget projects"),
        (
            Column("id", "int", "project number"),
            Column("programme", "str", "programme slug", source="x_programme"),
            Column("city", "str", "council", source="x_city"),
            Column("category", "str", "category", source="x_category"),
            Column(
                "district", "str", "district, if the programme has districts", source="x_district"
            ),
            Column("title", "str", "title"),
            Column("summary", "str", "summary"),
            Column("address", "str", "where"),
            Column("status", "str", "status"),
            Column("total_cost", "decimal", "cost, UAH"),
            Column("votes", "int", "votes so far", source="x_votes"),
        ),
        projects,
        filters_of(InitiativeFilter),
        page_url="/initiatives/",
    )
)
register_dataset(
    Dataset(
        "results",
        _("Public budget results"),
        (
            Column("programme", "str", "programme slug", source="x_programme"),
            Column("category", "str", "category", source="x_category"),
            Column("rank", "int", "rank in the category"),
            Column("initiative_id", "int", "project number", source="x_initiative_id"),
            Column("title", "str", "project title", source="x_title"),
            Column("votes", "int", "votes, online and on paper"),
            Column(
                "votes_online",
                "int",
                "of them online (empty for results tallied before the split was kept)",
                source="x_votes_online",
            ),
            Column(
                "votes_paper",
                "int",
                "of them on paper ballots of service centres (empty likewise)",
                source="x_votes_paper",
            ),
            Column("amount", "decimal", "cost, UAH"),
            Column("funded", "bool", "funded", source="x_funded"),
            Column(
                "published_at",
                "datetime",
                "when the results were published",
                source="x_published_at",
            ),
            Column(
                "content_hash",
                "str",
                "hash of the tally snapshot (also in the ledger)",
                source="x_content_hash",
            ),
        ),
        results,
        (Filter("programme", "programme slug"),),
        page_url="/initiatives/",
    )
)
register_feed(
    Feed("programme-results", _("Public budget results"), published_results, "/initiatives/")
)
