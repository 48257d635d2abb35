"""Public datasets and Atom feeds, declared by each service in its `<app>/opendata.py`.

A dataset is a public list: its columns (name, type, meaning), the filters its public page
offers, and a function that returns the filtered rows as dicts. From one declaration the
portal serves CSV, JSON, a paginated read API with an OpenAPI schema, and the links on the
list page. Only what is already public goes in: no e-mails, no signers' or voters' names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

TYPES = ("int", "str", "bool", "float", "decimal", "date", "datetime")


class BadFilter(ValueError):
    """A filter value the public page would also refuse; the message says which."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    # The key in the row dicts when it differs from `name`: querysets cannot annotate a name
    # their model already uses (`city=F("city__name_uk")`), so rows say `x_city` instead.
    source: str = ""

    @property
    def key(self) -> str:
        return self.source or self.name

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"column {self.name}: unknown type {self.type!r}")


@dataclass(frozen=True)
class Filter:
    name: str
    description: str
    type: str = "str"
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    columns: tuple[Column, ...]
    # rows(filters) -> rows as dicts keyed by column name, in a stable order; raises
    # BadFilter for a filter value the public page would refuse.
    rows: Callable[[Mapping[str, str]], QuerySet | Iterable[dict]]
    filters: tuple[Filter, ...] = ()
    page_url: str = ""  # the public list page this dataset mirrors

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def row(self, values: dict) -> dict:
        return {column.name: values.get(column.key) for column in self.columns}


@dataclass(frozen=True)
class FeedItem:
    id: str
    title: str
    link: str
    updated: datetime
    summary: str = ""


@dataclass(frozen=True)
class Feed:
    name: str
    title: str
    items: Callable[[int], Iterable[FeedItem]]  # newest first, at most n
    page_url: str = ""


_datasets: dict[str, Dataset] = {}
_feeds: dict[str, Feed] = {}


def register_dataset(dataset: Dataset) -> Dataset:
    _datasets[dataset.name] = dataset
    return dataset


def register_feed(feed: Feed) -> Feed:
    _feeds[feed.name] = feed
    return feed


def datasets() -> list[Dataset]:
    return sorted(_datasets.values(), key=lambda d: d.name)


def dataset(name: str) -> Dataset | None:
    return _datasets.get(name)


def feeds() -> list[Feed]:
    return sorted(_feeds.values(), key=lambda f: f.name)


def feed(name: str) -> Feed | None:
    return _feeds.get(name)


def filter_values(dataset: Dataset, params: Mapping[str, str]) -> dict[str, str]:
    """Only the dataset's own filters, non-empty, with choices checked."""
    values = {}
    for item in dataset.filters:
        value = (params.get(item.name) or "").strip()
        if not value:
            continue
        if item.choices and value not in item.choices:
            raise BadFilter(f"{item.name}: one of {', '.join(item.choices)}")
        values[item.name] = value
    return values


def filters_of(filterset_class) -> tuple[Filter, ...]:
    """The public page's django-filter FilterSet, described as dataset filters."""
    described = []
    for name, item in filterset_class.base_filters.items():
        choices = item.extra.get("choices")
        static = (
            tuple(str(value) for value, _label in choices)
            if isinstance(choices, list | tuple)
            else ()
        )
        described.append(Filter(name, str(item.label or name), choices=static))
    return tuple(described)


def filtered(filterset_class, queryset, filters: Mapping[str, str], *, ordered: bool = False):
    """Apply the public page's FilterSet exactly as the page does; BadFilter when invalid."""
    filterset = filterset_class(data=dict(filters), queryset=queryset)
    if not filterset.form.is_valid():
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in filterset.form.errors.items())
        raise BadFilter(errors)
    return filterset.ordered_qs if ordered else filterset.qs
