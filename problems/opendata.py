"""Open data of problem reports: the public list (as filtered on /problems/) and an Atom feed
of new reports. Found by opencity.opendata. No reporter, contact or e-mail; a report whose
text staff hid shows an empty title and description, as on its page."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from django.db.models import Case, Count, F, QuerySet, TextField, Value, When
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
from problems import selectors
from problems.filters import ReportFilter

COLUMNS = (
    Column("id", "int", "report number"),
    Column("city", "str", "the city the report is filed with", source="x_city"),
    Column("katottg", "str", "the city's KATOTTG code", source="x_katottg"),
    Column("category", "str", "category", source="x_category"),
    Column("department", "str", "the department that answers", source="x_department"),
    Column("status", "str", "new, accepted, in_progress, done, rejected or duplicate"),
    Column("title", "str", "title (empty when staff hid the text)", source="x_title"),
    Column("description", "str", "description (empty when staff hid the text)", source="x_text"),
    Column("lat", "float", "latitude of the point on the map"),
    Column("lon", "float", "longitude of the point on the map"),
    Column("address", "str", "address or landmark"),
    Column("filed_at", "datetime", "when it was filed", source="created_at"),
    Column("answer_due", "date", "the day the department's answer is due"),
    Column("answered_at", "datetime", "when the department first answered"),
    Column("answered_on_time", "bool", "whether that answer came by the due day"),
    Column("closed_at", "datetime", "when it was done, rejected or marked a duplicate"),
    Column("duplicate_of", "int", "the report this one duplicates", source="duplicate_of_id"),
    Column("me_too", "int", "people who said “me too”", source="x_me_too"),
)
FILTERS = filters_of(ReportFilter)


def _unless_hidden(field: str):
    return Case(When(text_hidden=True, then=Value("")), default=F(field), output_field=TextField())


def reports(filters: Mapping[str, str]) -> QuerySet:
    rows = filtered(ReportFilter, selectors.public_reports(), filters, ordered=True)
    return rows.annotate(x_me_too=Count("supports")).values(
        "id", "status", "lat", "lon", "address", "created_at", "answer_due", "answered_at",
        "answered_on_time", "closed_at", "duplicate_of_id", "x_me_too",
        x_city=F("city__name_uk"), x_katottg=F("city__katottg"),
        x_category=F("category__name_uk"), x_department=F("department__name_uk"),
        x_title=_unless_hidden("title"), x_text=_unless_hidden("description"),
    )  # fmt: skip


def new_reports(limit: int) -> Iterator[FeedItem]:
    rows = selectors.public_reports().select_related("city", "category").order_by("-created_at")
    for report in rows[:limit]:
        title = _("Text hidden by a moderator") if report.text_hidden else report.title
        yield FeedItem(
            id=f"problem-{report.pk}",
            title=f"{title} ({report.city.name_uk}, {report.category.name_uk})",
            link=report.get_absolute_url(),
            updated=report.created_at,
            summary="" if report.text_hidden else report.description[:500],
        )


register_dataset(
    Dataset("problems", _("Problem reports"), COLUMNS, reports, FILTERS, page_url="/problems/")
)
register_feed(Feed("new-problems", _("New problem reports"), new_reports, page_url="/problems/"))
