"""Citizen pages. Thin: a form or filter, one service or selector, render or redirect."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from datetime import datetime
from functools import lru_cache

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from opencity import pagecache
from opencity.cities import access
from opencity.cities.models import City
from opencity.core import Refused
from opencity.core.web import refusal_to_message
from opencity.exports import csv_response
from opencity.ratelimit import allow_request, too_many
from petitions import conf, pages, selectors, services
from petitions.filters import PetitionFilter
from petitions.forms import PetitionForm, SignForm
from petitions.models import Petition

logger = logging.getLogger(__name__)


def _cached_fragment(key: str, build, seconds: int = conf.PAGE_CACHE_SECONDS) -> str:
    """Public page parts are shared by everyone for a few seconds; a cache outage only
    means rendering them again."""
    try:
        html = cache.get(key)
    except Exception:
        html = None
    if html is None:
        html = build()
        try:
            cache.set(key, html, seconds)
        except Exception as exc:
            logger.warning("page cache unavailable (%s)", type(exc).__name__)
    return html


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def _list_filter(request: HttpRequest, city: City | None) -> PetitionFilter:
    queryset = selectors.public_petitions()
    data = request.GET.copy()
    if city is not None:
        queryset = queryset.filter(city=city)
        data.pop("city", None)
    return PetitionFilter(data, queryset=queryset)


def petition_list(request: HttpRequest, city_slug: str | None = None) -> HttpResponse:
    city = get_object_or_404(City, slug=city_slug) if city_slug else None
    query = request.GET.copy()
    query.pop("page", None)
    digest = _digest(f"{city_slug}|{sorted(request.GET.lists())}")
    filters = {k: v for k, v in request.GET.lists() if k not in ("page", "sort")}
    count_key = "petitions:list-count:" + _digest(
        f"{city_slug}|{sorted(filters.items())}|{request.GET.get('sort') == 'ending'}"
    )

    def build_content() -> str:
        filterset = _list_filter(request, city)
        paginator = selectors.CachedCountPaginator(
            filterset.ordered_qs,
            conf.PETITIONS_PER_PAGE,
            count_key=count_key,
            tag=pages.LISTS_TAG,
        )
        page = paginator.get_page(request.GET.get("page"))
        return render_to_string(
            "petitions/_list_content.html",
            {"filterset": filterset, "page": page, "query": query.urlencode(), "city": city},
        )

    if not request.GET:
        # The first page, unfiltered: what a surge opens. The whole page is cached.
        return pagecache.page(
            request,
            "petitions/list.html",
            key=f"petitions:list:{city_slug or ''}",
            tags=[pages.LISTS_TAG],
            build=lambda: {"content": build_content(), "city": city},
            fresh=conf.PAGE_CACHE_SECONDS,
        )
    content = _cached_fragment(f"petitions:list:{get_language()}:{digest}", build_content)
    return render(request, "petitions/list.html", {"content": content, "city": city})


def petition_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Public petitions come from the page cache (opencity/pagecache.py): the count is
    refreshed at most every COUNT_REFRESH_SECONDS from the tallied count; a signer's own
    signature shows at once (_detail_personal). Others' petitions: authors and staff only."""
    cursor = request.GET.get("older")

    def build() -> dict:
        petition = Petition.objects.select_related("city").filter(pk=pk).first()
        if petition is None:
            raise Http404
        if not petition.is_public:
            raise pagecache.NotCacheable
        return _detail_context(petition, cursor)

    try:
        return pagecache.page(
            request,
            "petitions/detail.html",
            key=f"petition:{pk}",
            tags=[pages.petition_tag(pk)],
            build=build,
            personal=_detail_personal,
            fresh=conf.COUNT_REFRESH_SECONDS,
        )
    except pagecache.NotCacheable:
        petition = selectors.petition_for_viewer(request.user, pk)
        context = _detail_context(petition, cursor)
        context.update(_detail_personal(request, context))
        response = render(request, "petitions/detail.html", context)
        response["Cache-Control"] = "private, no-cache"
        return response


def _detail_context(petition: Petition, cursor: str | None) -> dict:
    return {
        "petition": petition,
        "signatories": selectors.signatories_page(petition, cursor),
        "days_left": _days_left(petition),
        "collection_ended_at": _collection_ended_at(petition),
        "SITE_URL": settings.SITE_URL,
        "share_url": settings.SITE_URL + petition.get_absolute_url(),
        "can_sign": petition.status in services.SIGNABLE_STATUSES and not _period_over(petition),
    }


