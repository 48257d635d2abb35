"""The cached pages and data (opencity/pagecache.py) of problem reports, and their invalidation.

- A report's page carries `report_tag(pk)` and CATALOGS_TAG (names of categories and
  departments, which admin rarely changes).
- A city's list carries `city_tag(city_id)`; the all-cities list carries `LISTS_TAG`. The
  lists' counts and the map's tiles are cached under the versions of the same tags
  (`shared`), so they change together with the pages.
- Every change of a report (filing, status, answer, department, hidden text or photo, a photo
  made public, "me too", "is it fixed?") calls `report_changed` inside its transaction; the
  tags are bumped when it commits, so everyone sees the change on their next request.
- Categories, departments and a city's map area are edited in admin: a saved or deleted row
  invalidates its city's catalog and lists (signals connected in apps.py).

What nothing invalidates (a report turning overdue at midnight) shows within FRESH_SECONDS.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save

from opencity import pagecache

logger = logging.getLogger(__name__)
T = TypeVar("T")

LISTS_TAG = "problems:lists"
# Every report's page shows names of categories and departments of its city.
CATALOGS_TAG = "problems:catalogs"
# A cached page is rebuilt after this many seconds even if nothing invalidated it.
FRESH_SECONDS = 30
# Shared data (counts, map tiles, a city's catalog) is kept at most this long.
SHARED_SECONDS = 120


def report_tag(report_id: int) -> str:
    return f"problems:report:{report_id}"


def city_tag(city_id: int) -> str:
    return f"problems:city:{city_id}"


def catalog_tag(city_id: int) -> str:
    return f"problems:catalog:{city_id}"


def report_changed(report_id: int, city_id: int) -> None:
    """The report's page, its city's list and map, and the all-cities list are rebuilt on
    their next request (after the current transaction commits)."""
    pagecache.invalidate(report_tag(report_id), city_tag(city_id), LISTS_TAG)


def reports_changed(pairs: Iterable[tuple[int, int]]) -> None:
    """`report_changed` for many (report id, city id) pairs at once."""
    pairs = list(pairs)
    if not pairs:
        return
    cities = {city_id for _pk, city_id in pairs}
    pagecache.invalidate(
        *(report_tag(pk) for pk, _city in pairs), *map(city_tag, cities), LISTS_TAG
    )


def catalog_changed(city_id: int) -> None:
    pagecache.invalidate(catalog_tag(city_id), city_tag(city_id), LISTS_TAG, CATALOGS_TAG)


def digest(*parts) -> str:
    return hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()[:20]


def shared(key: str, tags: Iterable[str], compute: Callable[[], T]) -> T:
    """`compute()` shared by every process until one of `tags` is invalidated (or
    SHARED_SECONDS pass). The versions are read before computing, so a value computed from
    rows older than a change is stored under the old versions and never read again. A cache
    outage means computing it for this request."""
    try:
        full_key = f"problems:{key}:{digest(pagecache.tag_versions(*tags))}"
        value = cache.get(full_key)
    except Exception as exc:
        logger.warning("cache unavailable (%s)", type(exc).__name__)
        return compute()
    if value is None:
        value = compute()
        try:
            cache.set(full_key, value, SHARED_SECONDS)
        except Exception as exc:
            logger.warning("cache unavailable (%s)", type(exc).__name__)
    return value


def _catalog_row_saved(sender, instance, **kwargs) -> None:
    catalog_changed(instance.city_id)


def connect() -> None:
    from problems.models import Category, CityArea, Department

    for signal in (post_save, post_delete):
        for model in (Category, Department, CityArea):
            signal.connect(
                _catalog_row_saved, sender=model, dispatch_uid=f"pc-problems-{model.__name__}"
            )
