"""Voting rules, enforced by the service and the database, under any sequence or concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from initiatives.models import Ballot, Initiative, Vote
from initiatives.services import vote_cast, vote_check_voter
from initiatives.services import voting as voting_services
from opencity.core import Refused
from tests.factories import make_user
from tests.helpers import broker_down
from tests.initiatives.factories import (
    cast,
    make_category,
    make_initiative,
    make_programme,
    make_voter,
    years_ago,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def programme(city_a):
    programme = make_programme(city_a, stage="voting", max_votes=2)
    make_category(programme, name="Малі проєкти")
    make_category(programme, name="Великі проєкти")
    return programme


@pytest.fixture
def small(programme):
    return programme.categories.get(name="Малі проєкти")


@pytest.fixture
def large(programme):
    return programme.categories.get(name="Великі проєкти")


@pytest.fixture
def voter(city_a):
    return make_voter(city_a)


def assert_counted(voter, initiative) -> None:
    """The vote is recorded on the voter's ballot and counts for the project."""
    vote = Vote.objects.get(voter=voter, initiative=initiative)
    assert vote.ballot.voter_id == voter.pk and vote.programme_id == initiative.programme_id
    assert Vote.objects.filter(initiative=initiative).count() == 1


def refused_code(func, **kwargs) -> str:
    with pytest.raises(Refused) as info:
        func(**kwargs)
    return info.value.code


def test_vote_is_recorded_on_the_voters_ballot(programme, small, voter):
    initiative = make_initiative(programme, small)
    vote = cast(voter, initiative)
    assert vote.position == 1 and vote.category_id == small.pk
    assert Ballot.objects.get(voter=voter, programme=programme).votes.count() == 1


def test_votes_up_to_the_limit_are_accepted_and_one_more_is_refused(programme, small, voter):
    first, second, third = (make_initiative(programme, small) for _ in range(3))
    cast(voter, first)
    cast(voter, second)
    assert refused_code(vote_cast, voter=voter, initiative=third) == "limit"
    assert Vote.objects.filter(voter=voter).count() == 2


def test_second_vote_for_the_same_project_is_refused(programme, small, voter):
    initiative = make_initiative(programme, small)
    cast(voter, initiative)
    assert refused_code(vote_cast, voter=voter, initiative=initiative) == "twice"
    assert Vote.objects.filter(voter=voter).count() == 1


def test_database_refuses_a_second_vote_for_a_project_even_past_the_service(programme, voter):
    initiative = make_initiative(programme)
    vote = cast(voter, initiative)
    with pytest.raises(IntegrityError), transaction.atomic():
        Vote.objects.create(
            ballot=vote.ballot,
            voter=voter,
            programme=programme,
            initiative=initiative,
            category=initiative.category,
            position=2,
        )