def _detail_personal(request: HttpRequest, context: dict) -> dict:
    """The visitor's part of a petition page: signed or not, the form, author and staff
    links. A signature newer than the page's count or list is added to both here, so the
    signer sees it on the next page even while everyone else's copy is cached."""
    user = request.user
    if not user.is_authenticated:
        return {}
    petition = context["petition"]
    state = selectors.visitor_state(petition, user)
    signed_at = state.signed_at
    values = {
        "has_signed": signed_at is not None,
        "following": state.following,
        "receipt": state.receipt,
        "verified": state.verified,
        "sign_form_html": _sign_form_fields(),
        "is_author": user.pk == petition.author_id,
        "is_staff_of_city": access.can_act_on_city(user, petition.city_id),
    }
    if signed_at is not None:
        if petition.counted_at is None or signed_at >= petition.counted_at:
            counted = copy.copy(petition)
            counted.signature_count += 1
            values["petition"] = counted
        built_at = context.get("pagecache_built_at")
        if built_at is not None and signed_at > built_at and context["signatories"].first:
            values["own_signature"] = (user.full_name, signed_at)
    return values


def _sign_form_fields() -> str:
    """The sign form's fields, the same for everyone (the form token is outside them):
    rendered once per language and process, not on every signed-in reload."""
    if settings.DEBUG:  # a template edited while the development server runs shows at once
        return _render_sign_form_fields.__wrapped__(get_language())
    return _render_sign_form_fields(get_language())


@lru_cache(maxsize=8)
def _render_sign_form_fields(language: str) -> str:
    return render_to_string("includes/form_fields.html", {"form": SignForm()})


def _period_over(petition: Petition) -> bool:
    return bool(petition.collection_ends_at and petition.collection_ends_at <= timezone.now())


def _collection_ended_at(petition: Petition) -> datetime | None:
    """When signing stopped: the end of the period, or the answer if it came first."""
    ends = petition.collection_ends_at
    if ends is None:
        return None
    if petition.status == Petition.Status.ANSWERED and petition.answered_at:
        return min(ends, petition.answered_at)
    if petition.status in services.SIGNABLE_STATUSES and not _period_over(petition):
        return None
    return ends if petition.status in Petition.PUBLIC_STATUSES else None


def _days_left(petition: Petition) -> int | None:
    if petition.status not in services.SIGNABLE_STATUSES or not petition.collection_ends_at:
        return None
    return max(0, (timezone.localdate(petition.collection_ends_at) - timezone.localdate()).days)


