"""Citizen pages of problem reports. Thin: a form or filter, one service or selector."""

from __future__ import annotations

import csv
import json
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from opencity import pagecache
from opencity.accounts.selectors import has_verified_email
from opencity.cities import access
from opencity.cities.models import City
from opencity.core import Refused
from opencity.exports import spreadsheet_safe
from opencity.ratelimit import allow
from problems import conf, pages, selectors, services
from problems.filters import ReportFilter
from problems.forms import CityChoiceForm, FixedForm, ReportForm
from problems.models import Category, Follow, Photo, Report


def _client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _map_context(city: City | None) -> dict:
    from django.conf import settings

    area = selectors.area_of(city) if city else None
    return {
        "tile_url": settings.MAP_TILE_URL,
        "tile_attribution": settings.MAP_TILE_ATTRIBUTION,
        "area": area,
    }


# From this row on, a list page reads its ids from the index first (OFFSET over index entries
# only), then the rows; nearer the top one query is cheaper.
DEFERRED_JOIN_FROM = 200


class _ReportPaginator(Paginator):
    """Counts at most LIST_COUNT_CAP + 1 rows, once per filter combination while nothing
    changes (problems.pages), and reads a page as a deferred join: the page's ids from the
    index alone, then those rows, so a deep page does not fetch the rows it skips."""

    def __init__(self, object_list, per_page, *, count_key: str, tags: list[str]):
        super().__init__(object_list, per_page)
        self.count_key = count_key
        self.tags = tags

    @cached_property
    def count(self) -> int:
        return pages.shared(
            self.count_key, self.tags, lambda: selectors.capped_count(self.object_list)
        )

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        columns = ("city", "category", "category__parent")
        if bottom < DEFERRED_JOIN_FROM:
            rows = self.object_list.select_related(*columns)[bottom : bottom + self.per_page]
            return self._get_page(list(rows), number, self)
        ids = list(self.object_list.values_list("pk", flat=True)[bottom : bottom + self.per_page])
        by_id = Report.objects.select_related(*columns).in_bulk(ids)
        return self._get_page([by_id[pk] for pk in ids if pk in by_id], number, self)


def report_list(request: HttpRequest, city_slug: str | None = None) -> HttpResponse:
    """The list (the accessible path) with the map above it; the same filters feed both.
    Served from the page cache; a change of any report of the city rebuilds it."""
    city_id = None
    if city_slug:
        city_id = selectors.city_id_for_slug(city_slug)
        if city_id is None:
            raise Http404
    tag = pages.city_tag(city_id) if city_id else pages.LISTS_TAG

    def build() -> dict:
        city = None
        if city_id:
            city = City.objects.filter(pk=city_id, slug=city_slug).first()
            if city is None:  # the slug now names another city: look it up again next time
                selectors.forget_city_slug(city_slug)
                raise Http404
        filterset = ReportFilter(request.GET or {}, queryset=selectors.public_reports(), city=city)
        if city is not None:
            filterset.use_catalog(selectors.catalog(city.pk))
        query = request.GET.copy()
        query.pop("page", None)
        paginator = _ReportPaginator(
            filterset.ordered_qs,
            conf.REPORTS_PER_PAGE,
            count_key="count:" + pages.digest(city_id, sorted(query.lists())),
            tags=[tag],
        )
        page = paginator.get_page(request.GET.get("page"))
        content = render_to_string(
            "problems/_list_content.html",
            {
                "city": city,
                "filterset": filterset,
                "page": page,
                "count_capped": paginator.count > conf.LIST_COUNT_CAP,
                "count_cap": conf.LIST_COUNT_CAP,
                "query": query.urlencode(),
                "map_query": (f"city={city.slug}&" if city else "") + query.urlencode(),
                **_map_context(city),
            },
        )
        return {"city": city, "content": content}

    return pagecache.page(
        request,
        "problems/list.html",
        key=f"problems:list:{city_id or ''}",
        tags=[tag],
        build=build,
        fresh=pages.FRESH_SECONDS,
    )


