"""The tally and its publication: votes counted from the rows into an immutable result
snapshot (idempotent), winners picked per category within its budget, then published by
city staff (once) and announced to authors and voters who opted in."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from initiatives import notices
from initiatives.explanations import EXPLANATIONS
from initiatives.models import (
    Ballot,
    Initiative,
    Programme,
    ResultRow,
    ResultSnapshot,
    Vote,
    WinnerRule,
)
from initiatives.services._common import REVIEW_ROLES, notify_author
from initiatives.services.rules import programme_freeze_rules
from initiatives.services.winners import (
    Candidate,
    equal_shares,
    equal_shares_outcomes,
    greedy_outcomes,
)
from opencity.accounts.models import User
from opencity.cities.access import can_act_on_city
from opencity.core import Refused
from opencity.core.services import audit, notify_user
from opencity.identity import services as identity
from opencity.queue import enqueue_on_commit

Status = Initiative.Status


@dataclass
class TallyRow:
    initiative_id: int
    category_id: int
    votes: int  # online and paper together: what the winners are picked by
    amount: Decimal
    # Orders ties: the submission time, or (in the tally) the submission order as an integer.
    submitted_at: object
    rank: int = 0
    winner: bool = False
    outcome: str = ""
    paper_votes: int = 0  # of `votes`, on confirmed paper ballots


def pick_winners(rows: list[TallyRow], budgets: dict[int, Decimal]) -> list[TallyRow]:
    """Per category: most votes first (ties: earlier submission, then lower id); a project
    wins if it still fits the category's remaining budget, otherwise it is skipped and the
    next one is tried. Projects without a vote never win."""
    ordered = sorted(rows, key=lambda r: (r.category_id, -r.votes, r.submitted_at, r.initiative_id))
    remaining = dict(budgets)
    rank: dict[int, int] = {}
    for row in ordered:
        rank[row.category_id] = rank.get(row.category_id, 0) + 1
        row.rank = rank[row.category_id]
        left = remaining.get(row.category_id, Decimal("0"))
        row.winner = row.votes > 0 and row.amount <= left
        if row.winner:
            remaining[row.category_id] = left - row.amount
    _set_greedy_outcomes(ordered)
    return ordered


def _set_greedy_outcomes(considered: list[TallyRow]) -> None:
    """Each row's outcome from the order the greedy rule considered them in (per category
    rows are already in category order: a winner only explains rows of its category)."""
    by_group: dict[object, list[TallyRow]] = {}
    for row in considered:
        by_group.setdefault(row.category_id, []).append(row)
    for group in by_group.values():
        outcomes = greedy_outcomes([(r.initiative_id, r.votes, r.winner) for r in group])
        for row in group:
            row.outcome = outcomes[row.initiative_id]


def pick_winners_whole_budget(rows: list[TallyRow], total: Decimal) -> list[TallyRow]:
    """Over the whole budget: most votes first (same ties as pick_winners); a project wins
    if it still fits what is left of the programme's total budget. Ranks stay per category.
    Projects without a vote never win."""
    ordered = pick_winners(rows, {})  # ranks per category; nobody wins with no budget
    left = total
    considered = sorted(ordered, key=lambda r: (-r.votes, r.submitted_at, r.initiative_id))
    for row in considered:
        row.winner = row.votes > 0 and row.amount <= left
        if row.winner:
            left -= row.amount
    outcomes = greedy_outcomes([(r.initiative_id, r.votes, r.winner) for r in considered])
    for row in ordered:
        row.outcome = outcomes[row.initiative_id]
    return ordered


_BALLOTS_SQL = """
    SELECT picks, COUNT(*) FROM (
        SELECT array_agg(initiative_id ORDER BY initiative_id) AS picks
        FROM initiatives_vote WHERE programme_id = %(programme)s GROUP BY ballot_id
    ) ballots GROUP BY picks
