"""What a refused voter is told comes from their own ballot only (not other voters', not other
programmes'), and what the tally says and records when it is refused, re-run after a
correction, or freezes the rules itself (issue 21: found by the mutation run)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, time

import pytest
import time_machine
from django.db import connections
from django.utils import timezone, translation
from django.utils.translation import gettext

from initiatives import services
from initiatives.models import Vote
from opencity.core import Refused
from opencity.core.models import AuditEntry
from tests.initiatives.factories import make_category, make_initiative, make_programme, make_voter

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["statement", "transaction"])
def path(request, monkeypatch):
    """PostgreSQL's one statement, or the portable transaction (the SQLite demo's path)."""
    if request.param == "transaction":
        monkeypatch.setattr(connections["default"], "vendor", "sqlite")
    return request.param


def refusal(voter, initiative) -> tuple[str, str]:
    with pytest.raises(Refused) as info, translation.override("en"):
        services.vote_cast(voter=voter, initiative=initiative)
    with translation.override("en"):
        return info.value.code, str(info.value)


def test_a_voter_out_of_votes_hears_so_even_for_a_project_others_voted_for(path, city_a):
    programme = make_programme(city_a, stage="voting", max_votes=1)
    category = make_category(programme)
    mine, theirs = make_initiative(programme, category), make_initiative(programme, category)
    voter, neighbour = make_voter(city_a), make_voter(city_a)
    services.vote_cast(voter=neighbour, initiative=theirs)
    services.vote_cast(voter=voter, initiative=mine)
    assert refusal(voter, theirs) == ("limit", "You have used all your votes in this programme.")
    assert Vote.objects.filter(voter=voter).count() == 1


def test_votes_in_another_programme_do_not_use_up_this_ones(path, city_a):
    other = make_programme(city_a, stage="voting", max_votes=2)
    programme = make_programme(city_a, stage="voting", max_votes=2, one_per_category=True)
    category = make_category(programme)
    first, second = make_initiative(programme, category), make_initiative(programme, category)
    voter = make_voter(city_a)
    services.vote_cast(voter=voter, initiative=make_initiative(other))
    services.vote_cast(voter=voter, initiative=first)
    assert refusal(voter, second) == ("category", "You have already voted in this category.")


def test_the_tally_before_voting_closes_says_when_it_runs(city_a):
    programme = make_programme(city_a, stage="voting")
    with pytest.raises(Refused) as info:
        services.tally_programme(programme_id=programme.pk)
    assert info.value.code == "stage"
    assert str(info.value) == gettext("The tally runs once voting has closed.")


def test_a_tally_that_freezes_the_rules_names_who_ran_it(city_a, moderator_a):
    programme = make_programme(city_a, stage="results")  # nobody voted: nothing froze yet
    make_initiative(programme, make_category(programme))
    services.tally_programme(programme_id=programme.pk, actor=moderator_a)
    (entry,) = AuditEntry.objects.filter(action="initiatives.programme.rules_frozen")
    assert entry.actor_id == moderator_a.pk and entry.object_id == str(programme.pk)


def test_a_repeated_tally_returns_the_latest_result_of_the_same_votes(city_a):
    """After a corrected count (another snapshot of the programme), running the tally again
    on the same votes returns that snapshot and records nothing new."""
    programme = make_programme(city_a, stage="voting", max_votes=3)
    initiative = make_initiative(programme, make_category(programme))
    services.vote_cast(voter=make_voter(city_a), initiative=initiative)
    first = services.tally_programme(programme_id=programme.pk, force=True)
    services.vote_cast(voter=make_voter(city_a), initiative=initiative)
    second = services.tally_programme(programme_id=programme.pk, force=True)
    assert second.pk != first.pk and second.total_votes == 2
    again = services.tally_programme(programme_id=programme.pk, force=True)
    assert again.pk == second.pk and again.total_votes == 2
    assert programme.snapshots.count() == 2


def test_the_vote_by_slug_checks_the_account_in_the_statement(city_a):
    """vote_cast_for (the initiative named by programme slug and id) on PostgreSQL: the one
    statement refuses an account deactivated since the request read it."""
    programme = make_programme(city_a, stage="voting")
    initiative = make_initiative(programme, make_category(programme))
    voter = make_voter(city_a)
    type(voter).objects.filter(pk=voter.pk).update(is_active=False)
    with pytest.raises(Refused) as info:
        services.vote_cast_for(
            voter=voter, programme_slug=programme.slug, initiative_pk=initiative.pk
        )
    assert info.value.code == "retry"
    assert not Vote.objects.exists()


def test_staff_cannot_request_the_tally_on_the_last_voting_day(city_a, moderator_a):
    programme = make_programme(city_a, stage="voting")
    last_day = timezone.make_aware(datetime.combine(programme.voting_closes, time(18)))
    with time_machine.travel(last_day, tick=False), pytest.raises(Refused) as info:
        services.tally_request(programme=programme, actor=moderator_a)
    assert info.value.code == "stage"
    assert str(info.value) == gettext("The tally runs once voting has closed.")
    assert not AuditEntry.objects.filter(action="initiatives.programme.tally_requested").exists()


def test_the_recorded_tally_names_who_ran_it_and_its_hash_can_be_recomputed(city_a, moderator_a):
    """Anyone can recompute a published result's hash from its rows (category rule: the
    payload without a rule name, as before rules existed)."""
    programme = make_programme(city_a, stage="voting", max_votes=3)
    category = make_category(programme)
    initiative = make_initiative(programme, category)
    make_initiative(programme, category)
    services.vote_cast(voter=make_voter(city_a), initiative=initiative)
    snapshot = services.tally_programme(programme_id=programme.pk, actor=moderator_a, force=True)
    (entry,) = AuditEntry.objects.filter(action="initiatives.snapshot.recorded")
    assert entry.actor_id == moderator_a.pk
    rows = [
        [r.initiative_id, r.category_id, r.rank, r.votes, str(r.amount), r.winner]
        for r in snapshot.rows.order_by("category_id", "rank")
    ]
    payload = {
        "programme": programme.pk,
        "budgets": {str(category.pk): str(type(category).objects.get(pk=category.pk).budget)},
        "rows": rows,
    }
    expected = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    assert snapshot.content_hash == expected


def test_a_vote_by_slug_goes_to_the_project_named(path, city_a):
    programme = make_programme(city_a, stage="voting", max_votes=3)
    category = make_category(programme)
    make_initiative(programme, category)
    named = make_initiative(programme, category)
    make_initiative(programme, category)
    voter = make_voter(city_a)
    vote = services.vote_cast_for(
        voter=voter, programme_slug=programme.slug, initiative_pk=named.pk
    )
    assert Vote.objects.get(voter=voter).initiative_id == named.pk == vote.initiative_id


def test_an_author_with_an_unconfirmed_address_hears_first_that_the_project_is_their_own(
    path, city_a
):
    """The rules are told in a fixed order: the project's own rules before the address."""
    programme = make_programme(city_a, stage="voting")
    author = make_voter(city_a, verified=False)
    own = make_initiative(programme, make_category(programme), author=author)
    assert refusal(author, own) == ("own", "You cannot vote for your own project.")