def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A report's page, from the page cache: rebuilt at once on any change of the report
    (status, answer, "me too", photos); the visitor's own parts (me too, follow, "is it
    fixed?", staff link) are rendered per visitor (_detail_personal)."""

    def build() -> dict:
        report = selectors.report_for_page(pk)
        return {
            "report": report,
            "photos": selectors.public_photos(report),
            "timeline": selectors.timeline(report),
            "support_count": selectors.support_count(report),
            **_map_context(report.city),
        }

    return pagecache.page(
        request,
        "problems/detail.html",
        key=f"problems:report:{pk}",
        tags=[pages.report_tag(pk), pages.CATALOGS_TAG],
        build=build,
        personal=_detail_personal,
        fresh=pages.FRESH_SECONDS,
    )


def _detail_personal(request: HttpRequest, context: dict) -> dict:
    user = request.user
    if not user.is_authenticated:
        return {}
    report = context["report"]
    is_reporter = user.pk == report.reporter_id
    return {
        "has_supported": selectors.has_supported(report, user),
        "is_following": Follow.objects.filter(report_id=report.pk, user=user).exists(),
        "is_reporter": is_reporter,
        "is_staff_of_city": access.can_act_on_city(user, report.city_id),
        "fixed_form": (
            FixedForm()
            if is_reporter
            and report.status == Report.Status.DONE
            and report.fixed_asked_at
            and not report.fixed_answer
            else None
        ),
    }


# --- filing ---------------------------------------------------------------------------------


@login_required
def file_start(request: HttpRequest) -> HttpResponse:
    """Step one without JavaScript: which city (its categories and map depend on it)."""
    initial = {}
    home = getattr(request.user, "home_city", None)
    if home is not None:
        initial["city"] = home.slug
    form = CityChoiceForm(request.GET or None, initial=initial)
    if request.GET and form.is_valid():
        return redirect("problems:file", city_slug=form.cleaned_data["city"].slug)
    return render(request, "problems/file_start.html", {"form": form})


@login_required
def file_report(request: HttpRequest, city_slug: str) -> HttpResponse:
    city = get_object_or_404(selectors.fileable_cities(), slug=city_slug)
    if not has_verified_email(request.user):
        return render(request, "problems/file_unverified.html", status=403)
    if request.method != "POST":
        form = ReportForm(city=city)
        return _file_page(request, form, city)
    form = ReportForm(request.POST, request.FILES, city=city)
    if not form.is_valid():
        return _file_page(request, form, city, status=400)
    data = form.cleaned_data
    uploads = data["photos"]
    if data["lat"] is not None and not data["not_duplicate"]:
        nearby = selectors.nearby_open(category=data["category"], lat=data["lat"], lon=data["lon"])
        if nearby:
            bound = request.POST.copy()
            bound["not_duplicate"] = "True"
            form = ReportForm(bound, city=city)
            form.is_valid()
            return _file_page(
                request, form, city, nearby=nearby, photos_dropped=bool(uploads), status=200
            )
    if not allow("problem_file", request.user.pk) or not allow(
        "problem_file_ip", _client_address(request)
    ):
        form.add_error(
            None,
            _(
                "You have filed many reports in the last hour. Please try "
                "again later; what you typed is kept below."
            ),
        )
        return _file_page(request, form, city, status=429)
    if uploads and not all(allow("problem_photo", request.user.pk) for _ in uploads):
        form.add_error(
            "photos",
            _(
                "You have uploaded many photos in the last hour. Send "
                "the report without photos or try again later."
            ),
        )
        return _file_page(request, form, city, status=429)
    try:
        report = services.report_file(
            data=services.NewReport(
                city=city,
                category=data["category"],
                title=data["title"],
                description=data["description"],
                lat=data["lat"],
                lon=data["lon"],
                address=data["address"],
                show_name=data["show_name"],
            ),
            reporter=request.user,
            uploads=uploads,
        )
    except Refused as exc:
        form.add_error(None, str(exc))
        return _file_page(request, form, city, status=400)
    messages.success(
        request,
        _(
            "Thank you, your report is filed. The department answers by %(date)s; we e-mail "
            "you at every change."
        )
        % {"date": report.answer_due.strftime("%d.%m.%Y")},
    )
    return redirect(report)


