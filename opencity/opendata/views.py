"""Open data files (CSV, JSON) and Atom feeds for every registered public list."""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from opencity.opendata import registry
from opencity.opendata.serialize import csv_lines, json_row
from opencity.ratelimit import allow, too_many

FEED_ITEMS = 50


def _open(response: HttpResponse) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _dataset_or_404(name: str) -> registry.Dataset:
    found = registry.dataset(name)
    if found is None:
        raise Http404
    return found


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    context = {"datasets": registry.datasets(), "feeds": registry.feeds()}
    return render(request, "opendata/index.html", context)


def _rows(request: HttpRequest, dataset: registry.Dataset):
    return dataset.rows(registry.filter_values(dataset, request.GET))


def _iterate(rows) -> Iterator[dict]:
    if hasattr(rows, "iterator"):
        return rows.iterator(chunk_size=2000)
    return iter(rows)


@require_GET
def export_csv(request: HttpRequest, name: str) -> HttpResponse:
    dataset = _dataset_or_404(name)
    if not allow("api", request.META.get("REMOTE_ADDR", "")):
        return too_many(request)
    try:
        rows = _rows(request, dataset)
    except registry.BadFilter as exc:
        return _open(HttpResponse(str(exc), status=400, content_type="text/plain"))
    response = StreamingHttpResponse(
        csv_lines(dataset.column_names, map(dataset.row, _iterate(rows))),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{dataset.name}.csv"'
    return _open(response)


@require_GET
def export_json(request: HttpRequest, name: str) -> HttpResponse:
    dataset = _dataset_or_404(name)
    if not allow("api", request.META.get("REMOTE_ADDR", "")):
        return too_many(request)
    try:
        rows = _rows(request, dataset)
    except registry.BadFilter as exc:
        return _open(JsonResponse({"error": str(exc)}, status=400))

    def stream() -> Iterator[str]:
        yield json.dumps({"dataset": dataset.name, "title": str(dataset.title)})[:-1]
        yield ', "items": ['
        for i, row in enumerate(_iterate(rows)):
            yield ("," if i else "") + json.dumps(json_row(dataset.row(row)), ensure_ascii=False)
        yield "]}"

    return _open(StreamingHttpResponse(stream(), content_type="application/json; charset=utf-8"))


@require_GET
def atom(request: HttpRequest, name: str) -> HttpResponse:
    found = registry.feed(name)
    if found is None:
        raise Http404
    feed = Atom1Feed(
        title=f"{found.title} · {_('OpenCity')}",
        link=request.build_absolute_uri(found.page_url or "/"),
        description=str(found.title),
        feed_url=request.build_absolute_uri(),
        language=request.LANGUAGE_CODE,
    )
    for item in found.items(FEED_ITEMS):
        feed.add_item(
            title=item.title,
            link=request.build_absolute_uri(item.link),
            description=item.summary,
            unique_id=request.build_absolute_uri(item.link) + "#" + item.id,
            updateddate=item.updated,
            pubdate=item.updated,
        )
    response = HttpResponse(content_type="application/atom+xml; charset=utf-8")
    feed.write(response, "utf-8")
    return _open(response)