"""


def pick_winners_equal_shares(
    rows: list[TallyRow],
    programme_id: int,
    total: Decimal,
    progress: Callable[[int], None] | None = None,
) -> list[TallyRow]:
    """The Method of Equal Shares with add-one completion (initiatives.services.winners)
    over the programme's ballots, identical ballots grouped by the database. n counts every
    ballot of the programme, empty ones too. Ranks stay per category."""
    ordered = pick_winners(rows, {})
    ballots: dict[frozenset[int], int] = {}
    if connection.vendor == "postgresql":
        with _driver_cursor() as cursor:
            cursor.execute(_BALLOTS_SQL, {"programme": programme_id})
            ballots = {frozenset(picks): int(n) for picks, n in cursor.fetchall()}
    else:  # the demo's SQLite: group in Python
        picks: dict[int, set[int]] = {}
        votes = Vote.objects.filter(programme_id=programme_id)
        for ballot_id, initiative_id in votes.values_list("ballot_id", "initiative_id"):
            picks.setdefault(ballot_id, set()).add(initiative_id)
        for chosen in picks.values():
            ballots[frozenset(chosen)] = ballots.get(frozenset(chosen), 0) + 1
    paper_ballots = identity.offline_counts("programme_ballots", [programme_id])
    for chosen in paper_ballots.get(programme_id, []):
        ballots[frozenset(chosen)] = ballots.get(frozenset(chosen), 0) + 1
    voters = Ballot.objects.filter(programme_id=programme_id).count()
    voters += len(paper_ballots.get(programme_id, []))
    candidates = [
        Candidate(r.initiative_id, Fraction(r.amount), r.votes, int(r.submitted_at))
        for r in ordered
    ]
    winners, _by_mes = equal_shares(candidates, ballots, voters, Fraction(total), progress=progress)
    outcomes = equal_shares_outcomes(candidates, winners)
    won = set(winners)
    for row in ordered:
        row.winner = row.initiative_id in won
        row.outcome = outcomes[row.initiative_id]
    return ordered


def _content_hash(
    programme: Programme, budgets: dict[int, Decimal], rows: list[TallyRow], rule: str
) -> str:
    payload = {
        "programme": programme.pk,
        "budgets": {str(k): str(v) for k, v in sorted(budgets.items())},
        "rows": [
            [r.initiative_id, r.category_id, r.rank, r.votes, str(r.amount), r.winner] for r in rows
        ],
    }
    if rule != WinnerRule.CATEGORY:  # today's rule keeps the hashes it always had
        payload["rule"] = rule
    if any(r.paper_votes for r in rows):
        # The split is part of the result (exports show it); without paper ballots the hash
        # stays what it always was.
        payload["paper"] = [[r.initiative_id, r.paper_votes] for r in rows if r.paper_votes]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


_TALLY_INPUTS_SQL = """
    WITH counts AS MATERIALIZED (
        SELECT initiative_id, COUNT(*) AS n FROM initiatives_vote
        WHERE programme_id = %(programme)s GROUP BY initiative_id
    )
    SELECT i.id, i.category_id, i.total_cost,
           row_number() OVER (ORDER BY i.submitted_at, i.id), COALESCE(counts.n, 0)
    FROM initiatives_initiative i
    LEFT JOIN counts ON counts.initiative_id = i.id
    WHERE i.programme_id = %(programme)s AND i.status IN (%(s1)s, %(s2)s, %(s3)s)
"""


def _tally_inputs(programme_id: int) -> list[TallyRow]:
    """Candidates with their vote counts (the budgets come from the frozen rules only).

    One statement (one round trip): the vote counts come from a GROUP BY over the vote rows
    (an index-only scan of (programme, initiative)). Votes can only exist for projects on
    the ballot, which stay on it once voting starts, so the candidates' counts are all votes.
    Ties are broken by submission order, which the database returns as an integer.
    """
    s1, s2, s3 = Initiative.ON_BALLOT
    params = {"programme": programme_id, "s1": s1, "s2": s2, "s3": s3}
    with _driver_cursor() as cursor:
        cursor.execute(_TALLY_INPUTS_SQL, params)
        fetched = cursor.fetchall()
    # Plus the confirmed paper ballots of service centres (paper/, via opencity.identity).
    paper = identity.offline_counts("initiative", [row[0] for row in fetched])
    rows = []
    for pk, category_id, cost, order, votes in fetched:
        rows.append(
            TallyRow(
                initiative_id=pk,
                category_id=category_id,
                votes=int(votes) + paper.get(pk, 0),
                amount=_money(cost),
                submitted_at=int(order),
                paper_votes=paper.get(pk, 0),
            )
        )
    return rows


def _driver_cursor() -> Any:
    """For the tally's bulk statements: on PostgreSQL, a psycopg cursor on Django's connection
    (same transaction) that binds parameters on the server and converts results without
    Django's per-value wrappers. Django's own cursor quotes every array element into the SQL
    text, which costs more than the statement for a tally's 500-element arrays."""
    if connection.vendor == "postgresql":
        import psycopg

        connection.ensure_connection()
        return psycopg.Cursor(connection.connection)
    return connection.cursor()


def _money(value: Any) -> Decimal:
    # PostgreSQL returns Decimal; SQLite (demo) may return a float or text for a raw query.
    return (value if isinstance(value, Decimal) else Decimal(str(value))).quantize(Decimal("0.01"))


