"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) at /open311/v2/.

jurisdiction_id is the city's slug; service_code is a category's number. Requests never
carry the reporter's name, e-mail or phone; media_url is not fetched (the portal does not
download from addresses given by clients) and photos are attached on the web site.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405  (we only build XML, never parse it)
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from opencity.cities.models import City
from opencity.forms import clean_plain_text
from opencity.ratelimit import allow
from problems import conf, selectors, services
from problems.models import Category, Report
from problems.open311.keys import app_for_key

MAX_REQUESTS = 1000
DEFAULT_DAYS = 90


class Open311Error(Exception):
    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status = status
        self.description = description


def _xml(root: str, item: str, rows: list[dict]) -> bytes:
    top = ET.Element(root)
    for row in rows:
        element = ET.SubElement(top, item)
        _fill(element, row)
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8")


def _fill(element: ET.Element, row: dict) -> None:
    for key, value in row.items():
        child = ET.SubElement(element, key)
        if isinstance(value, list):
            for item in value:
                _fill(ET.SubElement(child, "attribute"), item)
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        elif value is not None:
            child.text = str(value)


def _respond(fmt: str, root: str, item: str, rows: list[dict], status: int = 200) -> HttpResponse:
    if fmt == "xml":
        return HttpResponse(
            _xml(root, item, rows), content_type="text/xml; charset=utf-8", status=status
        )
    return JsonResponse(rows, safe=False, status=status, json_dumps_params={"ensure_ascii": False})


def _error(fmt: str, exc: Open311Error) -> HttpResponse:
    return _respond(
        fmt, "errors", "error", [{"code": exc.status, "description": exc.description}], exc.status
    )


