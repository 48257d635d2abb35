"""Citizen pages of public budgets. Thin: a form, one service or selector, render/redirect."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from initiatives import pages, selectors, services
from initiatives.filters import InitiativeFilter
from initiatives.forms import NotifyForm, check_total_against_category, submission_forms
from initiatives.models import Initiative, Programme, ResultRow, ResultSnapshot, Stage
from opencity import pagecache, ratelimit
from opencity.accounts.models import User
from opencity.cities import access
from opencity.core import Refused
from opencity.core.web import refusal_to_form, refusal_to_message
from opencity.exports import csv_response

CHART_ROWS = 40


def _programme(slug: str) -> Programme:
    return get_object_or_404(Programme.objects.select_related("city"), slug=slug)


def _initiative(request: HttpRequest, slug: str, pk: int) -> Initiative:
    initiative = selectors.initiative_for_viewer(request.user, slug, pk)
    if initiative is None:
        raise Http404
    return initiative


def _is_city_staff(user: User | AnonymousUser, programme: Programme) -> bool:
    return user.is_authenticated and access.can_act_on_city(user, programme.city_id)


def index(request: HttpRequest) -> HttpResponse:
    if not request.GET:
        # The first page, unfiltered: what a surge opens. The whole page is cached.
        return pagecache.page(
            request,
            "initiatives/index.html",
            key="initiatives:index",
            tags=[pages.LISTS_TAG],
            build=lambda: _index_context(request),
            fresh=pages.PROGRAMME_FRESH_SECONDS,
        )
    return render(request, "initiatives/index.html", _index_context(request))


def _index_context(request: HttpRequest) -> dict:
    initiative_filter = InitiativeFilter(request.GET, queryset=selectors.public_initiatives())
    page = Paginator(initiative_filter.qs, 20).get_page(request.GET.get("page"))
    return {"filter": initiative_filter, "page": page, "programmes": selectors.programmes()[:12]}


def programme_detail(request: HttpRequest, slug: str) -> HttpResponse:
    def build() -> dict:
        programme = _programme(slug)
        frozen = services.frozen_rules(programme)
        projects = selectors.map_projects(programme)
        return {
            "programme": programme,
            "frozen": frozen,
            "rules": frozen or programme,
            "categories": list(frozen.categories if frozen else programme.categories.all()),
            "districts": list(programme.districts.all()),
            "stage": programme.stage,
            "Stage": Stage,
            "snapshot": selectors.latest_snapshot(programme),
            "projects": projects,
            "map_points": selectors.map_points(projects),
            "tile_url": settings.MAP_TILE_URL,
            "tile_attribution": settings.MAP_TILE_ATTRIBUTION,
            "ballots": selectors.ballot_counts(programme, frozen),
            # The open-data link: the projects dataset filtered as /initiatives/?programme=…
            "open_data_params": f"programme={programme.pk}",
        }

    def personal(request: HttpRequest, context: dict) -> dict:
        if not request.user.is_authenticated:
            return {}
        return {"mine": selectors.initiatives_by_author(request.user, context["programme"])}

    return pagecache.page(
        request,
        "initiatives/programme_detail.html",
        key=f"programme:{slug}",
        tags=[pages.programme_tag(slug)],
        build=build,
        personal=personal,
        fresh=pages.PROGRAMME_FRESH_SECONDS,
    )


def initiative_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    initiative = _initiative(request, slug, pk)
    programme = initiative.programme
    ballot = None
    refusal = None
    on_ballot = initiative.status in Initiative.ON_BALLOT
    if programme.stage == Stage.VOTING and on_ballot and request.user.is_authenticated:
        ballot = selectors.ballot_for(request.user, programme)
        try:
            services.ballot_check_voter(voter=request.user, programme=programme)
        except Refused as exc:
            refusal = exc.message
    show_votes = initiative.vote_total is not None and initiative.status in Initiative.ON_BALLOT
    if show_votes:
        # Votes from confirmed paper ballots (service centres) count with the online ones.
        initiative.paper_votes = selectors.paper_votes(initiative.pk)
        initiative.online_votes = initiative.vote_total
        initiative.vote_total += initiative.paper_votes
    context = {
        "initiative": initiative,
        "programme": programme,
        "lines": initiative.cost_lines.all(),
        "updates": initiative.implementation_updates.all(),
        "photos": selectors.public_photos(initiative),
        "tile_url": settings.MAP_TILE_URL,
        "tile_attribution": settings.MAP_TILE_ATTRIBUTION,
        "show_votes": show_votes,
        "ballot": ballot,
        "refusal": refusal,
        "is_author": request.user.is_authenticated and initiative.author_id == request.user.pk,
        "can_withdraw": (
            initiative.status
            in (Initiative.Status.SUBMITTED, Initiative.Status.REVISION, Initiative.Status.ACCEPTED)
            and timezone.localdate() <= programme.review_closes
        ),
    }
    return render(request, "initiatives/initiative_detail.html", context)


def _submission_page(
    request: HttpRequest,
    programme: Programme,
    form: forms.Form,
    formset: forms.BaseFormSet,
    initiative: Initiative | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "initiatives/submit.html",
        {
            "programme": programme,
            "form": form,
            "formset": formset,
            "initiative": initiative,
            "existing_photos": initiative.photos.count() if initiative else 0,
            "center": selectors.programme_center(programme),
            "tile_url": settings.MAP_TILE_URL,
            "tile_attribution": settings.MAP_TILE_ATTRIBUTION,
        },
        status=status,
    )


@login_required
def initiative_submit(request: HttpRequest, slug: str) -> HttpResponse:
    programme = _programme(slug)
    if request.method != "POST":
        form, formset = submission_forms(programme)
        return _submission_page(request, programme, form, formset)
    form, formset = submission_forms(programme, request.POST, files=request.FILES)
    if form.is_valid() and formset.is_valid() and check_total_against_category(form, formset):
        if not ratelimit.allow_request("file", request):
            return ratelimit.too_many(request)
        data = form.cleaned_data
        try:
            initiative = services.initiative_submit(
                author=request.user,
                programme=programme,
                category=data["category"],
                district=data.get("district"),
                title=data["title"],
                summary=data["summary"],
                description=data["description"],
                address=data["address"],
                latitude=data.get("latitude"),
                longitude=data.get("longitude"),
                cost_lines=formset.lines(),
                photos=data["photos"],
            )
        except Refused as exc:
            refusal_to_form(form, exc)
        else:
            messages.success(
                request, _("Your initiative is submitted. The working group will review it.")
            )
            return redirect(initiative)
    return _submission_page(request, programme, form, formset, status=400)


@login_required
def initiative_revise(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    initiative = _initiative(request, slug, pk)
    programme = initiative.programme
    if initiative.author_id != request.user.pk:
        raise Http404
    if request.method != "POST":
        form, formset = submission_forms(programme, initiative=initiative)
        return _submission_page(request, programme, form, formset, initiative)
    form, formset = submission_forms(programme, request.POST, files=request.FILES)
    if form.is_valid() and formset.is_valid() and check_total_against_category(form, formset):
        data = form.cleaned_data
        try:
            services.initiative_resubmit(
                initiative=initiative,
                author=request.user,
                category=data["category"],
                district=data.get("district"),
                title=data["title"],
                summary=data["summary"],
                description=data["description"],
                address=data["address"],
                latitude=data.get("latitude"),
                longitude=data.get("longitude"),
                cost_lines=formset.lines(),
                photos=data["photos"],
            )
        except Refused as exc:
            refusal_to_form(form, exc)
        else:
            messages.success(request, _("Your revised initiative is submitted again."))
            return redirect(initiative)
    return _submission_page(request, programme, form, formset, initiative, status=400)


@login_required
@require_POST
def initiative_withdraw(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    initiative = _initiative(request, slug, pk)
    if initiative.author_id != request.user.pk:
        raise Http404
    try:
        services.initiative_withdraw(initiative=initiative, author=request.user)
    except Refused as exc:
        refusal_to_message(request, exc)
    else:
        messages.success(request, _("Your initiative is withdrawn."))
    return redirect(initiative)


def _picked_ids(data: QueryDict) -> list[int]:
    return sorted({int(v) for v in data.getlist("project") if v.isdigit()})


def _ballot_page(
    request: HttpRequest, programme: Programme, picked: list[int], status: int = 200
) -> HttpResponse:
    rules = services.frozen_rules(programme)
    receipt = services.ballot_receipt(voter=request.user, programme=programme)
    refusal = None
    try:
        services.ballot_check_voter(voter=request.user, programme=programme)
    except Refused as exc:
        refusal = exc.message
    changeable = rules.votes_changeable if rules else programme.votes_changeable
    candidates = selectors.ballot_candidates(programme) if programme.voting_has_started else []
    if not picked and receipt is not None:
        picked = list(selectors.ballot_initiative_ids(request.user, programme))
    return render(
        request,
        "initiatives/ballot.html",
        {
            "programme": programme,
            "rules": rules or programme,
            "receipt": receipt,
            "changeable": changeable,
            "refusal": refusal,
            "candidates": candidates,
            "picked": picked,
            "may_vote": programme.stage == Stage.VOTING
            and not refusal
            and (receipt is None or changeable),
            "voting_open": programme.stage == Stage.VOTING,
        },
        status=status,
    )


@login_required
def ballot(request: HttpRequest, slug: str) -> HttpResponse:
    """Step 1: pick projects (a form of check boxes, kept when the review refuses them)."""
    programme = _programme(slug)
    return _ballot_page(request, programme, _picked_ids(request.GET))


@login_required
@require_POST
def ballot_review(request: HttpRequest, slug: str) -> HttpResponse:
    """Step 2: the picks and their total against the budget; nothing is stored yet."""
    programme = _programme(slug)
    picked = _picked_ids(request.POST)
    try:
        picks = services.ballot_review(
            voter=request.user, programme=programme, initiative_ids=picked
        )
    except Refused as exc:
        messages.error(request, exc.message)
        return _ballot_page(request, programme, picked, status=400)
    rules = services.frozen_rules(programme)
    total = sum((p.total_cost for p in picks), Decimal("0"))
    return render(
        request,
        "initiatives/ballot_review.html",
        {
            "programme": programme,
            "rules": rules,
            "picks": picks,
            "total": total,
            "budget": rules.total_budget,
            "share": round(total / rules.total_budget * 100, 1) if rules.total_budget else 0,
            "notify": request.POST.get("notify") == "on",
        },
    )


@login_required
@require_POST
def ballot_confirm(request: HttpRequest, slug: str) -> HttpResponse:
    """Step 3: store the whole ballot (atomic) and show the receipt."""
    programme = get_object_or_404(
        Programme.objects.select_related("city", "frozen_rules"), slug=slug
    )
    if not ratelimit.allow_request("vote", request):
        return ratelimit.too_many(request)
    picked = _picked_ids(request.POST)
    try:
        receipt = services.ballot_confirm(
            voter=request.user,
            programme=programme,
            initiative_ids=picked,
            notify=request.POST.get("notify") == "on",
        )
    except Refused as exc:
        # Back to the ballot with the choice kept in the address (cheap under a surge).
        messages.error(request, exc.message)
        query = urlencode({"project": picked}, doseq=True)
        return redirect(f"{reverse('initiatives:ballot', args=[programme.slug])}?{query}")
    messages.success(
        request,
        _("Your ballot is recorded. Receipt code: %(code)s") % {"code": receipt.code},
    )
    return redirect("initiatives:receipt", slug=programme.slug)


@login_required
def receipt(request: HttpRequest, slug: str) -> HttpResponse:
    programme = _programme(slug)
    found = services.ballot_receipt(voter=request.user, programme=programme)
    if found is None:
        raise Http404
    state = selectors.ballot_for(request.user, programme)
    return render(
        request,
        "initiatives/receipt.html",
        {
            "programme": programme,
            "receipt": found,
            "notify_form": NotifyForm(initial={"notify": bool(state["ballot"].notify)}),
        },
    )


@login_required
@require_POST
def ballot_notify(request: HttpRequest, slug: str) -> HttpResponse:
    programme = _programme(slug)
    form = NotifyForm(request.POST)
    if form.is_valid():
        services.ballot_set_notify(
            voter=request.user, programme=programme, notify=form.cleaned_data["notify"]
        )
        messages.success(request, _("Your e-mail preference is saved."))
    return redirect("initiatives:receipt", slug=programme.slug)


def _snapshot_for(request: HttpRequest, programme: Programme) -> ResultSnapshot:
    """The published result; city staff also see the latest unpublished tally (preview)."""
    staff = _is_city_staff(request.user, programme)
    snapshot = selectors.latest_snapshot(programme, published_only=not staff)
    if snapshot is None:
        raise Http404
    return snapshot


def _chart(rows: list[ResultRow]) -> dict:
    shown = sorted(rows, key=lambda r: (-r.votes, r.rank))[:CHART_ROWS]
    top = max((r.votes for r in shown), default=0) or 1
    bar_area = 360
    bars = []
    for n, row in enumerate(shown):
        bars.append(
            {
                "row": row,
                "y": n * 28,
                "width": max(round(row.votes / top * bar_area), 1 if row.votes else 0),
                "text_y": n * 28 + 17,
            }
        )
    return {
        "bars": bars,
        "height": len(shown) * 28 + 4,
        "label_width": 300,
        "bar_area": bar_area,
        "truncated": len(rows) > len(shown),
    }


def _budget_use(programme: Programme, rows: list[ResultRow]) -> list[dict]:
    funded: dict[int, Decimal] = {}
    for row in rows:
        if row.winner:
            funded[row.category_id] = funded.get(row.category_id, Decimal("0")) + row.amount
    return [
        {
            "category": category,
            "funded": funded.get(category.pk, Decimal("0")),
            "left": category.budget - funded.get(category.pk, Decimal("0")),
        }
        for category in programme.categories.all()
    ]


def results(request: HttpRequest, slug: str) -> HttpResponse:
    if request.user.is_authenticated and _is_city_staff(request.user, _programme(slug)):
        # City staff also see an unpublished tally: their page is their own.
        programme = _programme(slug)
        return render(
            request, "initiatives/results.html", _results_context(programme, request.user)
        )

    def build() -> dict:
        return _results_context(_programme(slug), None)

    return pagecache.page(
        request,
        "initiatives/results.html",
        key=f"results:{slug}",
        tags=[pages.programme_tag(slug)],
        build=build,
        fresh=pages.PROGRAMME_FRESH_SECONDS,
    )


def _results_context(programme: Programme, staff: User | None) -> dict:
    snapshot = selectors.latest_snapshot(programme, published_only=staff is None)
    if snapshot is None:
        raise Http404
    rows = selectors.result_rows(snapshot)
    return {
        "programme": programme,
        "snapshot": snapshot,
        "rows": rows,
        "chart": _chart(rows),
        "budget_use": _budget_use(programme, rows),
    }


def _export_rows(rows: list[ResultRow]) -> Iterator[dict]:
    for row in rows:
        yield {
            "category": row.category.name,
            "rank": row.rank,
            "initiative_id": row.initiative_id,
            "title": row.initiative.title,
            "votes": row.votes,
            # None (an empty cell) on results tallied before the channels were kept apart.
            "votes_online": row.online_votes,
            "votes_paper": row.paper_votes,
            "amount": str(row.amount),
            "funded": row.winner,
            "outcome": row.outcome,
            "explanation": row.explanation,
        }


def results_csv(request: HttpRequest, slug: str) -> HttpResponse:
    programme = _programme(slug)
    snapshot = _snapshot_for(request, programme)
    fields = [
        "category", "rank", "initiative_id", "title", "votes", "votes_online", "votes_paper",
        "amount", "funded", "outcome", "explanation",
    ]  # fmt: skip
    return csv_response(
        ([item[f] for f in fields] for item in _export_rows(selectors.result_rows(snapshot))),
        header=fields,
        filename=f"{programme.slug}-results.csv",
    )


def results_json(request: HttpRequest, slug: str) -> HttpResponse:
    programme = _programme(slug)
    snapshot = _snapshot_for(request, programme)
    payload = {
        "programme": {
            "slug": programme.slug,
            "title": programme.title,
            "city": programme.city.name_uk,
            "year": programme.year,
            "total_budget": str(programme.total_budget),
        },
        "tallied_at": snapshot.created_at.isoformat(),
        "published_at": snapshot.published_at.isoformat() if snapshot.published_at else None,
        "content_hash": snapshot.content_hash,
        "total_votes": snapshot.total_votes,
        "total_voters": snapshot.total_voters,
        "funded_amount": str(snapshot.funded_amount),
        "rows": list(_export_rows(selectors.result_rows(snapshot))),
    }
    return JsonResponse(payload, json_dumps_params={"ensure_ascii": False, "indent": 1})
