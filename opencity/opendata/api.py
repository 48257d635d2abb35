"""The read-only API under /api/: one paginated, filterable list per registered dataset.

Built on django-ninja: it writes an OpenAPI 3.1 schema from type hints and ships its
browsable docs (Swagger UI) as local static files, no CDN. The item schemas are made from
each dataset's declared columns, so the schema, the CSV and the JSON always agree.
"""

import hashlib
import json
from datetime import date, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI, Query, Schema
from ninja.openapi.docs import Swagger
from pydantic import Field, create_model

from opencity.opendata import registry
from opencity.opendata.serialize import json_row
from opencity.ratelimit import allow

PYTHON_TYPES: dict[str, Any] = {
    "int": int,
    "str": str,
    "bool": bool,
    "float": float,
    "decimal": str,  # exact: money is a decimal string, never a float
    "date": date,
    "datetime": datetime,
}
MAX_PAGE_SIZE = 500


class Error(Schema):
    error: str


def _headers(response: HttpResponse) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = "*"
    response["Vary"] = "Accept-Encoding"
    return response


def _page_response(request: HttpRequest, payload: dict) -> HttpResponse:
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    wanted = [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]
    if etag in wanted or "*" in wanted:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["ETag"] = etag
    response["Cache-Control"] = "public, max-age=10"
    return _headers(response)


def _endpoint(dataset: registry.Dataset):
    item = create_model(
        f"{dataset.name.title().replace('_', '')}Item",
        **{
            column.name: (PYTHON_TYPES[column.type] | None, Field(description=column.description))
            for column in dataset.columns
        },
    )
    page = create_model(
        f"{dataset.name.title().replace('_', '')}Page",
        count=(int, Field(description="rows matching the filters")),
        page=(int, ...),
        page_size=(int, ...),
        next=(str | None, Field(description="address of the next page, if any")),
        previous=(str | None, None),
        results=(list[item], ...),
    )
    params = {f.name: (str | None, Field(None, description=f.description)) for f in dataset.filters}
    filters = create_model(
        f"{dataset.name.title().replace('_', '')}Filters",
        page=(int, Field(1, ge=1)),
        page_size=(int, Field(100, ge=1, le=MAX_PAGE_SIZE)),
        **params,
    )

    def view(request: HttpRequest, query: Query[filters]):  # type: ignore[valid-type]
        if not allow("api", request.META.get("REMOTE_ADDR", "")):
            return _headers(JsonResponse({"error": "too many requests"}, status=429))
        values = {
            k: v for k, v in query.model_dump().items() if k in {f.name for f in dataset.filters}
        }
        try:
            rows = dataset.rows(
                registry.filter_values(dataset, {k: v or "" for k, v in values.items()})
            )
        except registry.BadFilter as exc:
            return _headers(JsonResponse({"error": str(exc)}, status=400))
        start = (query.page - 1) * query.page_size
        if hasattr(rows, "count"):
            count = rows.count()
            chunk = list(rows[start : start + query.page_size])
        else:
            rows = list(rows)
            count, chunk = len(rows), rows[start : start + query.page_size]

        def link(number: int) -> str:
            params = request.GET.copy()
            params["page"] = str(number)
            return request.build_absolute_uri("?" + params.urlencode())

        payload = {
            "count": count,
            "page": query.page,
            "page_size": query.page_size,
            "next": link(query.page + 1) if start + query.page_size < count else None,
            "previous": link(query.page - 1) if query.page > 1 else None,
            "results": [json_row(dataset.row(row)) for row in chunk],
        }
        return _page_response(request, payload)

    view.__name__ = f"list_{dataset.name}"
    return view, page


def build_api() -> NinjaAPI:
    api = NinjaAPI(
        title="OpenCity open data API",
        version="1",
        description=(
            "Read-only public lists of the OpenCity portal: the same rows as the CSV and JSON "
            "files, paginated and filterable as the public pages are. No personal data. "
            "Responses carry an ETag (send If-None-Match to get 304), CORS is open for GET, "
            "and requests are rate limited per address."
        ),
        urls_namespace="api",
        docs=Swagger(),
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    for dataset in registry.datasets():
        view, page = _endpoint(dataset)
        api.get(
            f"/{dataset.name}",
            response={200: page, 304: None, 400: Error, 429: Error},
            summary=str(dataset.title),
            operation_id=f"list_{dataset.name}",
            tags=[dataset.name],
        )(view)
    return api