@require_GET
def petition_count(request: HttpRequest, pk: int) -> JsonResponse:
    """The live count for the progress bar's script: every open page asks every 5 s, so the
    primary-key read is shared through the cache for a second (the tally's own pace)."""
    key = f"petitions:count:{pk}"
    try:
        row = cache.get(key)
    except Exception:
        row = None
    if row is None:
        row = (
            Petition.objects.filter(pk=pk, status__in=Petition.PUBLIC_STATUSES)
            .values("signature_count", "threshold", "status")
            .first()
        )
        if row is not None:
            try:
                cache.set(key, row, conf.COUNT_REFRESH_SECONDS)
            except Exception as exc:
                logger.warning("page cache unavailable (%s)", type(exc).__name__)
    if row is None:
        return JsonResponse({"error": "not found"}, status=404)
    threshold = row["threshold"] or 0
    count = row["signature_count"]
    percent = min(100, count * 100 // threshold) if threshold else 0
    response = JsonResponse(
        {"count": count, "threshold": threshold, "percent": percent, "status": row["status"]}
    )
    response["Cache-Control"] = "max-age=2"
    return response


@login_required
@require_POST
def petition_sign(request: HttpRequest, pk: int) -> HttpResponse:
    if not allow_request("sign", request):
        return too_many(request)
    form = SignForm(request.POST)
    notify = form.cleaned_data["notify_on_answer"] if form.is_valid() else False
    try:
        services.petition_sign(petition=pk, user=request.user, notify_on_answer=notify)
    except Petition.DoesNotExist as exc:
        raise Http404 from exc
    except Refused as exc:
        if exc.code == "already":
            messages.info(request, str(exc))
        else:
            refusal_to_message(request, exc)
    else:
        messages.success(
            request, _("Thank you, your signature is recorded. The count updates in a few seconds.")
        )
    return redirect("petitions:detail", pk=pk)


@login_required
def petition_file(request: HttpRequest) -> HttpResponse:
    if not services.has_verified_email(request.user):
        return render(request, "petitions/file_unverified.html", status=403)
    action = request.POST.get("action", "preview") if request.method == "POST" else ""
    if request.method != "POST" or action == "edit":
        initial = {"city": request.user.home_city.slug} if request.user.home_city else {}
        form = PetitionForm(request.POST or None, initial=initial)
        if action == "edit":
            form.errors  # noqa: B018  validate so the fields keep their values
        return render(request, "petitions/file.html", {"form": form})
    form = PetitionForm(request.POST)
    if not form.is_valid():
        return render(request, "petitions/file.html", {"form": form})
    if action == "preview":
        return render(
            request, "petitions/file_preview.html", {"form": form, "data": form.cleaned_data}
        )
    if not allow_request("file", request):
        return too_many(request)
    data = form.cleaned_data
    if action == "draft":
        petition = services.petition_create_draft(
            author=request.user, city=data["city"], title=data["title"], text=data["text"]
        )
        messages.success(request, _("Your draft is saved. Submit it when it is ready."))
    else:
        petition = services.petition_file(
            author=request.user, city=data["city"], title=data["title"], text=data["text"]
        )
        messages.success(
            request,
            _("Your petition is submitted. Moderators publish it within two working days."),
        )
    return redirect(petition)


def _own_petition(request: HttpRequest, pk: int) -> Petition:
    """The signed-in author's petition; anybody else gets 404 (a draft's existence is private)."""
    return get_object_or_404(
        Petition.objects.select_related("city"), pk=pk, author_id=request.user.pk
    )


@login_required
@require_POST
def petition_submit(request: HttpRequest, pk: int) -> HttpResponse:
    petition = _own_petition(request, pk)
    try:
        services.petition_submit(petition=petition, actor=request.user)
    except Refused as exc:
        refusal_to_message(request, exc)
    else:
        messages.success(request, _("Your petition is submitted for moderation."))
    return redirect(petition)


@login_required
@require_POST
def petition_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    petition = _own_petition(request, pk)
    try:
        services.petition_withdraw(petition=petition, actor=request.user)
    except Refused as exc:
        refusal_to_message(request, exc)
    else:
        messages.success(request, _("Your petition is withdrawn."))
    return redirect(petition)


@login_required
def my_petitions(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.petitions_of_author(request.user), 20).get_page(
        request.GET.get("page")
    )
    return render(request, "petitions/my_petitions.html", {"page": page})


@login_required
def my_signatures(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.signatures_of_user(request.user), 20).get_page(
        request.GET.get("page")
    )
    return render(request, "petitions/my_signatures.html", {"page": page})


@login_required
def signatories_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The official signatory record: that city's staff only (names, e-mails, times)."""
    petition = get_object_or_404(Petition, pk=pk)
    if not access.can_act_on_city(request.user, petition.city_id):
        raise Http404  # like a petition that does not exist: no hint to other people
    rows = selectors.signatories_for_record(petition)
    return csv_response(
        ((timezone.localtime(r[0]), *r[1:]) for r in rows.iterator()),
        header=("signed_at", "full_name", "email", "identity_provider"),
        filename=f"petition-{pk}-signatories.csv",
        private=True,
        stream=True,
    )


def _export_value(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@require_GET
def export_csv(request: HttpRequest) -> HttpResponse:
    filterset = _list_filter(request, None)
    rows = selectors.export_rows(filterset.ordered_qs)
    return csv_response(
        rows.iterator(chunk_size=2000),
        header=selectors.EXPORT_COLUMNS,
        filename="petitions.csv",
        stream=True,
    )


@require_GET
def export_json(request: HttpRequest) -> HttpResponse:
    filterset = _list_filter(request, None)
    rows = selectors.export_rows(filterset.ordered_qs)

    def stream():
        yield '{"petitions": ['
        for i, row in enumerate(rows.iterator(chunk_size=2000)):
            item = dict(zip(selectors.EXPORT_COLUMNS, map(_export_value, row), strict=True))
            yield ("," if i else "") + json.dumps(item, ensure_ascii=False)
        yield "]}"

    return StreamingHttpResponse(stream(), content_type="application/json; charset=utf-8")
