"""Reads: public lists, the map's bounding box, nearby duplicates, exports, timelines and the
directors' report figures. Nothing here returns a reporter's personal data to the public."""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.shortcuts import get_object_or_404
from django.utils import timezone

from opencity import pagecache
from opencity.cities.models import City
from opencity.core.services import audit_trail
from problems import conf, pages
from problems.models import Category, CityArea, Department, Photo, Report, Support

Status = Report.Status
METERS_PER_DEGREE_LAT = 111_320.0


def fileable_cities() -> QuerySet[City]:
    return City.objects.filter(problem_area__accepts_reports=True).order_by("name_uk")


def area_of(city: City) -> CityArea | None:
    return catalog(city.pk).area


@dataclass(frozen=True)
class Catalog:
    """What filing in a city needs: its map area and its active categories (with their
    departments), read in two queries and shared through the cache until admin changes a
    category, a department or the area (problems.pages)."""

    area: CityArea | None
    active: tuple[Category, ...]
    # Every category (with its parent) and department: the list's filter choices.
    categories: tuple[Category, ...] = ()
    departments: tuple[Department, ...] = ()

    @property
    def fileable(self) -> list[Category]:
        """Leaves of the city's tree that accept reports (no active child)."""
        parents = {c.parent_id for c in self.active if c.parent_id}
        return [c for c in self.active if c.pk not in parents]

    @property
    def tree(self) -> list[tuple[Category, list[Category]]]:
        """[(top-level category, [its active leaves])] for the filing form's grouped choices.
        A top-level category without children is its own leaf."""
        children: dict[int, list[Category]] = {}
        for category in self.active:
            if category.parent_id:
                children.setdefault(category.parent_id, []).append(category)
        return [
            (category, children.get(category.pk, [category]))
            for category in self.active
            if category.parent_id is None
        ]


def _read_catalog(city_id: int) -> Catalog:
    categories = tuple(
        Category.objects.filter(city_id=city_id)
        .select_related("department", "parent")
        .order_by("position", "name_uk")
    )
    return Catalog(
        area=CityArea.objects.filter(city_id=city_id).first(),
        active=tuple(c for c in categories if c.is_active),
        categories=categories,
        departments=tuple(Department.objects.filter(city_id=city_id)),
    )


def catalog(city_id: int) -> Catalog:
    return pages.shared(
        f"catalog:{city_id}", [pages.catalog_tag(city_id)], lambda: _read_catalog(city_id)
    )


def category_tree(city: City) -> list[tuple[Category, list[Category]]]:
    return catalog(city.pk).tree


def fileable_categories(city: City) -> list[Category]:
    """Leaves of the city's tree that accept reports."""
    return catalog(city.pk).fileable


_city_ids: dict[str, tuple[float, int]] = {}
CITY_ID_SECONDS = 60.0


def forget_city_slug(slug: str | None = None) -> None:
    """Forget one remembered slug (or all of them)."""
    if slug is None:
        _city_ids.clear()
    else:
        _city_ids.pop(slug, None)


def city_id_for_slug(slug: str) -> int | None:
    """A city's id by its slug, remembered by the process for a minute (slugs do not change
    in practice; a wrong slug is looked up every time)."""
    now = time.monotonic()
    known = _city_ids.get(slug)
    if known is not None and now - known[0] < CITY_ID_SECONDS:
        return known[1]
    city_id = City.objects.filter(slug=slug).values_list("pk", flat=True).first()
    if city_id is not None:
        if len(_city_ids) > 5000:
            _city_ids.clear()
        _city_ids[slug] = (now, city_id)
    return city_id


def public_reports() -> QuerySet[Report]:
    """Every report is public from filing (as on FixMyStreet); hidden text is masked by the
    templates and exports, never removed."""
    return Report.objects.all()


def report_for_page(pk: int) -> Report:
    return get_object_or_404(
        Report.objects.select_related("city", "category", "category__parent", "department"),
        pk=pk,
    )


def support_count(report: Report) -> int:
    return Support.objects.filter(report=report).count()


def has_supported(report: Report, user) -> bool:
    return user.is_authenticated and Support.objects.filter(report=report, user=user).exists()


def public_photos(report: Report) -> list[Photo]:
    return [p for p in report.photos.all() if p.is_public]


@dataclass(frozen=True)
class TimelineEvent:
    when: datetime
    action: str
    from_state: str
    to_state: str
    reason: str
    reply: str
    department: str = ""


