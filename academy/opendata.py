"""Open data of the E-City Academy: the sessions (as filtered on /academy/) and the experts
directory (as filtered on /academy/experts/). No participants; of an expert only what the
directory page shows to everyone (no e-mail, phone or website: those are for signed-in
users on the profile page)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from django.db.models import F, QuerySet
from django.utils.translation import gettext_lazy as _

from academy import selectors
from academy.filters import ExpertFilter, SessionFilter
from academy.models import Expert
from opencity.opendata.registry import Column, Dataset, filtered, filters_of, register_dataset


def sessions(filters: Mapping[str, str]) -> QuerySet:
    rows = filtered(SessionFilter, selectors.sessions_with_seats(), filters)
    return rows.order_by("starts_at", "pk").values(
        "id", "starts_at", "ends_at", "hours", "venue", "capacity", "free_seats",
        "is_cancelled", x_course=F("course__title"), x_format=F("course__format"),
        x_city=F("city__name_uk"),
    )  # fmt: skip


def experts(filters: Mapping[str, str]) -> Iterator[dict]:
    # Filtered here, not in the generator, so that a bad filter is refused before streaming.
    rows = filtered(ExpertFilter, selectors.public_experts(), filters).order_by("full_name", "pk")
    return _expert_rows(rows.only("slug", "full_name", "headline"))


def _expert_rows(rows: QuerySet[Expert]) -> Iterator[dict]:
    for expert in rows:  # the expertise areas come prefetched (selectors.public_experts)
        yield {
            "slug": expert.slug,
            "full_name": expert.full_name,
            "headline": expert.headline,
            "expertise": "; ".join(topic.name_uk for topic in expert.expertise.all()),
        }


register_dataset(
    Dataset(
        "academy_sessions",
        _("Academy sessions"),
        (
            Column("id", "int", "session number"),
            Column("course", "str", "course title", source="x_course"),
            Column("format", "str", "in person, online or mixed", source="x_format"),
            Column("city", "str", "city, for sessions held in one", source="x_city"),
            Column("venue", "str", "where"),
            Column("starts_at", "datetime", "starts"),
            Column("ends_at", "datetime", "ends"),
            Column("hours", "decimal", "training hours"),
            Column("capacity", "int", "seats"),
            Column("free_seats", "int", "seats still free"),
            Column("is_cancelled", "bool", "cancelled"),
        ),
        sessions,
        filters_of(SessionFilter),
        page_url="/academy/",
    )
)
register_dataset(
    Dataset(
        "academy_experts",
        _("E-government experts"),
        (
            Column("slug", "str", "address name of the profile (/academy/experts/<slug>/)"),
            Column("full_name", "str", "full name"),
            Column("headline", "str", "position"),
            Column("expertise", "str", "expertise areas, separated by semicolons"),
        ),
        experts,
        filters_of(ExpertFilter),
        page_url="/academy/experts/",
    )
)