def tally_programme(
    *,
    programme_id: int,
    actor: User | None = None,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ResultSnapshot:
    """Count votes per initiative from the vote rows and store the result (idempotent, atomic).

    Runs after voting closes (`force` skips that check: tests and benchmarks only). Never
    changes votes. The snapshot and its rows are written in one transaction, so a crash
    leaves nothing; the same votes give the same content hash, and the unique (programme,
    hash) constraint makes a second run return the existing snapshot and record nothing.
    """
    programme = Programme.objects.only("id", "city_id", "voting_closes").get(pk=programme_id)
    if not force and timezone.localdate() <= programme.voting_closes:
        raise Refused(_("The tally runs once voting has closed."), code="stage")
    # The rules in force: the copy frozen when voting started (frozen now if nothing did,
    # e.g. a programme nobody voted in), never the live programme or category rows.
    rules = programme_freeze_rules(programme_id=programme.pk, actor=actor)
    budgets = rules.category_budgets()
    rows = _tally_inputs(programme.pk)
    if rules.winner_rule == WinnerRule.BUDGET:
        rows = pick_winners_whole_budget(rows, rules.total_budget)
    elif rules.winner_rule == WinnerRule.EQUAL_SHARES:
        rows = pick_winners_equal_shares(rows, programme.pk, rules.total_budget, progress)
    else:
        rows = pick_winners(rows, budgets)
    snapshot = ResultSnapshot(
        programme=programme,
        content_hash=_content_hash(programme, budgets, rows, rules.winner_rule),
        total_votes=sum(r.votes for r in rows),
        funded_amount=sum((r.amount for r in rows if r.winner), Decimal("0")),
    )
    with transaction.atomic():
        recorded = _record_snapshot(snapshot, rows)
        if recorded:
            audit(
                obj=snapshot,
                action="initiatives.snapshot.recorded",
                actor=actor,
                city=programme.city_id,
                data={"hash": snapshot.content_hash, "votes": snapshot.total_votes},
            )
    if not recorded:  # the same result is already recorded (a second or concurrent run)
        return ResultSnapshot.objects.get(programme=programme, content_hash=snapshot.content_hash)
    return snapshot


# PostgreSQL: the snapshot and its rows in one statement; nothing when the same result
# (programme, content hash) is already recorded, including by a concurrent run.
_RECORD_SNAPSHOT_SQL = """
    WITH snapshot AS (
        INSERT INTO initiatives_resultsnapshot
            (programme_id, content_hash, created_at, total_votes, funded_amount)
        VALUES (%s, %s, %s, %s, %s)
        ON CONFLICT ON CONSTRAINT snapshot_unique_content DO NOTHING
        RETURNING id
    ), result_rows AS (
        INSERT INTO initiatives_resultrow
            (snapshot_id, initiative_id, category_id, rank, votes, amount, winner, outcome,
             paper_votes)
        SELECT snapshot.id, r.* FROM snapshot, unnest(
            %b::bigint[], %b::bigint[], %b::integer[], %b::integer[], %b::numeric[], %b::boolean[],
            %b::text[], %b::integer[]
        ) AS r
    )
    SELECT id FROM snapshot
"""


def _record_snapshot(snapshot: ResultSnapshot, rows: list[TallyRow]) -> bool:
    """Save the snapshot and its rows; False (and nothing written) if the same result exists.
    Call inside a transaction."""
    if connection.vendor != "postgresql":
        try:
            with transaction.atomic():
                snapshot.save(force_insert=True)
                ResultRow.objects.bulk_create(
                    ResultRow(
                        snapshot_id=snapshot.pk,
                        initiative_id=r.initiative_id,
                        category_id=r.category_id,
                        rank=r.rank,
                        votes=r.votes,
                        amount=r.amount,
                        winner=r.winner,
                        outcome=r.outcome,
                        paper_votes=r.paper_votes,
                    )
                    for r in rows
                )
        except IntegrityError:
            return False
        return True
    columns = (
        [r.initiative_id for r in rows],
        [r.category_id for r in rows],
        [r.rank for r in rows],
        [r.votes for r in rows],
        [r.amount for r in rows],
        [r.winner for r in rows],
        [r.outcome for r in rows],
        [r.paper_votes for r in rows],
    )
    params = [
        snapshot.programme_id,
        snapshot.content_hash,
        snapshot.created_at,
        snapshot.total_votes,
        snapshot.funded_amount,
        *columns,
    ]
    with _driver_cursor() as cursor:
        cursor.execute(_RECORD_SNAPSHOT_SQL, params)
        row = cursor.fetchone()
    if row is None:
        return False
    snapshot.pk = row[0]
    snapshot._state.adding = False
    return True


def tally_request(*, programme: Programme, actor: User) -> None:
    """Staff ask for a tally now; the task is queued on commit (a beat pass also runs it)."""
    if timezone.localdate() <= programme.voting_closes:
        raise Refused(_("The tally runs once voting has closed."), code="stage")
    audit(
        obj=programme,
        action="initiatives.programme.tally_requested",
        actor=actor,
        city=programme.city,
    )
    enqueue_on_commit("initiatives.tasks.tally", programme.pk)


def programmes_due_for_tally(today: date | None = None) -> list[int]:
    """Programmes whose voting has closed and that have no snapshot yet."""
    today = today or timezone.localdate()
    return list(
        Programme.objects.filter(voting_closes__lt=today, snapshots__isnull=True).values_list(
            "pk", flat=True
        )
    )


def results_publish(*, snapshot: ResultSnapshot, actor: User) -> ResultSnapshot:
    """Publish a tally result (atomic, once). City staff of the programme's city.

    Marks the programme's projects funded / not funded and queues one task that e-mails the
    authors and the voters who opted in (a periodic pass recovers a broker outage).
    """
    programme = snapshot.programme
    if not can_act_on_city(actor, programme.city_id, REVIEW_ROLES):
        raise Refused(_("You may not publish this city's results."), code="forbidden")
    latest = (
        ResultSnapshot.objects.filter(programme=programme).order_by("-created_at", "-id").first()
    )
    if latest is None or latest.pk != snapshot.pk:
        raise Refused(_("Only the latest tally can be published."), code="stale")
    now = timezone.now()
    with transaction.atomic():
        # Turnout is recorded with the publication, not by the tally (which decides winners
        # and is kept to the GROUP BY): every voter has exactly one vote in slot 1.
        voters = Vote.objects.filter(programme_id=programme.pk, position=1).count()
        claimed = ResultSnapshot.objects.filter(pk=snapshot.pk, published_at__isnull=True).update(
            published_at=now, published_by=actor, total_voters=voters
        )
        if not claimed:
            raise Refused(_("These results are already published."), code="published")
        snapshot.published_at, snapshot.published_by = now, actor
        snapshot.total_voters = voters
        winners = set(snapshot.rows.filter(winner=True).values_list("initiative_id", flat=True))
        all_ids = set(snapshot.rows.values_list("initiative_id", flat=True))
        Initiative.objects.filter(pk__in=winners).update(status=Status.FUNDED)
        Initiative.objects.filter(pk__in=all_ids - winners).update(status=Status.NOT_FUNDED)
        audit(
            obj=snapshot,
            action="initiatives.snapshot.published",
            actor=actor,
            city=programme.city,
            data={"winners": sorted(winners)},
        )
        enqueue_on_commit("initiatives.tasks.notify_voters_of_results", snapshot.pk)
        notices.results_published(programme, snapshot)
    return snapshot


def notify_voters_of_results(*, snapshot_id: int) -> int:
    """E-mail the authors their result and every opted-in voter that results are published.

    Idempotent: every e-mail has a deterministic key, so a second run records nothing.
    """
    snapshot = ResultSnapshot.objects.select_related("programme__city").get(pk=snapshot_id)
    if snapshot.published_at is None:
        return 0
    sent = 0
    winners = set(snapshot.rows.filter(winner=True).values_list("initiative_id", flat=True))
    outcomes = dict(snapshot.rows.values_list("initiative_id", "outcome"))
    for initiative in Initiative.objects.filter(pk__in=outcomes).select_related(
        "author", "programme__city"
    ):
        notify_author(
            initiative,
            f"result:s{snapshot.pk}",
            "initiatives/result",
            funded=initiative.pk in winners,
            explanation=EXPLANATIONS.get(outcomes[initiative.pk], ""),
        )
    ballots = Ballot.objects.filter(programme=snapshot.programme, notify=True).select_related(
        "voter"
    )
    for ballot in ballots.iterator(chunk_size=500):
        if notify_user(
            user=ballot.voter,
            key=f"initiatives:results:s{snapshot.pk}",
            template="initiatives/results_published",
            context={"programme": snapshot.programme},
            city=snapshot.programme.city,
        ):
            sent += 1
    ResultSnapshot.objects.filter(pk=snapshot.pk, voters_notified_at__isnull=True).update(
        voters_notified_at=timezone.now()
    )
    return sent