def timeline(report: Report) -> list[TimelineEvent]:
    """Public steps of a report, oldest first: filed, accepted, answered, done or rejected
    with the reason, reopened. Who did it is not shown (staff names are not public)."""
    public_actions = {
        "problems.report.filed",
        "problems.report.reopened",
        "problems.report.assigned",
        *(f"problems.report.{status}" for status in Report.Status.values),
    }
    events = []
    for entry in audit_trail(report).order_by("created_at", "id"):
        if entry.action not in public_actions:
            continue
        events.append(
            TimelineEvent(
                when=entry.created_at,
                action=entry.action,
                from_state=entry.from_state,
                to_state=entry.to_state,
                reason=entry.reason,
                reply=(entry.data or {}).get("reply") or "",
                department=(entry.data or {}).get("department") or "",
            )
        )
    return events


# --- map and duplicates ---------------------------------------------------------------------


def nearby_open(
    *, category: Category | int, lat: float, lon: float, radius_m: float | None = None
) -> list[Report]:
    """Open reports of the same category within `radius_m` of the point, nearest first."""
    radius_m = radius_m or conf.DUPLICATE_RADIUS_M
    dlat = radius_m / METERS_PER_DEGREE_LAT
    dlon = dlat / max(0.01, math.cos(math.radians(lat)))
    candidates = Report.objects.filter(
        category=category,
        status__in=Report.OPEN_STATUSES,
        lat__range=(lat - dlat, lat + dlat),
        lon__range=(lon - dlon, lon + dlon),
    ).only("id", "title", "lat", "lon", "status", "created_at", "text_hidden")[:50]
    found = []
    for report in candidates:
        distance = distance_m(lat, lon, report.lat, report.lon)
        if distance <= radius_m:
            report.distance_m = round(distance)
            found.append(report)
    return sorted(found, key=lambda r: r.distance_m)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


@dataclass(frozen=True)
class MapFilters:
    city_id: int | None = None
    category_id: int | None = None
    status: str | None = None
    department_id: int | None = None
    since: date | None = None
    until: date | None = None


def _filters_where(f: MapFilters) -> tuple[list[str], list]:
    where: list[str] = []
    params: list = []
    if f.city_id:
        where.append("city_id = %s")
        params.append(f.city_id)
    if f.category_id:
        where.append(
            "(category_id = %s OR category_id IN "
            "(SELECT id FROM problems_category WHERE parent_id = %s))"
        )
        params += [f.category_id, f.category_id]
    if f.status:
        where.append("status = %s")
        params.append(f.status)
    if f.department_id:
        where.append("department_id = %s")
        params.append(f.department_id)
    if f.since:
        where.append("created_at >= %s")
        params.append(
            datetime.combine(f.since, datetime.min.time(), tzinfo=timezone.get_current_timezone())
        )
    if f.until:
        where.append("created_at < %s")
        params.append(
            datetime.combine(f.until, datetime.min.time(), tzinfo=timezone.get_current_timezone())
            + timezone.timedelta(days=1)
        )
    return where, params


def _map_where(box: tuple[float, float, float, float], f: MapFilters) -> tuple[str, list]:
    """The WHERE clause of the reports in a box (west, south, east, north) that match `f`."""
    west, south, east, north = box
    where, params = _filters_where(f)
    return " AND ".join(["lat BETWEEN %s AND %s", "lon BETWEEN %s AND %s", *where]), [
        south,
        north,
        west,
        east,
        *params,
    ]


def _tile_side(box: tuple[float, float, float, float]) -> float:
    """The side (degrees, a power of two) of the map tiles for a view: at least half the
    view's larger side, so a view touches at most 3 × 3 tiles."""
    west, south, east, north = box
    half = max(north - south, east - west) / 2
    return 2.0 ** max(-20, min(8, math.ceil(math.log2(max(half, 1e-9)))))


def _tile_box(side: float, tx: int, ty: int) -> tuple[float, float, float, float]:
    return (tx * side, ty * side, (tx + 1) * side, (ty + 1) * side)


