"""The ledger's public pages and its machine-readable endpoints (used by the verifier)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from opencity.ledger import keys, selectors
from opencity.ratelimit import allow, too_many


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _client(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _json(payload: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(payload, status=status)
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _error(message: str, status: int = 400) -> JsonResponse:
    return _json({"error": message}, status=status)


def _int_param(request: HttpRequest, name: str) -> int:
    try:
        value = int(request.GET[name])
    except (KeyError, ValueError) as exc:
        raise ValueError(_("Give %(name)s as a whole number.") % {"name": name}) from exc
    if value < 0:
        raise ValueError(_("%(name)s cannot be negative.") % {"name": name})
    return value


@require_GET
def about(request: HttpRequest) -> HttpResponse:
    selectors.catch_up_without_worker()
    latest = selectors.checkpoint()
    context = {
        "checkpoint": latest,
        "verifier_key": keys.public_verifier_key(),
        "recent": selectors.recent_checkpoints(),
        "base_url": request.build_absolute_uri("/").rstrip("/"),
        "verifier_url": reverse("ledger:verifier_script"),
    }
    return render(request, "ledger/about.html", context)


@require_GET
def checkpoint(request: HttpRequest) -> HttpResponse:
    selectors.catch_up_without_worker()
    response = HttpResponse(selectors.checkpoint().note, content_type="text/plain; charset=utf-8")
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def archived_checkpoint(request: HttpRequest, size: int) -> HttpResponse:
    found = selectors.checkpoint(size)
    if found is None:
        raise Http404
    response = HttpResponse(found.note, content_type="text/plain; charset=utf-8")
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def verifier_key(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(keys.public_verifier_key() + "\n", content_type="text/plain")
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def verifier_script(request: HttpRequest) -> FileResponse:
    path = Path(__file__).with_name("verify.py")
    return FileResponse(path.open("rb"), as_attachment=True, filename="verify.py")


def _limited(request: HttpRequest) -> bool:
    return not allow("api", _client(request))


@require_GET
def inclusion(request: HttpRequest) -> HttpResponse:
    if _limited(request):
        return too_many(request)
    try:
        index, size = _int_param(request, "leaf"), _int_param(request, "size")
    except ValueError as exc:
        return _error(str(exc))
    latest = selectors.checkpoint()
    if not index < size <= latest.size:
        return _error(
            _("Need leaf < size ≤ %(size)s, the size of the latest checkpoint.")
            % {"size": latest.size}
        )
    proof = selectors.inclusion_proof(index, size)
    return _json(
        {"leaf_index": index, "tree_size": size, "proof": [_b64(value) for value in proof]}
    )


@require_GET
def consistency(request: HttpRequest) -> HttpResponse:
    if _limited(request):
        return too_many(request)
    try:
        old, new = _int_param(request, "from"), _int_param(request, "to")
    except ValueError as exc:
        return _error(str(exc))
    latest = selectors.checkpoint()
    if not old <= new <= latest.size:
        return _error(
            _("Need from ≤ to ≤ %(size)s, the size of the latest checkpoint.")
            % {"size": latest.size}
        )
    proof = selectors.consistency_proof(old, new)
    return _json({"from": old, "to": new, "proof": [_b64(value) for value in proof]})


@require_GET
def leaves(request: HttpRequest) -> HttpResponse:
    if _limited(request):
        return too_many(request)
    try:
        start, end = _int_param(request, "start"), _int_param(request, "end")
    except ValueError as exc:
        return _error(str(exc))
    if end < start:
        return _error(_("end must not be before start."))
    data = selectors.leaves(start, end)
    return _json({"start": start, "leaves": [_b64(value) for value in data]})


@require_GET
def receipt(request: HttpRequest, code: str) -> HttpResponse:
    """A receipt code's leaf, for the verifier: its index and exact bytes."""
    if _limited(request):
        return too_many(request)
    selectors.catch_up_without_worker()
    entry = selectors.entry_by_receipt(code)
    if entry is None:
        return _error(_("No act in the ledger has this receipt code (yet)."), status=404)
    return _json({"index": entry.index, "leaf": _b64(bytes(entry.data))})


@require_GET
def check(request: HttpRequest, code: str) -> HttpResponse:
    """The page a receipt links to: what was recorded, where, and how to check it yourself."""
    if _limited(request):
        return too_many(request)
    selectors.catch_up_without_worker()
    entry = selectors.entry_by_receipt(code)
    context = {
        "code": code,
        "entry": entry,
        "leaf": json.loads(bytes(entry.data)) if entry else None,
        "latest": selectors.checkpoint(),
        "base_url": request.build_absolute_uri("/").rstrip("/"),
    }
    return render(request, "ledger/check.html", context, status=200 if entry else 404)


@login_required
def my_receipts(request: HttpRequest) -> HttpResponse:
    selectors.catch_up_without_worker()
    page = Paginator(selectors.receipts_of(request.user.pk), 30).get_page(request.GET.get("page"))
    return render(request, "ledger/my_receipts.html", {"page": page})
