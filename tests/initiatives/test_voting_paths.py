"""Voting through the path a voter takes, on both ways a vote is recorded: the one statement
PostgreSQL runs, and the transaction used elsewhere (the SQLite demo), run here on PostgreSQL
by presenting the connection as another vendor. First and last day of voting with a frozen
clock (time-machine: it patches the clock for every module at once), the message the vote
page answers with, and every rule's refusal."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.db import connections
from django.urls import reverse
from django.utils import timezone, translation

from initiatives import services
from initiatives.models import Ballot, Initiative, Vote
from opencity.core import Refused
from tests.factories import make_user
from tests.initiatives.factories import (
    make_category,
    make_initiative,
    make_programme,
    make_voter,
    years_ago,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["statement", "transaction"])
def path(request, monkeypatch):
    """Which way the vote is recorded: PostgreSQL's one statement, or the portable
    transaction (the connection presents itself as another vendor)."""
    if request.param == "transaction":
        monkeypatch.setattr(connections["default"], "vendor", "sqlite")
    return request.param


def kyiv(day, hour=0, minute=0, second=0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute, second)))


@pytest.fixture
def programme(city_a):
    programme = make_programme(city_a, stage="voting", max_votes=2, one_per_category=True)
    make_category(programme, name="Малі проєкти")
    make_category(programme, name="Великі проєкти")
    return programme


def refused(voter, initiative, *, language="en") -> tuple[str, str]:
    with pytest.raises(Refused) as info, translation.override(language):
        services.vote_cast(voter=voter, initiative=initiative)
    with translation.override(language):
        return info.value.code, str(info.value)


def test_a_vote_in_the_first_minute_of_the_first_day_is_recorded(path, programme, city_a):
    initiative = make_initiative(programme)
    voter = make_voter(city_a)
    with time_machine.travel(kyiv(programme.voting_opens, 0, 0, 30), tick=False):
        vote = services.vote_cast(voter=voter, initiative=initiative)
    stored = Vote.objects.get(voter=voter)
    assert stored.pk == vote.pk and stored.initiative_id == initiative.pk
    assert stored.created_at == vote.created_at == kyiv(programme.voting_opens, 0, 0, 30)


def test_a_vote_in_the_last_minute_of_the_last_day_is_recorded(path, programme, city_a):
    initiative = make_initiative(programme)
    voter = make_voter(city_a)
    with time_machine.travel(kyiv(programme.voting_closes, 23, 59, 30), tick=False):
        services.vote_cast(voter=voter, initiative=initiative)
    assert Vote.objects.filter(voter=voter, initiative=initiative).count() == 1


@pytest.mark.parametrize("moment", ["day_before", "day_after"])
def test_a_vote_outside_the_voting_days_is_refused(path, programme, city_a, moment):
    initiative = make_initiative(programme)
    voter = make_voter(city_a)
    when = (
        kyiv(programme.voting_opens - timedelta(days=1), 23, 59, 30)
        if moment == "day_before"
        else kyiv(programme.voting_closes + timedelta(days=1), 0, 0, 30)
    )
    with time_machine.travel(when, tick=False):
        code, message = refused(voter, initiative)
    assert (code, message) == ("stage", "Voting in this programme is not open.")
    assert not Vote.objects.exists() and not Ballot.objects.exists()


def test_the_confirmed_ballot_names_the_project_voted_for(client, programme, city_a):
    initiative = make_initiative(programme, title="Сквер біля школи №5")
    voter = make_voter(city_a)
    client.force_login(voter)
    url = reverse("initiatives:ballot_confirm", args=[programme.slug])
    response = client.post(url, {"project": [initiative.pk], "notify": "on"})
    assert response.status_code == 302
    assert response["Location"] == reverse("initiatives:receipt", args=[programme.slug])
    receipt = client.get(response["Location"]).content.decode()
    assert "Сквер біля школи №5" in receipt
    assert Ballot.objects.get(voter=voter).notify is True


def test_confirming_a_project_of_another_programme_stores_nothing(client, programme, city_a):
    other = make_programme(city_a, stage="voting")
    initiative = make_initiative(other)
    client.force_login(make_voter(city_a))
    url = reverse("initiatives:ballot_confirm", args=[programme.slug])
    response = client.post(url, {"project": [initiative.pk]})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("initiatives:ballot", args=[programme.slug]))
    assert not Vote.objects.exists()


def test_vote_cast_for_names_the_initiative_by_programme_and_id(path, programme, city_a):
    initiative = make_initiative(programme, title="Велопарковка")
    voter = make_voter(city_a)
    vote = services.vote_cast_for(
        voter=voter, programme_slug=programme.slug, initiative_pk=initiative.pk, notify=True
    )
    assert vote.initiative.title == "Велопарковка" and vote.position == 1
    assert vote.initiative.pk == vote.initiative_id == initiative.pk
    assert vote.voter_id == voter.pk and vote.programme_id == programme.pk
    assert Ballot.objects.get(voter=voter, programme=programme).notify is True
    with pytest.raises(Initiative.DoesNotExist):
        services.vote_cast_for(voter=voter, programme_slug="no-such", initiative_pk=initiative.pk)


def test_votes_fill_the_ballot_in_order_up_to_the_limit(path, programme, city_a):
    small, large = programme.categories.order_by("position")
    first, second = make_initiative(programme, small), make_initiative(programme, large)
    third = make_initiative(programme, large)
    voter = make_voter(city_a)
    one = services.vote_cast(voter=voter, initiative=first)
    two = services.vote_cast(voter=voter, initiative=second)
    assert (one.position, two.position) == (1, 2)
    assert (one.category_id, two.category_id) == (small.pk, large.pk)
    assert (one.category_slot_id, two.category_slot_id) == (small.pk, large.pk)
    assert one.ballot_id == two.ballot_id == Ballot.objects.get(voter=voter).pk
    assert refused(voter, third) == ("limit", "You have used all your votes in this programme.")
    assert Vote.objects.filter(voter=voter).count() == 2


def test_a_second_vote_in_a_category_is_refused_when_one_per_category(path, programme, city_a):
    small = programme.categories.order_by("position").first()
    first, second = make_initiative(programme, small), make_initiative(programme, small)
    voter = make_voter(city_a)
    services.vote_cast(voter=voter, initiative=first)
    assert refused(voter, second) == ("category", "You have already voted in this category.")


def test_two_votes_in_a_category_are_allowed_without_the_rule(path, city_a):
    programme = make_programme(city_a, stage="voting", max_votes=3, one_per_category=False)
    category = make_category(programme)
    first, second = make_initiative(programme, category), make_initiative(programme, category)
    voter = make_voter(city_a)
    services.vote_cast(voter=voter, initiative=first)
    vote = services.vote_cast(voter=voter, initiative=second)
    assert vote.position == 2 and vote.category_slot_id is None


def test_a_second_vote_for_the_same_project_is_refused(path, programme, city_a):
    initiative = make_initiative(programme)
    voter = make_voter(city_a)
    services.vote_cast(voter=voter, initiative=initiative)
    assert refused(voter, initiative) == ("twice", "You have already voted for this project.")


def test_an_unverified_address_cannot_vote_and_gets_no_ballot(path, programme, city_a):
    initiative = make_initiative(programme)
    voter = make_voter(city_a, verified=False)
    code, message = refused(voter, initiative)
    assert (code, message) == ("unverified", "Confirm your e-mail address before voting.")
    assert not Ballot.objects.exists()


def test_the_author_cannot_vote_for_their_own_project(path, programme, city_a):
    author = make_voter(city_a)
    initiative = make_initiative(programme, author=author)
    assert refused(author, initiative) == ("own", "You cannot vote for your own project.")


@pytest.mark.parametrize(
    "status", [Initiative.Status.SUBMITTED, Initiative.Status.REVISION, Initiative.Status.WITHDRAWN]
)
def test_a_project_not_on_the_ballot_cannot_get_votes(path, programme, city_a, status):
    initiative = make_initiative(programme, status=status)
    code, message = refused(make_voter(city_a), initiative)
    assert (code, message) == ("not_on_ballot", "This project is not on the ballot.")


def test_a_non_resident_is_told_to_set_the_home_city(path, programme, city_a, city_b):
    initiative = make_initiative(programme)
    code, message = refused(make_voter(city_b), initiative)
    assert code == "resident"
    assert message == "Only residents of Lutska may vote. Set your home city in your profile."


def test_a_non_resident_votes_where_residence_is_not_required(path, city_a, city_b):
    programme = make_programme(city_a, stage="voting", residents_only=False)
    initiative = make_initiative(programme)
    services.vote_cast(voter=make_voter(city_b), initiative=initiative)
    assert Vote.objects.filter(initiative=initiative).count() == 1


def test_a_voter_turning_the_minimum_age_today_may_vote(path, programme, city_a):
    initiative = make_initiative(programme)
    voter = make_user(home_city=city_a, date_of_birth=years_ago(16))
    services.vote_cast(voter=voter, initiative=initiative)
    assert Vote.objects.filter(voter=voter).exists()


def test_a_voter_one_day_short_of_the_minimum_age_is_refused(path, programme, city_a):
    initiative = make_initiative(programme)
    voter = make_user(home_city=city_a, date_of_birth=years_ago(16) + timedelta(days=1))
    assert refused(voter, initiative) == ("age", "Voters must be at least 16 years old.")


def test_a_voter_without_a_birth_date_is_asked_for_it(path, programme, city_a):
    initiative = make_initiative(programme)
    voter = make_user(home_city=city_a)
    code, message = refused(voter, initiative)
    assert code == "age_unknown"
    assert message == "Add your date of birth to your profile: voters must be at least 16."


def test_without_an_age_rule_anyone_votes(path, city_a):
    programme = make_programme(city_a, stage="voting", min_voter_age=0)
    initiative = make_initiative(programme)
    services.vote_cast(voter=make_user(home_city=city_a), initiative=initiative)
    assert Vote.objects.filter(initiative=initiative).count() == 1


def test_opting_in_later_keeps_the_ballot_and_sets_notify(path, programme, city_a):
    small, large = programme.categories.order_by("position")
    voter = make_voter(city_a)
    services.vote_cast(voter=voter, initiative=make_initiative(programme, small), notify=False)
    assert Ballot.objects.get(voter=voter).notify is False
    services.vote_cast(voter=voter, initiative=make_initiative(programme, large), notify=True)
    assert Ballot.objects.get(voter=voter).notify is True
    assert Ballot.objects.filter(voter=voter).count() == 1


def test_the_age_is_counted_in_whole_years_up_to_the_birthday():
    from datetime import date

    from initiatives.services._common import age_on

    assert age_on(date(2010, 6, 15), date(2026, 6, 15)) == 16
    assert age_on(date(2010, 6, 15), date(2026, 6, 14)) == 15
    assert age_on(date(2010, 6, 15), date(2026, 5, 20)) == 15
    assert age_on(date(2010, 6, 15), date(2026, 7, 1)) == 16


def test_an_inactive_account_is_asked_to_sign_in(programme, city_a):
    voter = make_voter(city_a, is_active=False)
    with pytest.raises(Refused) as info, translation.override("en"):
        services.vote_check_voter(voter=voter, programme=programme)
    with translation.override("en"):
        assert (info.value.code, str(info.value)) == ("anonymous", "Sign in to vote.")


def test_an_inactive_account_cannot_vote_and_gets_no_ballot(path, programme, city_a):
    initiative = make_initiative(programme)
    voter = make_voter(city_a, is_active=False)
    assert refused(voter, initiative) == ("anonymous", "Sign in to vote.")
    assert not Vote.objects.exists() and not Ballot.objects.exists()


def test_an_account_deactivated_since_it_was_read_cannot_vote_in_one_statement(programme, city_a):
    """The statement itself checks the account, not only the user object the request holds."""
    initiative = make_initiative(programme)
    voter = make_voter(city_a)
    type(voter).objects.filter(pk=voter.pk).update(is_active=False)
    assert voter.is_active  # the copy read before the account was deactivated
    with pytest.raises(Refused) as info:
        services.vote_cast(voter=voter, initiative=initiative)
    assert info.value.code == "retry"
    assert not Vote.objects.exists() and not Ballot.objects.exists()


def test_the_ballot_check_tells_an_unverified_address_to_confirm_it(programme, city_a):
    voter = make_voter(city_a, verified=False)
    with pytest.raises(Refused) as info, translation.override("en"):
        services.vote_check_voter(voter=voter, programme=programme)
    with translation.override("en"):
        assert (info.value.code, str(info.value)) == (
            "unverified",
            "Confirm your e-mail address before voting.",
        )
    services.vote_check_voter(voter=voter, programme=programme, check_email=False)