def _w3c(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


def _jurisdiction(request: HttpRequest) -> City | None:
    slug = request.GET.get("jurisdiction_id") or request.POST.get("jurisdiction_id")
    if not slug:
        return None
    city = selectors.fileable_cities().filter(slug=slug).first()
    if city is None:
        raise Open311Error(404, "jurisdiction_id not found")
    return city


def _services(city: City | None) -> QuerySet[Category]:
    queryset = Category.objects.filter(is_active=True, city__problem_area__accepts_reports=True)
    if city is not None:
        queryset = queryset.filter(city=city)
    return queryset.exclude(children__is_active=True).select_related("parent", "city")


def _service_row(category: Category) -> dict:
    return {
        "service_code": str(category.pk),
        "service_name": category.name_uk,
        "description": str(category),
        "metadata": False,
        "type": "realtime",
        "keywords": category.name_en,
        "group": category.parent.name_uk if category.parent_id else category.name_uk,
        "jurisdiction_id": category.city.slug,
    }


def services_list(request: HttpRequest, fmt: str) -> HttpResponse:
    try:
        city = _jurisdiction(request)
    except Open311Error as exc:
        return _error(fmt, exc)
    rows = [_service_row(c) for c in _services(city)]
    return _respond(fmt, "services", "service", rows)


def service_definition(request: HttpRequest, code: str, fmt: str) -> HttpResponse:
    category = _services(None).filter(pk=int(code) if code.isdigit() else 0).first()
    if category is None:
        return _error(fmt, Open311Error(404, "service_code not found"))
    row = {"service_code": str(category.pk), "attributes": []}
    if fmt == "xml":
        return HttpResponse(
            _xml_single("service_definition", row), content_type="text/xml; charset=utf-8"
        )
    return JsonResponse(row, json_dumps_params={"ensure_ascii": False})


def _xml_single(root: str, row: dict) -> bytes:
    top = ET.Element(root)
    _fill(top, row)
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8")


def _request_row(report: Report) -> dict:
    """The public fields of a report; never the reporter's name or contacts."""
    hidden = report.text_hidden
    status_notes = report.rejection_reason or report.answer_text
    return {
        "service_request_id": str(report.pk),
        "status": "open" if report.is_open else "closed",
        "status_notes": status_notes,
        "service_name": report.category.name_uk,
        "service_code": str(report.category_id),
        "description": "" if hidden else (report.description or report.title),
        "agency_responsible": report.department.name_uk if report.department_id else "",
        "service_notice": "",
        "requested_datetime": _w3c(report.created_at),
        "updated_datetime": _w3c(report.updated_at),
        "expected_datetime": report.answer_due.isoformat() if report.answer_due else None,
        "address": report.address,
        "address_id": "",
        "zipcode": "",
        "lat": report.lat,
        "long": report.lon,
        "media_url": _media_url(report),
    }


def _media_url(report: Report) -> str:
    for photo in report.photos.all():
        if photo.is_public:
            return settings.SITE_URL + photo.image.url
    return ""


def _parse_date(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value.replace(" ", "+"))
    if parsed is None:
        raise Open311Error(400, f"{name} must be a W3C date-time, e.g. 2026-01-01T00:00:00Z")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _requests_query(request: HttpRequest, city: City | None) -> QuerySet[Report]:
    queryset = Report.objects.select_related("category", "department").prefetch_related("photos")
    if city is not None:
        queryset = queryset.filter(city=city)
    ids = request.GET.get("service_request_id")
    if ids:
        wanted = [int(v) for v in ids.split(",") if v.strip().isdigit()][:MAX_REQUESTS]
        return queryset.filter(pk__in=wanted).order_by("-created_at")
    codes = request.GET.get("service_code")
    if codes:
        wanted = [int(v) for v in codes.split(",") if v.strip().isdigit()]
        queryset = queryset.filter(category_id__in=wanted)
    start = _parse_date(request.GET.get("start_date"), "start_date")
    end = _parse_date(request.GET.get("end_date"), "end_date")
    if start and end and end - start > timedelta(days=DEFAULT_DAYS):
        raise Open311Error(400, "start_date and end_date may not span more than 90 days")
    if not start and not end:
        start = timezone.now() - timedelta(days=DEFAULT_DAYS)
    elif not start:
        start = end - timedelta(days=DEFAULT_DAYS)
    queryset = queryset.filter(created_at__gte=start)
    if end:
        queryset = queryset.filter(created_at__lte=end)
    statuses = {s.strip() for s in (request.GET.get("status") or "").split(",") if s.strip()}
    if statuses - {"open", "closed"}:
        raise Open311Error(400, "status must be open or closed")
    if statuses == {"open"}:
        queryset = queryset.filter(status__in=Report.OPEN_STATUSES)
    elif statuses == {"closed"}:
        queryset = queryset.filter(status__in=Report.CLOSED_STATUSES)
    return queryset.order_by("-created_at")[:MAX_REQUESTS]


@csrf_exempt  # apps authenticate with their API key, not a session cookie
def requests_view(request: HttpRequest, fmt: str) -> HttpResponse:
    try:
        if request.method == "POST":
            return _post_request(request, fmt)
        if request.method != "GET":
            raise Open311Error(405, "use GET or POST")
        city = _jurisdiction(request)
        rows = [_request_row(r) for r in _requests_query(request, city)]
    except Open311Error as exc:
        return _error(fmt, exc)
    return _respond(fmt, "service_requests", "request", rows)


def request_detail(request: HttpRequest, request_id: str, fmt: str) -> HttpResponse:
    report = (
        Report.objects.select_related("category", "department")
        .filter(pk=int(request_id) if request_id.isdigit() else 0)
        .first()
    )
    if report is None:
        return _error(fmt, Open311Error(404, "service_request_id not found"))
    return _respond(fmt, "service_requests", "request", [_request_row(report)])


def token_detail(request: HttpRequest, token: str, fmt: str) -> HttpResponse:
    report = Report.objects.filter(token=token).only("pk", "token").first()
    if report is None:
        return _error(fmt, Open311Error(404, "token not found"))
    rows = [{"service_request_id": str(report.pk), "token": str(report.token)}]
    return _respond(fmt, "service_requests", "request", rows)


def _post_request(request: HttpRequest, fmt: str) -> HttpResponse:
    data = request.POST
    app = app_for_key(data.get("api_key"))
    if app is None:
        raise Open311Error(403, "api_key is missing or not valid")
    if not allow("open311_post", f"app{app.pk}"):
        raise Open311Error(429, "too many requests; slow down")
    code = data.get("service_code", "")
    category = _services(_jurisdiction(request)).filter(pk=int(code) if code.isdigit() else 0)
    category = category.first()
    if category is None:
        raise Open311Error(404, "service_code not found")
    lat, lon = data.get("lat"), data.get("long")
    address = (data.get("address_string") or "").strip()[: conf.ADDRESS_MAX_LENGTH]
    point = _point(lat, lon)
    if point is None and not address:
        raise Open311Error(400, "lat and long, or address_string, are required")
    area = selectors.area_of(category.city)
    if point and area is not None and not area.contains(*point):
        raise Open311Error(400, "lat/long is outside the jurisdiction")
    email = (data.get("email") or "").strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise Open311Error(400, "email is required to file a request") from exc
    try:
        description = clean_plain_text(data.get("description") or "")
        address = clean_plain_text(address)
    except ValidationError as exc:
        raise Open311Error(400, "plain text only, without markup") from exc
    if len(description) > conf.DESCRIPTION_MAX_LENGTH:
        raise Open311Error(400, "description is too long")
    title = (description.split("\n", 1)[0][:80] or category.name_uk).strip()
    name = " ".join(
        p
        for p in ((data.get("first_name") or "").strip(), (data.get("last_name") or "").strip())
        if p
    )[:150]
    report = services.report_file(
        data=services.NewReport(
            city=category.city,
            category=category,
            title=title,
            description=description,
            lat=point[0] if point else None,
            lon=point[1] if point else None,
            address=address,
        ),
        source=Report.Source.OPEN311,
        api_app=app,
        contact_email=email,
        contact_name=name,
    )
    rows: list[dict[str, Any]] = [
        {
            "service_request_id": str(report.pk),
            "token": str(report.token),
            "service_notice": f"answer due {report.answer_due.isoformat()}",
            "account_id": None,
        }
    ]
    return _respond(fmt, "service_requests", "request", rows)


def _point(lat: str | None, lon: str | None) -> tuple[float, float] | None:
    if not lat and not lon:
        return None
    try:
        point = float(lat or ""), float(lon or "")
    except ValueError as exc:
        raise Open311Error(400, "lat and long must be numbers") from exc
    if not (-90 <= point[0] <= 90 and -180 <= point[1] <= 180):
        raise Open311Error(400, "lat and long are out of range")
    return point
