"""Paper ballots follow the programme's frozen rules, line by line, and count in the tally."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import TestCase
from django.utils import timezone

from initiatives.services.rules import programme_freeze_rules
from initiatives.services.tally import results_publish, tally_programme
from initiatives.services.voting import vote_cast
from opencity.core import Refused
from paper import services
from paper.models import Line
from tests.initiatives.factories import (
    make_category,
    make_initiative,
    make_programme,
    make_voter,
)
from tests.paper.factories import enter, open_batch, rnokpp

pytestmark = pytest.mark.django_db


@pytest.fixture
def programme(city_a):
    programme = make_programme(city_a, max_votes=2, min_voter_age=16, live_counts=True)
    return programme


@pytest.fixture
def projects(programme):
    small, large = make_category(programme), make_category(programme)
    made = [make_initiative(programme, small), make_initiative(programme, small)]
    made += [make_initiative(programme, large)]
    programme_freeze_rules(programme_id=programme.pk)
    return made


def ballot(clerk, batch, picks, **kw):
    kw.setdefault("resident", True)
    kw.setdefault("birth_date", timezone.localdate() - timedelta(days=365 * 40))
    return enter(clerk, batch, initiative_ids=[p.pk for p in picks], **kw)


def test_a_ballot_over_the_limit_is_refused_on_its_line(clerk_a, programme, projects):
    batch = open_batch(clerk_a, programme=programme)
    with pytest.raises(Refused) as refused:
        ballot(clerk_a, batch, projects)  # 3 of at most 2
    assert refused.value.code == "ballot" and refused.value.field == "picks"
    ballot(clerk_a, batch, projects[:2])
    assert Line.objects.filter(batch=batch).count() == 1


def test_a_ballot_breaking_the_other_frozen_rules_is_refused(clerk_a, city_a, projects):
    programme = projects[0].programme
    batch = open_batch(clerk_a, programme=programme)
    with pytest.raises(Refused):
        ballot(clerk_a, batch, [])  # nothing marked
    with pytest.raises(Refused) as young:
        ballot(clerk_a, batch, projects[:1], birth_date=timezone.localdate() - timedelta(3000))
    assert young.value.field == "birth_date"
    with pytest.raises(Refused) as outsider:
        ballot(clerk_a, batch, projects[:1], resident=False)
    assert outsider.value.field == "resident"
    other = make_initiative(make_programme(city_a))
    with pytest.raises(Refused):
        ballot(clerk_a, batch, [other])  # not on this ballot
    assert not Line.objects.exists()


def test_one_per_category_is_enforced_on_paper_too(clerk_a, city_a):
    programme = make_programme(city_a, max_votes=3, one_per_category=True)
    category = make_category(programme)
    first, second = make_initiative(programme, category), make_initiative(programme, category)
    programme_freeze_rules(programme_id=programme.pk)
    batch = open_batch(clerk_a, programme=programme)
    with pytest.raises(Refused):
        ballot(clerk_a, batch, [first, second])


def test_paper_ballots_count_in_the_tally_and_pages_and_exports_show_both_channels(
    clerk_a, clerk_a2, client, programme, projects, moderator_a
):
    voter = make_voter(programme.city)
    vote_cast(voter=voter, initiative=projects[2])
    batch = open_batch(clerk_a, programme=programme)
    ballot(clerk_a, batch, [projects[0], projects[2]])
    ballot(clerk_a, batch, [projects[0]], number=rnokpp())
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.batch_confirm(clerk=clerk_a2, batch=batch)

    snapshot = tally_programme(programme_id=programme.pk, force=True)
    votes = {row.initiative_id: row.votes for row in snapshot.rows.all()}
    assert votes[projects[0].pk] == 2 and votes[projects[2].pk] == 2

    page = client.get(programme.get_absolute_url()).content.decode()
    assert "3" in page and ("on paper 2" in page or "на папері: 2" in page)
    detail = client.get(projects[2].get_absolute_url()).content.decode()
    assert "on paper 1" in detail or "на папері: 1" in detail

    # The published results say how many of each project's votes came on paper.
    with transaction.atomic():
        results_publish(snapshot=snapshot, actor=moderator_a)
    # (votes, of them online, of them on paper)
    split = {projects[0].pk: (2, 0, 2), projects[1].pk: (0, 0, 0), projects[2].pk: (2, 1, 1)}
    csv_text = client.get(f"/initiatives/{programme.slug}/results.csv").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert {
        int(r["initiative_id"]): (int(r["votes"]), int(r["votes_online"]), int(r["votes_paper"]))
        for r in rows
    } == split
    data = client.get(f"/initiatives/{programme.slug}/results.json").json()
    assert {
        r["initiative_id"]: (r["votes"], r["votes_online"], r["votes_paper"]) for r in data["rows"]
    } == split
    results_page = client.get(f"/initiatives/{programme.slug}/results/").content.decode()
    assert "on paper 2" in results_page or "на папері: 2" in results_page
    assert ("online 1 · on paper 1" in results_page) or ("онлайн: 1 · на папері: 1" in results_page)
    dataset = client.get("/api/results", {"programme": programme.slug}).json()["results"]
    assert {
        r["initiative_id"]: (r["votes"], r["votes_online"], r["votes_paper"]) for r in dataset
    } == split


def test_the_demo_s_orm_tally_keeps_the_paper_votes_too(
    clerk_a, clerk_a2, programme, projects, monkeypatch
):
    from django.db import connection

    vote_cast(voter=make_voter(programme.city), initiative=projects[2])
    batch = open_batch(clerk_a, programme=programme)
    ballot(clerk_a, batch, [projects[0], projects[2]])
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.batch_confirm(clerk=clerk_a2, batch=batch)
    monkeypatch.setattr(connection, "vendor", "sqlite")  # the ORM path SQLite takes
    snapshot = tally_programme(programme_id=programme.pk, force=True)
    assert {r.initiative_id: (r.votes, r.paper_votes) for r in snapshot.rows.all()} == {
        projects[0].pk: (1, 1),
        projects[1].pk: (0, 0),
        projects[2].pk: (2, 1),
    }
    assert all(r.outcome for r in snapshot.rows.all())  # each row says why it won or not


def test_a_ballot_batch_is_refused_outside_voting(clerk_a, city_a):
    programme = make_programme(city_a, stage="results")
    with pytest.raises(Refused):
        open_batch(clerk_a, programme=programme)