def _file_page(request, form, city, *, nearby=None, photos_dropped=False, status=200):
    return render(
        request,
        "problems/file.html",
        {
            "form": form,
            "city": city,
            "nearby": nearby,
            "photos_dropped": photos_dropped,
            **_map_context(city),
        },
        status=status,
    )


# --- citizens' actions ----------------------------------------------------------------------


@login_required
@require_POST
def support(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(Report, pk=pk)
    if not allow("problem_support", request.user.pk):
        messages.error(request, _("Too many attempts. Please wait a minute."))
        return redirect(report)
    try:
        added = services.report_support(report=report, user=request.user)
    except Refused as exc:
        messages.error(request, str(exc))
    else:
        if added and report.follows.filter(user=request.user).exists():
            messages.success(request, _("Thank you, your voice is added. You follow this report."))
        elif added:  # automatic follows turned off in the notification settings
            messages.success(request, _("Thank you, your voice is added."))
        else:
            messages.info(request, _("You have already added your voice to this report."))
    return redirect(report)


@login_required
@require_POST
def follow(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(Report, pk=pk)
    on = request.POST.get("follow") != "0"
    services.report_follow(report=report, user=request.user, follow=on)
    messages.success(
        request,
        _("You follow this report: we e-mail you at every change.")
        if on
        else _("You no longer follow this report."),
    )
    return redirect(report)


@login_required
@require_POST
def fixed_answer(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(Report, pk=pk)
    form = FixedForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose “yes” or “no”."))
        return redirect(report)
    try:
        services.report_fixed_answer(
            report=report, user=request.user, fixed=form.cleaned_data["fixed"]
        )
    except Refused as exc:
        messages.error(request, str(exc))
        return redirect(report)
    if form.cleaned_data["fixed"]:
        messages.success(request, _("Thank you for confirming."))
    elif report.status == Report.Status.IN_PROGRESS:
        messages.success(request, _("The report is reopened; the department will look again."))
    else:
        messages.info(
            request,
            _(
                "This report was already reopened once. If the problem is still there, please "
                "file a new report."
            ),
        )
    return redirect(report)


@login_required
def photo_original(request: HttpRequest, pk: int) -> FileResponse:
    """The original upload (with its camera data): the city's staff only."""
    photo = get_object_or_404(Photo.objects.select_related("report"), pk=pk)
    if not access.can_act_on_city(request.user, photo.report.city_id):
        raise Http404
    response = FileResponse(photo.original.open("rb"), content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="photo-{photo.pk}-original"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- JSON for the map and the filing form ---------------------------------------------------


def _float(value: str | None) -> float:
    try:
        number = float(value or "")
    except ValueError as exc:
        raise ValidationError("not a number") from exc
    if number != number or number in (float("inf"), float("-inf")):
        raise ValidationError("not a number")
    return number


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _date_or_none(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@require_GET
def map_json(request: HttpRequest) -> JsonResponse:
    """Reports in ?bbox=west,south,east,north (with the list's filters)."""
    try:
        west, south, east, north = (_float(v) for v in request.GET.get("bbox", "").split(","))
    except (ValueError, ValidationError):
        return JsonResponse({"error": _("bbox must be west,south,east,north")}, status=400)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        return JsonResponse({"error": _("bbox must be west,south,east,north")}, status=400)
    city = request.GET.get("city")
    city_id = None
    if city:
        city_id = selectors.city_id_for_slug(city) or -1
    status = request.GET.get("status")
    filters = selectors.MapFilters(
        city_id=city_id,
        category_id=_int_or_none(request.GET.get("category")),
        status=status if status in Report.Status.values else None,
        department_id=_int_or_none(request.GET.get("department")),
        since=_date_or_none(request.GET.get("since")),
        until=_date_or_none(request.GET.get("until")),
    )
    response = JsonResponse(selectors.map_features((west, south, east, north), filters))
    response["Cache-Control"] = "max-age=10"
    return response


@require_GET
def nearby_json(request: HttpRequest) -> JsonResponse:
    """Open reports of a category within ~100 m: "Is it one of these?" while filing."""
    try:
        lat, lon = _float(request.GET.get("lat")), _float(request.GET.get("lon"))
    except ValidationError:
        return JsonResponse({"reports": []}, status=400)
    category = get_object_or_404(Category, pk=_int_or_none(request.GET.get("category")) or 0)
    reports = selectors.nearby_open(category=category, lat=lat, lon=lon)
    return JsonResponse(
        {
            "reports": [
                {
                    "id": r.pk,
                    "title": _("Text hidden by a moderator") if r.text_hidden else r.title,
                    "distance_m": r.distance_m,
                    "status": r.get_status_display(),
                    "url": r.get_absolute_url(),
                }
                for r in reports
            ]
        }
    )


# --- exports --------------------------------------------------------------------------------


def _export_filter(request: HttpRequest) -> ReportFilter:
    return ReportFilter(request.GET, queryset=selectors.public_reports())


def _public_row(row) -> list:
    *values, hidden = row
    values = list(values)
    if hidden:
        values[5] = ""  # title
        values[6] = ""  # description
    values[10] = values[10].isoformat() if values[10] else None
    values[11] = values[11].isoformat() if values[11] else None
    values[12] = values[12].isoformat() if values[12] else None
    return [*values, f"/problems/{values[0]}/"]


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
def export_csv(request: HttpRequest) -> StreamingHttpResponse:
    """Public reports as CSV: no reporter, no contacts."""
    rows = selectors.export_rows(_export_filter(request).ordered_qs)
    writer = csv.writer(_Echo())

    def stream():
        yield "\ufeff" + writer.writerow(selectors.EXPORT_COLUMNS)
        for row in rows.iterator(chunk_size=2000):
            yield writer.writerow(
                ["" if v is None else spreadsheet_safe(v) for v in _public_row(row)]
            )

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="problems.csv"'
    return response


@require_GET
def export_geojson(request: HttpRequest) -> StreamingHttpResponse:
    """Public reports with a point as a GeoJSON FeatureCollection (RFC 7946)."""
    rows = selectors.export_rows(_export_filter(request).ordered_qs.filter(lat__isnull=False))

    def stream():
        yield '{"type": "FeatureCollection", "features": ['
        for i, row in enumerate(rows.iterator(chunk_size=2000)):
            values = _public_row(row)
            properties = dict(zip(selectors.EXPORT_COLUMNS, values, strict=True))
            feature = {
                "type": "Feature",
                "id": values[0],
                "geometry": {"type": "Point", "coordinates": [values[8], values[7]]},
                "properties": properties,
            }
            yield ("," if i else "") + json.dumps(feature, ensure_ascii=False)
        yield "]}"

    response = StreamingHttpResponse(stream(), content_type="application/geo+json")
    response["Content-Disposition"] = 'attachment; filename="problems.geojson"'
    return response


@login_required
def my_reports(request: HttpRequest) -> HttpResponse:
    page = Paginator(
        Report.objects.filter(reporter=request.user).select_related("city", "category"),
        conf.REPORTS_PER_PAGE,
    ).get_page(request.GET.get("page"))
    return render(request, "problems/mine.html", {"page": page, "today": timezone.localdate()})