def _compute_tiles(side: float, tiles: list[tuple[int, int]], filters: MapFilters) -> dict:
    """{(tx, ty): ("p", points) or ("c", clusters)} for tiles of `side` degrees: a tile with
    up to MAP_MAX_POINTS reports gives its points ([id, lat, lon, status]), a busier one a
    grid of MAP_TILE_CELLS × MAP_TILE_CELLS clusters ([lat, lon, count]). Two queries at
    most, whatever the number of tiles, each reading only the (city, lat, lon) index."""
    cells = conf.MAP_TILE_CELLS
    cell = side / cells
    wanted = set(tiles)
    west = min(tx for tx, _ty in tiles) * side
    south = min(ty for _tx, ty in tiles) * side
    east = (max(tx for tx, _ty in tiles) + 1) * side
    north = (max(ty for _tx, ty in tiles) + 1) * side
    where, params = _map_where((west, south, east, north), filters)
    grid: dict[tuple[int, int], list] = {tile: [] for tile in tiles}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT floor(lat / %s)::bigint, floor(lon / %s)::bigint, count(*), avg(lat), "  # noqa: S608
            f"avg(lon) FROM problems_report WHERE {where} GROUP BY 1, 2",
            [cell, cell, *params],
        )
        for cy, cx, count, lat, lon in cursor.fetchall():
            tile = (cx // cells, cy // cells)
            if tile in wanted:
                grid[tile].append([round(lat, 6), round(lon, 6), count])
        sparse = [t for t in tiles if sum(c[2] for c in grid[t]) <= conf.MAP_MAX_POINTS]
        points: dict[tuple[int, int], list] = {tile: [] for tile in sparse}
        if sparse and any(grid[t] for t in sparse):
            boxes, box_params = [], []
            for tx, ty in sparse:
                w, s_, e, n = _tile_box(side, tx, ty)
                boxes.append("(lat BETWEEN %s AND %s AND lon BETWEEN %s AND %s)")
                box_params += [s_, n, w, e]
            extra, extra_params = _filters_where(filters)
            cursor.execute(
                "SELECT id, lat, lon, status FROM problems_report WHERE "  # noqa: S608
                + " AND ".join([f"({' OR '.join(boxes)})", *extra]),
                [*box_params, *extra_params],
            )
            for pk, lat, lon, status in cursor.fetchall():
                tile = (math.floor(lon / side), math.floor(lat / side))
                if tile in points:
                    points[tile].append([pk, round(lat, 6), round(lon, 6), status])
    return {tile: ("p", points[tile]) if tile in points else ("c", grid[tile]) for tile in tiles}


def map_features(box: tuple[float, float, float, float], filters: MapFilters) -> dict:
    """Reports in a bounding box (west, south, east, north) for the map.

    The world is cut into square tiles whose side (a power of two in degrees) follows the
    view's size, as map tiles follow the zoom. Each tile is computed once (points, or a grid
    of clusters computed by PostgreSQL when busy) and shared through the cache until a report
    of its city changes (problems.pages), so panning and many visitors of a city's map cost
    one cache read. The answer has the points inside the box and the clusters of the tiles
    that cover it.
    """
    side = _tile_side(box)
    west, south, east, north = box
    tiles = [
        (tx, ty)
        for tx in range(math.floor(west / side), math.floor(east / side) + 1)
        for ty in range(math.floor(south / side), math.floor(north / side) + 1)
    ]
    tag = pages.city_tag(filters.city_id) if filters.city_id else pages.LISTS_TAG
    flavour = pages.digest(filters, conf.MAP_MAX_POINTS, conf.MAP_TILE_CELLS)
    keys = {tile: f"problems:tile:{side!r}:{tile[0]}:{tile[1]}:{flavour}" for tile in tiles}
    try:
        version = pages.digest(pagecache.tag_versions(tag))
        found = cache.get_many([f"{key}:{version}" for key in keys.values()])
    except Exception:
        version, found = None, {}
    data = {}
    missing = []
    for tile, key in keys.items():
        value = found.get(f"{key}:{version}")
        if value is None:
            missing.append(tile)
        else:
            data[tile] = value
    if missing:
        computed = _compute_tiles(side, missing, filters)
        data.update(computed)
        if version is not None:
            with contextlib.suppress(Exception):  # the cache is an accelerator only
                cache.set_many(
                    {f"{keys[tile]}:{version}": value for tile, value in computed.items()},
                    pages.SHARED_SECONDS,
                )
    points, clusters = [], []
    for kind, rows in data.values():
        if kind == "c":
            clusters.extend(rows)
        else:
            points.extend(p for p in rows if south <= p[1] <= north and west <= p[2] <= east)
    answer: dict = {}
    if points or not clusters:
        answer["points"] = sorted(points)
    if clusters:
        answer["clusters"] = clusters
    return answer


# --- list and exports -------------------------------------------------------------------------


def capped_count(queryset: QuerySet, cap: int | None = None) -> int:
    """COUNT(*) up to `cap` + 1 rows: the list says "more than N" instead of counting a
    million rows on every page view."""
    cap = conf.LIST_COUNT_CAP if cap is None else cap
    return queryset.order_by()[: cap + 1].count()


EXPORT_COLUMNS = (
    "id",
    "city",
    "category",
    "department",
    "status",
    "title",
    "description",
    "lat",
    "lon",
    "address",
    "filed_at",
    "answered_at",
    "closed_at",
    "me_too",
    "url",
)


def export_rows(queryset: QuerySet[Report]) -> QuerySet:
    """Public columns only: no reporter, no contact, no e-mail; hidden text is blanked."""
    return (
        queryset.select_related(None)
        .annotate(me_too=Count("supports"))
        .values_list(
            "id",
            "city__name_uk",
            "category__name_uk",
            "department__name_uk",
            "status",
            "title",
            "description",
            "lat",
            "lon",
            "address",
            "created_at",
            "answered_at",
            "closed_at",
            "me_too",
            "text_hidden",
        )
        .order_by("-created_at", "-id")
    )


# --- directors' report figures ----------------------------------------------------------------


@dataclass(frozen=True)
class ProblemFigures:
    city_id: int
    month: date
    reports: int
    answered: int
    median_answer_hours: float | None
    share_on_time: float | None


def report_figures(
    *, start: date, end: date, city_ids: list[int] | None = None
) -> list[ProblemFigures]:
    """Per city and month of filing in [start, end): reports filed, answered, the median time
    to the department's first answer (hours) and the share answered on time."""
    tz = timezone.get_current_timezone()
    queryset = Report.objects.filter(
        created_at__gte=datetime.combine(start, datetime.min.time(), tzinfo=tz),
        created_at__lt=datetime.combine(end, datetime.min.time(), tzinfo=tz),
    )
    if city_ids is not None:
        queryset = queryset.filter(city_id__in=city_ids)
    rows = (
        queryset.annotate(month=TruncMonth("created_at", tzinfo=tz))
        .values_list("city_id", "month", "created_at", "answered_at", "answered_on_time")
        .order_by("city_id", "month")
    )
    grouped: dict[tuple[int, date], list] = {}
    for city_id, month, created, answered, on_time in rows.iterator(chunk_size=5000):
        grouped.setdefault((city_id, month.date()), []).append((created, answered, on_time))
    figures = []
    for (city_id, month), items in grouped.items():
        answered = [(c, a, ok) for c, a, ok in items if a is not None]
        hours = [(a - c).total_seconds() / 3600 for c, a, _ in answered]
        figures.append(
            ProblemFigures(
                city_id=city_id,
                month=month,
                reports=len(items),
                answered=len(answered),
                median_answer_hours=round(statistics.median(hours), 1) if hours else None,
                share_on_time=round(sum(1 for *_, ok in answered if ok) / len(answered), 3)
                if answered
                else None,
            )
        )
    return figures


def city_activity(date_from: date, date_to: date) -> dict[int, dict[str, int | Decimal]]:
    """Per city, reports filed in [date_from, date_to] (Kyiv days, inclusive): how many, how
    many the department answered, how many on time, and the median hours to the answer. For
    the directors' activity report (registered in ProblemsConfig.ready)."""
    tz = timezone.get_current_timezone()
    rows = Report.objects.filter(
        created_at__gte=datetime.combine(date_from, datetime.min.time(), tzinfo=tz),
        created_at__lt=datetime.combine(
            date_to + timedelta(days=1), datetime.min.time(), tzinfo=tz
        ),
    ).values_list("city_id", "created_at", "answered_at", "answered_on_time")
    grouped: dict[int, list] = {}
    for city_id, created, answered, on_time in rows.iterator(chunk_size=5000):
        grouped.setdefault(city_id, []).append((created, answered, on_time))
    activity = {}
    for city_id, items in grouped.items():
        hours = [(a - c).total_seconds() / 3600 for c, a, _ in items if a is not None]
        activity[city_id] = {
            "filed": len(items),
            "answered": len(hours),
            "answered_on_time": sum(1 for *_, ok in items if ok),
            "median_answer_hours": (
                Decimal(str(round(statistics.median(hours), 1))) if hours else Decimal(0)
            ),
        }
    return activity


def open_queue(department_id: int | None = None) -> QuerySet[Report]:
    queryset = Report.objects.filter(status__in=Report.OPEN_STATUSES)
    if department_id:
        queryset = queryset.filter(department_id=department_id)
    return queryset.order_by("answer_due", "created_at")


def overdue_filter() -> Q:
    return Q(
        status__in=Report.OPEN_STATUSES,
        answered_at__isnull=True,
        answer_due__lt=timezone.localdate(),
    )