@pytest.mark.parametrize("mismatch", ["category", "programme", "voter", "slot"])
def test_database_keeps_a_votes_copied_columns_true_to_its_ballot_and_project(
    programme, large, voter, city_a, mismatch
):
    """A vote repeats its ballot's voter and programme and its project's programme and
    category; composite foreign keys and a check refuse any row where they disagree."""
    initiative = make_initiative(programme)  # in the first ("small") category
    ballot = cast(voter, make_initiative(programme)).ballot
    other_programme = make_programme(city_a, stage="voting")
    row = {
        "ballot": ballot,
        "voter": voter,
        "programme": programme,
        "initiative": initiative,
        "category": initiative.category,
        "category_slot": None,
        "position": 2,
    }
    row.update(
        {
            "category": {"category": large},
            "programme": {"programme": other_programme},
            "voter": {"voter": make_voter(city_a)},
            "slot": {"category_slot": large},
        }[mismatch]
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Vote.objects.create(**row)
        with connection.cursor() as cursor:  # deferred keys are checked at the commit
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_database_refuses_two_votes_in_one_ballot_slot(programme, voter):
    vote = cast(voter, make_initiative(programme))
    other = make_initiative(programme)
    with pytest.raises(IntegrityError), transaction.atomic():
        Vote.objects.create(
            ballot=vote.ballot,
            voter=voter,
            programme=programme,
            initiative=other,
            category=other.category,
            position=1,
        )


def test_one_per_category_accepts_another_category_and_refuses_the_same(
    programme, small, large, voter
):
    programme.one_per_category = True
    programme.save()
    cast(voter, make_initiative(programme, small))
    assert refused_code(vote_cast, voter=voter, initiative=make_initiative(programme, small)) == (
        "category"
    )
    cast(voter, make_initiative(programme, large))
    assert Vote.objects.filter(voter=voter).count() == 2


def test_without_one_per_category_two_votes_in_one_category_are_fine(programme, small, voter):
    cast(voter, make_initiative(programme, small))
    cast(voter, make_initiative(programme, small))
    assert Vote.objects.filter(voter=voter, category=small).count() == 2


def test_database_refuses_a_second_vote_in_a_category_slot(programme, small, voter):
    programme.one_per_category = True
    programme.save()
    vote = cast(voter, make_initiative(programme, small))
    other = make_initiative(programme, small)
    with pytest.raises(IntegrityError), transaction.atomic():
        Vote.objects.create(
            ballot=vote.ballot,
            voter=voter,
            programme=programme,
            initiative=other,
            category=small,
            category_slot=small,
            position=2,
        )


def test_voter_who_turns_the_minimum_age_today_may_vote(programme, city_a):
    voter = make_user(home_city=city_a, date_of_birth=years_ago(16))
    initiative = make_initiative(programme)
    cast(voter, initiative)
    assert_counted(voter, initiative)


def test_voter_one_day_short_of_the_minimum_age_is_refused(programme, city_a):
    voter = make_user(home_city=city_a, date_of_birth=years_ago(16) + timedelta(days=1))
    assert refused_code(vote_cast, voter=voter, initiative=make_initiative(programme)) == "age"


def test_voter_without_a_date_of_birth_is_asked_for_it(programme, city_a):
    voter = make_user(home_city=city_a)
    assert refused_code(vote_cast, voter=voter, initiative=make_initiative(programme)) == (
        "age_unknown"
    )


def test_programme_without_minimum_age_does_not_ask_for_it(programme, city_a):
    programme.min_voter_age = 0
    programme.save()
    voter, initiative = make_user(home_city=city_a), make_initiative(programme)
    assert voter.date_of_birth is None
    cast(voter, initiative)
    assert_counted(voter, initiative)


def test_resident_of_another_city_is_refused(programme, city_b):
    outsider = make_voter(city_b)
    assert refused_code(vote_cast, voter=outsider, initiative=make_initiative(programme)) == (
        "resident"
    )
    homeless = make_voter(None)
    assert refused_code(vote_cast, voter=homeless, initiative=make_initiative(programme)) == (
        "resident"
    )


def test_non_resident_may_vote_when_the_programme_is_open_to_all(programme, city_b):
    programme.residents_only = False
    programme.save()
    outsider, initiative = make_voter(city_b), make_initiative(programme)
    cast(outsider, initiative)
    assert_counted(outsider, initiative)


def test_author_cannot_vote_for_their_own_project_but_for_others(programme, voter):
    own = make_initiative(programme, author=voter)
    assert refused_code(vote_cast, voter=voter, initiative=own) == "own"
    assert not Vote.objects.filter(initiative=own).exists()
    other = make_initiative(programme)
    cast(voter, other)
    assert_counted(voter, other)


def test_unverified_email_cannot_vote(programme, city_a):
    voter = make_voter(city_a, verified=False)
    assert refused_code(vote_cast, voter=voter, initiative=make_initiative(programme)) == (
        "unverified"
    )


@pytest.mark.parametrize("stage", ["upcoming", "submission", "review", "results", "implementation"])
def test_vote_outside_the_voting_stage_is_refused(city_a, voter, stage):
    programme = make_programme(city_a, stage=stage)
    initiative = make_initiative(programme)
    assert refused_code(vote_cast, voter=voter, initiative=initiative) == "stage"
    assert not Vote.objects.exists()


def test_voting_is_open_on_its_first_and_last_day(city_a, voter):
    programme = make_programme(city_a, stage="voting")
    for day in (programme.voting_opens, programme.voting_closes):
        assert vote_check_voter(voter=voter, programme=programme, today=day) is None
    one_day = timedelta(days=1)
    for day in (programme.voting_opens - one_day, programme.voting_closes + one_day):
        refusal = refused_code(vote_check_voter, voter=voter, programme=programme, today=day)
        assert refusal == "stage"


@pytest.mark.parametrize(
    "status",
    [
        Initiative.Status.SUBMITTED,
        Initiative.Status.REJECTED,
        Initiative.Status.WITHDRAWN,
        Initiative.Status.REVISION,
    ],
)
def test_project_not_on_the_ballot_gets_no_vote(programme, voter, status):
    kwargs = {"rejection_reason": "duplicate"} if status == Initiative.Status.REJECTED else {}
    initiative = make_initiative(programme, status=status, **kwargs)
    assert refused_code(vote_cast, voter=voter, initiative=initiative) == "not_on_ballot"


@pytest.mark.parametrize(
    "case", ["own", "resident", "too_young", "no_birth_date", "stage", "not_on_ballot"]
)
def test_the_vote_statement_itself_enforces_every_rule(city_a, city_b, monkeypatch, case):
    """On PostgreSQL the rules are conditions of the inserting statement: with the Python
    wording of refusals switched off, nothing is recorded all the same."""

    monkeypatch.setattr(voting_services, "_check_vote_rules", lambda *args: None)
    programme = make_programme(city_a, stage="results" if case == "stage" else "voting")
    voter = {
        "resident": make_voter(city_b),
        "too_young": make_user(home_city=city_a, date_of_birth=years_ago(16) + timedelta(days=1)),
        "no_birth_date": make_user(home_city=city_a),
    }.get(case) or make_voter(city_a)
    initiative = make_initiative(
        programme,
        author=voter if case == "own" else None,
        status="submitted" if case == "not_on_ballot" else "accepted",
    )
    assert refused_code(vote_cast, voter=voter, initiative=initiative) == "retry"
    assert not Vote.objects.exists() and not Ballot.objects.exists()


def test_a_vote_needs_no_broker(programme, voter):
    initiative = make_initiative(programme)
    with broker_down():
        cast(voter, initiative)
    assert Vote.objects.filter(voter=voter).count() == 1


def _run_in_threads(target, count: int):
    barrier = threading.Barrier(count)
    results, lock = [], threading.Lock()

    def run(i):
        try:
            barrier.wait(timeout=20)
            outcome = target(i)
        except Refused as exc:
            outcome = exc.code
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcome = repr(exc)
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture(params=["one_statement", "transaction"])
def vote_path(request, monkeypatch):
    """PostgreSQL votes in one statement; the transactional path (SQLite's) is tested too."""

    if request.param == "transaction":

        def in_transaction(*, voter, programme_slug, initiative_pk, notify):
            initiative = Initiative.objects.select_related("programme").get(pk=initiative_pk)
            return voting_services._vote_in_transaction(
                voter=voter, initiative=initiative, notify=notify
            )

        monkeypatch.setattr(voting_services, "_vote_in_one_statement", in_transaction)
    return request.param


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_votes_by_one_voter_never_exceed_the_limit(city_a, vote_path):
    programme = make_programme(city_a, stage="voting", max_votes=5)
    category = make_category(programme, budget="100000000", max_cost="1000000")
    voter = make_voter(city_a)
    initiatives = [make_initiative(programme, category) for _ in range(50)]
    results = _run_in_threads(lambda i: cast(voter, initiatives[i]).pk, 50)
    assert len(results) == 50
    votes = Vote.objects.filter(voter=voter)
    assert votes.count() == 5
    assert sorted(votes.values_list("position", flat=True)) == [1, 2, 3, 4, 5]
    assert sorted(r for r in results if isinstance(r, str)) == ["limit"] * 45


@pytest.mark.django_db(transaction=True)
def test_concurrent_votes_for_one_project_count_once(city_a, vote_path):
    programme = make_programme(city_a, stage="voting", max_votes=5)
    voter = make_voter(city_a)
    initiative = make_initiative(programme)
    results = _run_in_threads(lambda i: cast(voter, initiative).pk, 20)
    assert Vote.objects.filter(voter=voter).count() == 1
    assert sorted(r for r in results if isinstance(r, str)) == ["twice"] * 19


@pytest.mark.django_db(transaction=True)
def test_concurrent_votes_in_one_category_keep_one_per_category(city_a, vote_path):
    programme = make_programme(city_a, stage="voting", max_votes=5, one_per_category=True)
    category = make_category(programme, budget="100000000", max_cost="1000000")
    voter = make_voter(city_a)
    initiatives = [make_initiative(programme, category) for _ in range(20)]
    _run_in_threads(lambda i: cast(voter, initiatives[i]).pk, 20)
    assert Vote.objects.filter(voter=voter).count() == 1
