"""Open data of the E-City Academy: the sessions (as filtered on /academy/). No participants."""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import F, QuerySet
from django.utils.translation import gettext_lazy as _

from academy import selectors
from academy.filters import SessionFilter
from opencity.opendata.registry import Column, Dataset, filtered, filters_of, register_dataset


def sessions(filters: Mapping[str, str]) -> QuerySet:
    rows = filtered(SessionFilter, selectors.sessions_with_seats(), filters)
    return rows.order_by("starts_at", "pk").values(
        "id", "starts_at", "ends_at", "hours", "venue", "capacity", "free_seats",
        "is_cancelled", x_course=F("course__title"), x_format=F("course__format"),
        x_city=F("city__name_uk"),
    )  # fmt: skip


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
