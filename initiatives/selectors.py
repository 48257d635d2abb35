"""Reads of public budgets: lists, ballots, results, and the cross-app contract selectors.

All run a constant number of queries (aggregates with GROUP BY, never one query per row).
"""

from __future__ import annotations

from datetime import date

from django.contrib.auth.models import AnonymousUser
from django.db.models import (
    Avg,
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from initiatives.explanations import explanation
from initiatives.models import (
    Ballot,
    Initiative,
    InitiativePhoto,
    Programme,
    ResultRow,
    ResultSnapshot,
    Vote,
)
from opencity.accounts.models import User
from opencity.cities import access
from opencity.cities.models import City
from opencity.identity import services as identity

Status = Initiative.Status
# Statuses anyone may see; a revision in progress or a withdrawn project is the author's.
PUBLIC_STATUSES = (
    Status.SUBMITTED,
    Status.ACCEPTED,
    Status.REJECTED,
    Status.FUNDED,
    Status.NOT_FUNDED,
)


def _vote_count() -> Subquery:
    votes = (
        Vote.objects.filter(programme_id=OuterRef("programme_id"), initiative_id=OuterRef("pk"))
        .order_by()
        .values("initiative_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    counted = Coalesce(Subquery(votes, output_field=IntegerField()), Value(0))
    # Hidden (NULL) until the results are published, unless the programme shows live counts.
    published = ResultSnapshot.objects.filter(
        programme_id=OuterRef("programme_id"), published_at__isnull=False
    )
    return Case(
        When(Q(programme__live_counts=True) | Q(Exists(published)), then=counted),
        default=Value(None),
        output_field=IntegerField(),
    )


def public_initiatives() -> QuerySet[Initiative]:
    """Initiatives anyone may see, with their vote count (`vote_total`; None while the
    programme hides counts, see _vote_count)."""
    return (
        Initiative.objects.filter(status__in=PUBLIC_STATUSES)
        .select_related("programme__city", "category", "district")
        .annotate(vote_total=_vote_count())
    )


def programmes() -> QuerySet[Programme]:
    return Programme.objects.select_related("city").order_by("-year", "title")


def initiative_for_viewer(
    user: User | AnonymousUser, programme_slug: str, pk: int
) -> Initiative | None:
    """The initiative if `user` may see it: public, their own, or their city's (staff)."""
    initiative = (
        Initiative.objects.select_related("programme__city", "category", "district", "author")
        .annotate(vote_total=_vote_count())
        .filter(pk=pk, programme__slug=programme_slug)
        .first()
    )
    if initiative is None:
        return None
    if initiative.status in PUBLIC_STATUSES:
        return initiative
    if user.is_authenticated and (
        initiative.author_id == user.pk
        or access.can_act_on_city(user, initiative.programme.city_id)
    ):
        return initiative
    return None


# Projects on the programme's map and its list: everything public except the rejected.
MAP_STATUSES = (Status.SUBMITTED, Status.ACCEPTED, Status.FUNDED, Status.NOT_FUNDED)


def public_photos(initiative: Initiative) -> list[InitiativePhoto]:
    """Photos anyone may see: processed (no camera data) and not hidden by staff."""
    return list(
        initiative.photos.filter(processed_at__isnull=False, hidden=False)
        .exclude(image="")
        .exclude(thumbnail="")
    )


def map_projects(programme: Programme) -> list[dict]:
    """The programme's public projects for its map and the list beside it (the accessible
    path): place, first public photo, link. Two queries whatever the number of projects;
    no vote counts (they may be hidden until the tally)."""
    first_photo = (
        InitiativePhoto.objects.filter(
            initiative_id=OuterRef("pk"), processed_at__isnull=False, hidden=False
        )
        .exclude(thumbnail="")
        .order_by("id")
        .values("thumbnail")[:1]
    )
    rows = (
        Initiative.objects.filter(programme=programme, status__in=MAP_STATUSES)
        .select_related("category", "district")
        .annotate(thumb=Subquery(first_photo))
        .order_by("category__position", "category__name", "title", "pk")
    )
    storage = InitiativePhoto._meta.get_field("thumbnail").storage
    return [
        {
            "id": row.pk,
            "title": row.title,
            "url": reverse("initiatives:detail", args=[programme.slug, row.pk]),
            "address": row.address,
            "category": row.category.name,
            "district": row.district.name if row.district else "",
            "status": row.status,
            "status_label": str(row.get_status_display()),
            "cost": row.total_cost,
            "lat": float(row.latitude) if row.latitude is not None else None,
            "lon": float(row.longitude) if row.longitude is not None else None,
            "thumb": storage.url(row.thumb) if row.thumb else "",
        }
        for row in rows
    ]


def programme_center(programme: Programme) -> str:
    """ "lat,lon" in the middle of the programme's placed projects (where the proposal form's
    map opens), or "" when none has a place yet."""
    middle = Initiative.objects.filter(programme=programme, latitude__isnull=False).aggregate(
        lat=Avg("latitude"), lon=Avg("longitude")
    )
    if middle["lat"] is None:
        return ""
    return f"{middle['lat']:.6f},{middle['lon']:.6f}"


def map_points(projects: list[dict]) -> list[dict]:
    """What the map script needs (json_script): projects with a place."""
    return [
        {k: p[k] for k in ("id", "title", "url", "lat", "lon", "thumb", "address")}
        for p in projects
        if p["lat"] is not None
    ]


def initiatives_by_author(user: User, programme: Programme) -> QuerySet[Initiative]:
    return Initiative.objects.filter(author=user, programme=programme).order_by("-submitted_at")


def ballot_for(voter: User, programme: Programme) -> dict:
    """The voter's ballot: votes cast (with their initiatives), votes left, notify flag."""
    ballot = Ballot.objects.filter(voter=voter, programme=programme).first()
    votes = []
    if ballot is not None:
        votes = list(
            Vote.objects.filter(ballot=ballot)
            .select_related("initiative__category")
            .order_by("position")
        )
    return {
        "ballot": ballot,
        "votes": votes,
        "voted_ids": {vote.initiative_id for vote in votes},
        "voted_categories": {vote.category_id for vote in votes},
        "remaining": max(programme.max_votes - len(votes), 0),
    }


def ballot_initiative_ids(voter: User, programme: Programme) -> QuerySet:
    return Vote.objects.filter(voter=voter, programme=programme).values_list(
        "initiative_id", flat=True
    )


def ballot_candidates(programme: Programme) -> QuerySet[Initiative]:
    return (
        Initiative.objects.filter(programme=programme, status__in=Initiative.ON_BALLOT)
        .select_related("category", "district")
        .order_by("category__position", "category__name", "submitted_at")
    )


def latest_snapshot(programme: Programme, *, published_only: bool = True) -> ResultSnapshot | None:
    snapshots = ResultSnapshot.objects.filter(programme=programme)
    if published_only:
        snapshots = snapshots.filter(published_at__isnull=False)
    return snapshots.order_by("-created_at", "-id").first()


def result_rows(snapshot: ResultSnapshot) -> list[ResultRow]:
    """The snapshot's rows, each with its one-sentence `explanation`."""
    rows = list(
        snapshot.rows.select_related("initiative", "category").order_by(
            "category__position", "category__name", "rank"
        )
    )
    for row in rows:
        row.explanation = explanation(row.outcome)
    return rows


# --- cross-app contracts ---------------------------------------------------------------------
def home_summary() -> dict:
    today = timezone.localdate()
    open_programmes = Programme.objects.filter(
        submission_opens__lte=today, voting_closes__gte=today
    ).count()
    counts = Initiative.objects.aggregate(
        on_ballot=Count("pk", filter=Q(status=Status.ACCEPTED)),
        funded=Count("pk", filter=Q(status=Status.FUNDED)),
    )
    voting = (
        Programme.objects.filter(voting_opens__lte=today, voting_closes__gte=today)
        .select_related("city")
        .order_by("voting_closes")
        .first()
    )
    return {"open_programmes": open_programmes, "voting": voting, **counts}


def open_initiatives_for_city(city: City, limit: int = 5) -> list[Initiative]:
    """Accepted initiatives (on the ballot or waiting for voting) of the city's programmes."""
    return list(
        Initiative.objects.filter(programme__city=city, status=Status.ACCEPTED)
        .select_related("programme", "category")
        .order_by("-submitted_at")[:limit]
    )


def city_activity(date_from: date, date_to: date) -> dict[int, dict]:
    """{city_id: {"submitted": n, "funded": n}} for the date range (inclusive, Europe/Kyiv).

    "submitted" counts initiatives first submitted in the range; "funded" counts winners in
    results published in the range (each initiative once).
    """
    result: dict[int, dict] = {}
    submitted = (
        Initiative.objects.filter(
            submitted_at__date__gte=date_from, submitted_at__date__lte=date_to
        )
        .values("programme__city_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in submitted:
        result.setdefault(row["programme__city_id"], {"submitted": 0, "funded": 0})
        result[row["programme__city_id"]]["submitted"] = row["n"]
    funded = (
        ResultRow.objects.filter(
            winner=True,
            snapshot__published_at__date__gte=date_from,
            snapshot__published_at__date__lte=date_to,
        )
        .values("snapshot__programme__city_id")
        .annotate(n=Count("initiative_id", distinct=True))
        .order_by()
    )
    for row in funded:
        result.setdefault(row["snapshot__programme__city_id"], {"submitted": 0, "funded": 0})
        result[row["snapshot__programme__city_id"]]["funded"] = row["n"]
    return result


def paper_votes(initiative_id: int) -> int:
    """Votes for the project on confirmed paper ballots (the paper app counts them)."""
    return identity.offline_counts("initiative", [initiative_id]).get(initiative_id, 0)


def ballot_counts(programme: Programme, frozen) -> dict | None:
    """{"online": n, "paper": m} ballots, once counts may be shown (live counts, or results
    published); None before. A ballot online counts from its first vote."""
    live = (frozen or programme).live_counts
    if (
        not live
        and not ResultSnapshot.objects.filter(
            programme=programme, published_at__isnull=False
        ).exists()
    ):
        return None
    online = Vote.objects.filter(programme=programme, position=1).count()
    paper = identity.offline_counts("programme", [programme.pk]).get(programme.pk, 0)
    return {"online": online, "paper": paper, "total": online + paper}
