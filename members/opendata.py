"""Open data of the association: hromadas with their membership status (as filtered on
/cities/) and the e-services catalogue. Contacts and dues stay private."""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import F, QuerySet
from django.utils.translation import gettext_lazy as _

from members.filters import CityFilter, ProductFilter
from members.selectors import city_list_queryset, products_catalogue
from opencity.opendata.registry import Column, Dataset, filtered, filters_of, register_dataset


def cities(filters: Mapping[str, str]) -> QuerySet:
    rows = filtered(CityFilter, city_list_queryset(), filters)
    return rows.order_by("name_uk", "pk").values(
        "katottg", "slug", "name_uk", "name_en", "oblast_uk", "population", "website",
        "membership_status",
    )  # fmt: skip


def eservices(filters: Mapping[str, str]) -> QuerySet:
    rows = filtered(ProductFilter, products_catalogue(), filters)
    return rows.order_by("name", "pk").values(
        "slug", "name", "category", "developer", "licence", "link", x_cities=F("city_count")
    )


register_dataset(
    Dataset(
        "cities",
        _("Hromadas and member cities"),
        (
            Column("katottg", "str", "KATOTTG code"),
            Column("slug", "str", "address name"),
            Column("name_uk", "str", "name (Ukrainian)"),
            Column("name_en", "str", "name (English)"),
            Column("oblast_uk", "str", "oblast"),
            Column("population", "int", "population"),
            Column("website", "str", "website"),
            Column("membership_status", "str", "membership status in the association, if any"),
        ),
        cities,
        filters_of(CityFilter),
        page_url="/cities/",
    )
)
register_dataset(
    Dataset(
        "eservices",
        _("E-services catalogue"),
        (
            Column("slug", "str", "address name"),
            Column("name", "str", "name"),
            Column("category", "str", "category"),
            Column("developer", "str", "developer"),
            Column("licence", "str", "licence"),
            Column("link", "str", "link"),
            Column("cities", "int", "member cities using it", source="x_cities"),
        ),
        eservices,
        filters_of(ProductFilter),
        page_url="/cities/e-services/",
    )
)