def test_the_vote_returned_carries_the_time_recorded(path, city_a):
    programme = make_programme(city_a, stage="voting")
    initiative = make_initiative(programme, make_category(programme))
    vote = services.vote_cast(voter=make_voter(city_a), initiative=initiative)
    assert Vote.objects.get(pk=vote.pk).created_at == vote.created_at


@pytest.mark.django_db(transaction=True)
def test_a_vote_that_lost_a_race_with_the_voters_last_vote_hears_the_limit(city_a):
    """One statement per vote (PostgreSQL): the voter's other vote commits while this one
    waits on it; this one inserts nothing, retries once with fresh data and is then told
    the limit, not "try again"."""
    import threading

    from django.db import connection, transaction

    programme = make_programme(city_a, stage="voting", max_votes=1)
    category = make_category(programme)
    first, second = make_initiative(programme, category), make_initiative(programme, category)
    voter = make_voter(city_a)
    inserted, result = threading.Event(), {}

    def holder():
        try:
            with transaction.atomic():
                services.vote_cast(voter=voter, initiative=first)
                inserted.set()
                # Commit only once the other vote waits on this one's rows.
                for _ in range(200):
                    with connection.cursor() as cursor:
                        cursor.execute(
                            "SELECT count(*) FROM pg_stat_activity "
                            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                        )
                        if cursor.fetchone()[0]:
                            break
                    threading.Event().wait(0.05)
        finally:
            connection.close()

    def loser():
        inserted.wait(10)
        try:
            with translation.override("en"):
                services.vote_cast(voter=voter, initiative=second)
        except Refused as refused:
            result["code"] = refused.code
        finally:
            connection.close()

    threads = [threading.Thread(target=holder), threading.Thread(target=loser)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert result == {"code": "limit"}
    assert list(Vote.objects.filter(voter=voter).values_list("initiative_id", flat=True)) == [
        first.pk
    ]
