"""The tally through its real statements, on PostgreSQL's path (one GROUP BY, rows sent as
arrays) and the portable one (the SQLite demo's, run here on PostgreSQL by presenting the
connection as another vendor): unvoted projects never win, ties go to the earlier
submission, only candidates on the ballot count, the snapshot rows and audit entry, and
when a tally may run (frozen clock at the end of the last voting day)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connections
from django.utils import timezone

from initiatives import services
from initiatives.models import Initiative, ResultSnapshot
from opencity.core import Refused
from opencity.core.services import audit_trail
from tests.initiatives.factories import (
    make_category,
    make_initiative,
    make_programme,
    make_voter,
    stage_dates,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["statement", "transaction"])
def path(request, monkeypatch):
    """PostgreSQL's statements, or the portable path (connection presented as another vendor)."""
    if request.param == "transaction":
        monkeypatch.setattr(connections["default"], "vendor", "sqlite")
    return request.param


def close_voting(programme):
    for field, value in stage_dates("results").items():
        setattr(programme, field, value)
    programme.save()


def vote(initiative, voters):
    for voter in voters:
        services.vote_cast(voter=voter, initiative=initiative)


def rows_of(snapshot) -> dict[int, tuple]:
    return {
        r.initiative_id: (r.rank, r.votes, r.amount, r.winner)
        for r in snapshot.rows.order_by("initiative_id")
    }


@pytest.fixture
def programme(city_a):
    return make_programme(city_a, stage="voting", max_votes=3)


def test_a_project_nobody_voted_for_is_not_funded_even_with_money_left(path, programme, city_a):
    category = make_category(programme, budget="1000", max_cost="1000")
    voted = make_initiative(programme, category, cost="300")
    unvoted = make_initiative(programme, category, cost="200")
    vote(voted, [make_voter(city_a)])
    close_voting(programme)
    snapshot = services.tally_programme(programme_id=programme.pk)
    assert rows_of(snapshot) == {
        voted.pk: (1, 1, Decimal("300.00"), True),
        unvoted.pk: (2, 0, Decimal("200.00"), False),
    }
    assert snapshot.total_votes == 1 and snapshot.funded_amount == Decimal("300.00")


def test_a_tie_goes_to_the_earlier_submission_not_the_lower_id(path, programme, city_a):
    category = make_category(programme, budget="500", max_cost="500")
    base = timezone.now() - timedelta(days=40)
    later = make_initiative(programme, category, cost="400", submitted_at=base + timedelta(hours=1))
    earlier = make_initiative(programme, category, cost="400", submitted_at=base)
    assert later.pk < earlier.pk
    voters = [make_voter(city_a) for _ in range(2)]
    vote(later, voters)
    vote(earlier, voters)
    close_voting(programme)
    snapshot = services.tally_programme(programme_id=programme.pk)
    assert rows_of(snapshot) == {
        later.pk: (2, 2, Decimal("400.00"), False),
        earlier.pk: (1, 2, Decimal("400.00"), True),
    }


def test_only_this_programmes_votes_and_candidates_on_the_ballot_count(path, programme, city_a):
    category = make_category(programme, budget="10000", max_cost="5000")
    funded = make_initiative(programme, category, cost="100")
    withdrawn = make_initiative(programme, category, cost="100")
    other = make_programme(city_a, stage="voting")
    elsewhere = make_initiative(other, make_category(other), cost="100")
    voters = [make_voter(city_a) for _ in range(2)]
    vote(funded, voters[:1])
    vote(withdrawn, voters)
    vote(elsewhere, voters)
    Initiative.objects.filter(pk=withdrawn.pk).update(status=Initiative.Status.WITHDRAWN)
    close_voting(programme)
    snapshot = services.tally_programme(programme_id=programme.pk)
    assert rows_of(snapshot) == {funded.pk: (1, 1, Decimal("100.00"), True)}
    assert snapshot.total_votes == 1


def test_the_snapshot_is_audited_once_and_a_second_tally_returns_it(path, programme, city_a):
    category = make_category(programme)
    initiative = make_initiative(programme, category)
    vote(initiative, [make_voter(city_a)])
    close_voting(programme)
    first = services.tally_programme(programme_id=programme.pk, actor=None)
    second = services.tally_programme(programme_id=programme.pk)
    assert second.pk == first.pk and ResultSnapshot.objects.count() == 1
    assert second.content_hash == first.content_hash and len(first.content_hash) == 64
    (entry,) = [e for e in audit_trail(first) if e.action == "initiatives.snapshot.recorded"]
    assert entry.data == {"hash": first.content_hash, "votes": 1}
    assert entry.city_id == programme.city_id


def test_the_tally_refuses_on_the_last_voting_day_and_runs_the_next_morning(programme, city_a):
    category = make_category(programme)
    vote(make_initiative(programme, category), [make_voter(city_a)])
    last_minute = timezone.make_aware(datetime.combine(programme.voting_closes, time(23, 59, 30)))
    with time_machine.travel(last_minute, tick=False):
        with pytest.raises(Refused) as info:
            services.tally_programme(programme_id=programme.pk)
        assert info.value.code == "stage"
        assert services.programmes_due_for_tally() == []
    with time_machine.travel(last_minute + timedelta(seconds=31), tick=False):
        assert services.programmes_due_for_tally() == [programme.pk]
        snapshot = services.tally_programme(programme_id=programme.pk)
        assert services.programmes_due_for_tally() == []
    assert snapshot.total_votes == 1


def test_staff_may_request_a_tally_only_after_voting_and_it_is_audited(
    programme, city_a, moderator_a, django_capture_on_commit_callbacks
):
    make_initiative(programme, make_category(programme))
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Refused) as info,
    ):
        services.tally_request(programme=programme, actor=moderator_a)
    assert info.value.code == "stage" and callbacks == []
    close_voting(programme)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.tally_request(programme=programme, actor=moderator_a)
    # The tally task, run in-process here (the rest rebuild the cached programme pages).
    assert [c.__qualname__ for c in callbacks].count("enqueue_on_commit.<locals>.<lambda>") == 1
    assert ResultSnapshot.objects.filter(programme=programme).count() == 1
    (entry,) = [
        e for e in audit_trail(programme) if e.action == "initiatives.programme.tally_requested"
    ]
    assert entry.actor == moderator_a and entry.city_id == city_a.pk


def test_the_winner_picker_skips_what_no_longer_fits_and_ranks_per_category():
    row = services.TallyRow
    rows = [
        row(initiative_id=1, category_id=10, votes=5, amount=Decimal("600"), submitted_at=1),
        row(initiative_id=2, category_id=10, votes=4, amount=Decimal("500"), submitted_at=2),
        row(initiative_id=3, category_id=10, votes=3, amount=Decimal("400"), submitted_at=3),
        row(initiative_id=4, category_id=20, votes=1, amount=Decimal("50"), submitted_at=4),
        row(initiative_id=5, category_id=20, votes=0, amount=Decimal("10"), submitted_at=5),
    ]
    picked = services.pick_winners(rows, {10: Decimal("1000"), 20: Decimal("50")})
    assert [(r.initiative_id, r.rank, r.winner) for r in picked] == [
        (1, 1, True),
        (2, 2, False),
        (3, 3, True),
        (4, 1, True),
        (5, 2, False),
    ]
