"""What each service contributes to the directors' reports and to profile pages.

The core never imports a service, and the association back office (members/) imports no
other service: a service registers its figures and page sections here, from its
``AppConfig.ready()``, and members/ reads them back. A new service (problem reports, …)
appears in the reports and on the city profile without members/ changing.

API (all arguments keyword-only; registration order = INSTALLED_APPS order):

``register_activity(source: ActivitySource)``
    Per-city figures for a period. ``ActivitySource(app, figures, per_city, totals=None)``:
    ``per_city(date_from, date_to) -> {city_id: {figure_key: number}}`` (dates inclusive,
    Kyiv days; cities with nothing may be left out); ``totals(date_from, date_to) ->
    {figure_key: number}`` when a total is not the sum over cities (people trained in
    sessions shared by several cities), else ``None`` and the report sums ``per_city``.
    Each ``Figure(key, label, column_label=None, summary=True, per_city=True,
    decimal=False)`` is a row of the period report's summary (``summary``) and/or a column
    of the activity-per-city table (``per_city``, headed ``column_label or label``).
    ``decimal`` figures (hours) keep their fraction and are left out of the charts.
    The activity chart ranks cities by the first per-city figure of the first source.

``register_section(page: str, section: Section)``
    A block on a profile page. ``page`` names the page: ``"city"`` (the public city profile,
    object: a ``City``) or ``"eproduct"`` (the e-services catalogue entry, object: an
    ``EProduct``). ``Section(app, template, items)``: ``items(obj) -> Sequence`` is called
    once per page view (keep it to one query); the page includes ``template`` with
    ``items`` in its context, and the template decides what to show when it is empty.

``activity_sources() -> tuple[ActivitySource, ...]`` and
``sections(page, obj) -> list[SectionContent]`` read them back (members/ does).

Registering the same ``app`` twice for one registry replaces the earlier entry, so a
reloaded AppConfig never shows a figure twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

Number = int | Decimal
PerCity = Callable[[date, date], Mapping[int, Mapping[str, Number]]]
Totals = Callable[[date, date], Mapping[str, Number]]


@dataclass(frozen=True)
class Figure:
    key: str
    label: Any  # a lazy translation
    column_label: Any = None
    summary: bool = True
    per_city: bool = True
    decimal: bool = False

    @property
    def heading(self) -> Any:
        return self.column_label or self.label

    def value(self, raw: Any) -> Number:
        return Decimal(raw or 0) if self.decimal else int(raw or 0)


@dataclass(frozen=True)
class ActivitySource:
    app: str
    figures: tuple[Figure, ...]
    per_city: PerCity
    totals: Totals | None = None

    def total(self, date_from: date, date_to: date) -> dict[str, Number]:
        """Each figure's total for the period, in the figure's type."""
        if self.totals is not None:
            raw = self.totals(date_from, date_to)
            return {f.key: f.value(raw.get(f.key)) for f in self.figures}
        rows = self.per_city(date_from, date_to).values()
        return {
            f.key: sum((f.value(row.get(f.key)) for row in rows), f.value(0)) for f in self.figures
        }


@dataclass(frozen=True)
class Section:
    app: str
    template: str
    items: Callable[[Any], Sequence]


@dataclass(frozen=True)
class SectionContent:
    app: str
    template: str
    items: Sequence


_activity: dict[str, ActivitySource] = {}
_sections: dict[str, dict[str, Section]] = {}


def register_activity(source: ActivitySource) -> None:
    _activity[source.app] = source


def register_section(page: str, section: Section) -> None:
    _sections.setdefault(page, {})[section.app] = section


def activity_sources() -> tuple[ActivitySource, ...]:
    return tuple(_activity.values())


def sections(page: str, obj: Any) -> list[SectionContent]:
    """The registered blocks of `page` for `obj`, each with its items already read."""
    return [
        SectionContent(app=s.app, template=s.template, items=s.items(obj))
        for s in _sections.get(page, {}).values()
    ]
