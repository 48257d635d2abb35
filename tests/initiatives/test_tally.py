"""Tally: winners per category within budget, idempotent and atomic snapshots, publication."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from initiatives import tasks
from initiatives.models import Initiative, ResultRow, ResultSnapshot, Vote
from initiatives.services import (
    TallyRow,
    pick_winners,
    results_publish,
    tally_programme,
    vote_cast,
)
from opencity.core import Refused
from opencity.core.models import AuditEntry, OutboundEmail
from tests.initiatives.factories import (
    make_category,
    make_initiative,
    make_programme,
    make_voter,
    stage_dates,
)

T0 = timezone.now() - timedelta(days=60)


def row(pk, votes, amount, *, category=1, minutes=0):
    return TallyRow(
        initiative_id=pk,
        category_id=category,
        votes=votes,
        amount=Decimal(amount),
        submitted_at=T0 + timedelta(minutes=minutes),
    )


def winners(rows, budgets):
    return [r.initiative_id for r in pick_winners(rows, budgets) if r.winner]


# --- winner selection, hand-computed ----------------------------------------------------------
def test_most_voted_projects_win_until_the_budget_is_used_exactly():
    rows = [row(1, 50, "400"), row(2, 40, "600"), row(3, 30, "1")]
    # 400 + 600 = 1000 uses the budget to the last hryvnia; project 3 no longer fits.
    assert winners(rows, {1: Decimal("1000")}) == [1, 2]


def test_a_project_that_no_longer_fits_is_skipped_and_a_cheaper_one_below_wins():
    rows = [row(1, 90, "700"), row(2, 80, "500"), row(3, 70, "300"), row(4, 60, "100")]
    # budget 1000: 700 wins (300 left), 500 skipped, 300 wins (0 left), 100 skipped
    assert winners(rows, {1: Decimal("1000")}) == [1, 3]


def test_expensive_top_project_over_the_whole_budget_is_skipped():
    rows = [row(1, 99, "1500"), row(2, 10, "900")]
    assert winners(rows, {1: Decimal("1000")}) == [2]


def test_tie_in_votes_goes_to_the_earlier_submission():
    rows = [row(1, 20, "600", minutes=5), row(2, 20, "600", minutes=1)]
    assert winners(rows, {1: Decimal("1000")}) == [2]
    ranked = pick_winners(rows, {1: Decimal("1000")})
    assert [(r.initiative_id, r.rank) for r in ranked] == [(2, 1), (1, 2)]


def test_categories_have_separate_budgets():
    rows = [
        row(1, 10, "800", category=1),
        row(2, 5, "800", category=2),
        row(3, 9, "300", category=1),
    ]
    assert sorted(winners(rows, {1: Decimal("1000"), 2: Decimal("800")})) == [1, 2]


def test_project_without_votes_never_wins():
    assert winners([row(1, 0, "10")], {1: Decimal("1000")}) == []


# --- the tally on the database ----------------------------------------------------------------
@pytest.fixture
def voting(city_a):
    """A programme in voting with hand-made votes; returns (programme, initiatives)."""
    programme = make_programme(city_a, stage="voting", max_votes=5)
    small = make_category(programme, name="Малі", budget="1000", max_cost="1000")
    large = make_category(programme, name="Великі", budget="5000", max_cost="5000")
    base = timezone.now() - timedelta(days=40)
    a = make_initiative(programme, small, cost="700", submitted_at=base)
    b = make_initiative(programme, small, cost="500", submitted_at=base + timedelta(hours=1))
    c = make_initiative(programme, small, cost="300", submitted_at=base + timedelta(hours=2))
    d = make_initiative(programme, large, cost="5000", submitted_at=base + timedelta(hours=3))
    e = make_initiative(programme, large, cost="4000", submitted_at=base + timedelta(hours=4))
    plan = {a: 3, b: 2, c: 1, d: 2, e: 2}  # d and e tie: d was submitted first
    voters = [make_voter(city_a) for _ in range(3)]
    for initiative, count in plan.items():
        for voter in voters[:count]:
            vote_cast(voter=voter, initiative=initiative)
    return programme, {"a": a, "b": b, "c": c, "d": d, "e": e}


def close_voting(programme):
    for field, value in stage_dates("results").items():
        setattr(programme, field, value)
    programme.save()


@pytest.mark.django_db
def test_tally_counts_votes_and_picks_the_winners(voting):
    programme, p = voting
    close_voting(programme)
    snapshot = tally_programme(programme_id=programme.pk)
    rows = {r.initiative_id: r for r in snapshot.rows.all()}
    assert {k: (rows[v.pk].votes, rows[v.pk].winner) for k, v in p.items()} == {
        "a": (3, True),
        "b": (2, False),
        "c": (1, True),
        "d": (2, True),
        "e": (2, False),
    }
    assert snapshot.total_votes == 10
    assert snapshot.total_voters is None  # turnout is recorded with the publication
    assert snapshot.funded_amount == Decimal("6000")
    assert Vote.objects.count() == 10  # votes are never changed


@pytest.mark.django_db
def test_tally_twice_gives_the_identical_snapshot_and_records_nothing_new(voting):
    programme, _ = voting
    close_voting(programme)
    first = tally_programme(programme_id=programme.pk)
    rows_before = list(ResultRow.objects.values_list("initiative_id", "votes", "winner", "rank"))
    second = tally_programme(programme_id=programme.pk)
    assert second.pk == first.pk and second.content_hash == first.content_hash
    assert ResultSnapshot.objects.count() == 1
    assert list(ResultRow.objects.values_list("initiative_id", "votes", "winner", "rank")) == (
        rows_before
    )


@pytest.mark.django_db
def test_tally_that_crashes_midway_leaves_no_partial_result(voting):
    programme, _ = voting
    close_voting(programme)
    # The worker dies after the snapshot and its rows are written, before the commit.
    crash = mock.patch("initiatives.services.tally.audit", side_effect=RuntimeError("kill"))
    with crash, pytest.raises(RuntimeError):
        tally_programme(programme_id=programme.pk)
    assert ResultSnapshot.objects.count() == 0 and ResultRow.objects.count() == 0
    snapshot = tally_programme(programme_id=programme.pk)  # the retry completes normally
    assert snapshot.rows.count() == 5


@pytest.mark.django_db
def test_tally_is_refused_while_voting_is_open(voting):
    programme, _ = voting
    with pytest.raises(Refused) as refused:
        tally_programme(programme_id=programme.pk)
    assert refused.value.code == "stage"
    assert not ResultSnapshot.objects.exists()


@pytest.mark.django_db
def test_beat_tallies_programmes_whose_voting_closed_once(voting):
    programme, _ = voting
    close_voting(programme)
    assert tasks.tally_due() == 1
    assert ResultSnapshot.objects.filter(programme=programme).count() == 1
    assert tasks.tally_due() == 0


@pytest.mark.django_db
def test_rejected_and_withdrawn_projects_are_not_in_the_result(voting):
    programme, p = voting
    make_initiative(programme, status=Initiative.Status.WITHDRAWN)
    close_voting(programme)
    snapshot = tally_programme(programme_id=programme.pk)
    assert set(snapshot.rows.values_list("initiative_id", flat=True)) == {i.pk for i in p.values()}


# --- publication ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_publishing_marks_projects_notifies_and_is_audited(
    voting, moderator_a, django_capture_on_commit_callbacks
):
    programme, p = voting
    from initiatives.models import Ballot

    Ballot.objects.filter(programme=programme).update(notify=True)
    close_voting(programme)
    snapshot = tally_programme(programme_id=programme.pk)
    with django_capture_on_commit_callbacks(execute=True):
        results_publish(snapshot=snapshot, actor=moderator_a)
    p["a"].refresh_from_db()
    p["b"].refresh_from_db()
    assert p["a"].status == Initiative.Status.FUNDED
    assert p["b"].status == Initiative.Status.NOT_FUNDED
    assert (
        AuditEntry.objects.filter(
            action="initiatives.snapshot.published", actor=moderator_a
        ).count()
        == 1
    )
    snapshot.refresh_from_db()
    assert snapshot.total_voters == 3
    keys = set(OutboundEmail.objects.values_list("key", flat=True))
    assert f"initiatives:result:s{snapshot.pk}:i{p['a'].pk}:u{p['a'].author_id}" in keys
    assert sum(k.startswith(f"initiatives:results:s{snapshot.pk}") for k in keys) == 3
    assert len(mail.outbox) == 5 + 3
    with pytest.raises(Refused) as refused:
        results_publish(snapshot=snapshot, actor=moderator_a)
    assert refused.value.code == "published"
    # The tally after publication still gives the same snapshot.
    assert tally_programme(programme_id=programme.pk).pk == snapshot.pk


@pytest.mark.django_db
def test_clerk_of_another_city_cannot_publish(voting, moderator_b):
    programme, _ = voting
    close_voting(programme)
    snapshot = tally_programme(programme_id=programme.pk)
    with pytest.raises(Refused) as refused:
        results_publish(snapshot=snapshot, actor=moderator_b)
    assert refused.value.code == "forbidden"
    snapshot.refresh_from_db()
    assert snapshot.published_at is None


@pytest.mark.django_db(transaction=True)
def test_voter_emails_missed_in_a_broker_outage_are_sent_by_the_sweep(voting, moderator_a):
    from initiatives.models import Ballot

    programme, _ = voting
    Ballot.objects.filter(programme=programme).update(notify=True)
    close_voting(programme)
    snapshot = tally_programme(programme_id=programme.pk)
    from tests.helpers import broker_down

    with broker_down():
        results_publish(snapshot=snapshot, actor=moderator_a)
    assert not OutboundEmail.objects.filter(key__startswith="initiatives:").exists()
    ResultSnapshot.objects.filter(pk=snapshot.pk).update(
        published_at=timezone.now() - timedelta(minutes=5)
    )
    assert tasks.sweep_voter_notifications() == 1
    assert OutboundEmail.objects.filter(key__startswith="initiatives:results:").count() == 3
    assert OutboundEmail.objects.filter(key__startswith="initiatives:result:").count() == 5
    assert tasks.sweep_voter_notifications() == 0


# --- results pages and exports -----------------------------------------------------------------
@pytest.fixture
def published(voting, moderator_a):
    programme, p = voting
    close_voting(programme)
    snapshot = tally_programme(programme_id=programme.pk)
    with transaction.atomic():
        results_publish(snapshot=snapshot, actor=moderator_a)
    return programme, p


@pytest.mark.django_db
def test_results_are_hidden_until_published_except_for_the_citys_staff(
    voting, client, moderator_a, moderator_b
):
    programme, _ = voting
    close_voting(programme)
    tally_programme(programme_id=programme.pk)
    url = reverse("initiatives:results", args=[programme.slug])
    assert client.get(url).status_code == 404
    assert client.get(url.replace("results/", "results.csv")).status_code == 404
    client.force_login(moderator_b)
    assert client.get(url).status_code == 404
    client.force_login(moderator_a)
    assert client.get(url).status_code == 200


@pytest.mark.django_db
def test_results_page_has_the_table_and_an_accessible_chart(published, client):
    programme, p = published
    html = client.get(reverse("initiatives:results", args=[programme.slug])).content.decode()
    assert 'role="img"' in html and 'aria-labelledby="chart-title chart-desc"' in html
    assert html.count("<rect") == 5
    assert p["a"].title in html and "<table>" in html


@pytest.mark.django_db
def test_results_csv_and_json_list_votes_amounts_and_winners(published, client):
    programme, p = published
    csv_text = client.get(f"/initiatives/{programme.slug}/results.csv").content.decode("utf-8-sig")
    lines = csv_text.strip().splitlines()
    assert lines[0] == (
        "category,rank,initiative_id,title,votes,votes_online,votes_paper,amount,funded,outcome,"
        "explanation"
    )
    row = f"Малі,1,{p['a'].pk},{p['a'].title},3,3,0,700.00,True,won,"
    assert any(line.startswith(row) and "Переміг" in line for line in lines)
    data = client.get(f"/initiatives/{programme.slug}/results.json").json()
    assert data["total_votes"] == 10 and data["funded_amount"] == "6000.00"
    funded = {r["initiative_id"] for r in data["rows"] if r["funded"]}
    assert funded == {p["a"].pk, p["c"].pk, p["d"].pk}


@pytest.mark.django_db
def test_results_tallied_before_the_channel_split_leave_it_empty_not_zero(published, client):
    programme, p = published
    ResultRow.objects.filter(snapshot__programme=programme).update(paper_votes=None)
    csv_text = client.get(f"/initiatives/{programme.slug}/results.csv").content.decode("utf-8-sig")
    assert f",{p['a'].pk},{p['a'].title},3,,,700.00," in csv_text
    data = client.get(f"/initiatives/{programme.slug}/results.json").json()
    row = next(r for r in data["rows"] if r["initiative_id"] == p["a"].pk)
    assert (row["votes"], row["votes_online"], row["votes_paper"]) == (3, None, None)


@pytest.mark.django_db
def test_csv_neutralises_spreadsheet_formulas_in_titles(published, client):
    programme, p = published
    Initiative.objects.filter(pk=p["a"].pk).update(title='=HYPERLINK("http://x")')
    csv_text = client.get(f"/initiatives/{programme.slug}/results.csv").content.decode("utf-8-sig")
    assert "'=HYPERLINK" in csv_text
