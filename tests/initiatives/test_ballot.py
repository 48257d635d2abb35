"""Review, confirm, receipt: the whole ballot stored at once, a receipt shown and e-mailed,
replacement until close when the programme allows it, under concurrency; counts hidden."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count
from django.urls import reverse

from initiatives.models import Ballot, Programme, Vote
from initiatives.services import ballot_confirm, ballot_review, results_publish, tally_programme
from opencity.core import Refused
from opencity.core.models import OutboundEmail
from tests.helpers import message_of
from tests.initiatives.factories import make_category, make_initiative, make_programme, make_voter
from tests.initiatives.test_voting import _run_in_threads, refused_code

pytestmark = pytest.mark.django_db


def confirm(voter, programme, initiatives, notify=False):
    return ballot_confirm(
        voter=voter, programme=programme, initiative_ids=[i.pk for i in initiatives], notify=notify
    )


@pytest.fixture
def programme(city_a):
    programme = make_programme(city_a, stage="voting", max_votes=2)
    make_category(programme, name="Малі", budget="1000000", max_cost="500000")
    return programme


@pytest.fixture
def voter(city_a):
    return make_voter(city_a)


def test_confirmed_ballot_is_stored_whole_with_a_receipt_e_mailed(programme, voter):
    first, second = make_initiative(programme, title="Сквер"), make_initiative(programme)
    receipt = confirm(voter, programme, [first, second], notify=True)
    ballot = Ballot.objects.get(voter=voter, programme=programme)
    assert ballot.pk == receipt.ballot_id and ballot.code == receipt.code
    assert len(receipt.code) == 9 and receipt.code[4] == "-"
    assert ballot.confirmed_at == receipt.confirmed_at and ballot.notify
    assert sorted(ballot.votes.values_list("initiative_id", flat=True)) == [first.pk, second.pk]
    email = OutboundEmail.objects.get(to=voter.email)
    assert email.city_id == programme.city_id  # the city's outbox, as staff see it in admin
    assert receipt.code in email.body_text and "Сквер" in email.body_text
    assert str(receipt.ballot_id) in email.body_text


def test_confirmed_ballot_is_final_by_default(programme, voter):
    first, second = make_initiative(programme), make_initiative(programme)
    confirm(voter, programme, [first])
    assert refused_code(confirm, voter=voter, programme=programme, initiatives=[second]) == (
        "voted"
    )
    assert list(Vote.objects.filter(voter=voter).values_list("initiative_id", flat=True)) == [
        first.pk
    ]


def test_ballot_over_the_limit_or_twice_in_a_category_stores_nothing(city_a, voter):
    programme = make_programme(city_a, stage="voting", max_votes=2, one_per_category=True)
    small = make_category(programme)
    large = make_category(programme)
    picks = [make_initiative(programme, small), make_initiative(programme, large)]
    extra = make_initiative(programme, small)
    assert refused_code(confirm, voter=voter, programme=programme, initiatives=[*picks, extra]) == (
        "limit"
    )
    assert refused_code(
        confirm, voter=voter, programme=programme, initiatives=[picks[0], extra]
    ) == ("category")
    assert refused_code(confirm, voter=voter, programme=programme, initiatives=[]) == "empty"
    own = make_initiative(programme, large, author=voter)
    assert refused_code(confirm, voter=voter, programme=programme, initiatives=[own]) == "own"
    assert not Vote.objects.exists() and not Ballot.objects.exists()
    assert not OutboundEmail.objects.exists()


def test_ineligible_voter_is_refused_with_the_reason(programme, city_b):
    initiative = make_initiative(programme)
    outsider = make_voter(city_b)
    assert refused_code(confirm, voter=outsider, programme=programme, initiatives=[initiative]) == (
        "resident"
    )
    young = make_voter(programme.city, age=12)
    assert (
        refused_code(confirm, voter=young, programme=programme, initiatives=[initiative]) == "age"
    )
    assert not Ballot.objects.exists()


def test_a_changeable_ballot_is_replaced_whole(city_a, voter):
    programme = make_programme(city_a, stage="voting", max_votes=2, votes_changeable=True)
    a, b, c = (make_initiative(programme) for _ in range(3))
    old = confirm(voter, programme, [a, b])
    new = confirm(voter, programme, [c])
    assert new.replaced and new.ballot_id == old.ballot_id and new.code != old.code
    assert list(Vote.objects.filter(voter=voter).values_list("initiative_id", flat=True)) == [c.pk]
    assert Ballot.objects.filter(voter=voter).count() == 1
    assert OutboundEmail.objects.filter(to=voter.email).count() == 2
    # A refused replacement keeps the old ballot.
    assert refused_code(confirm, voter=voter, programme=programme, initiatives=[a, b, c]) == "limit"
    assert list(Vote.objects.filter(voter=voter).values_list("initiative_id", flat=True)) == [c.pk]


@pytest.mark.parametrize("path", ["statement", "orm"])
def test_changing_a_ballot_leaves_everyone_else_s_ballot_alone(city_a, path, request):
    if path == "orm":
        request.getfixturevalue("orm_path")
    programme = make_programme(city_a, stage="voting", max_votes=2, votes_changeable=True)
    other_programme = make_programme(city_a, stage="voting", max_votes=2, votes_changeable=True)
    a, b = make_initiative(programme), make_initiative(programme)
    elsewhere = make_initiative(other_programme)
    neighbour, voter = make_voter(city_a), make_voter(city_a)
    confirm(neighbour, programme, [a])
    confirm(voter, other_programme, [elsewhere])
    confirm(voter, programme, [a])
    changed = confirm(voter, programme, [b])
    assert changed.replaced
    assert list(Vote.objects.filter(voter=neighbour).values_list("initiative_id", flat=True)) == [
        a.pk
    ]
    assert sorted(Vote.objects.filter(voter=voter).values_list("initiative_id", flat=True)) == (
        sorted([elsewhere.pk, b.pk])
    )
    assert Ballot.objects.filter(voter=voter).count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_confirmations_at_once_record_one_final_ballot(city_a):
    programme = make_programme(city_a, stage="voting", max_votes=2)
    make_category(programme)
    voter = make_voter(city_a)
    picks = [make_initiative(programme) for _ in range(4)]
    results = _run_in_threads(lambda i: confirm(voter, programme, picks[i % 2 * 2 :][:2]), 8)
    assert sorted(r for r in results if isinstance(r, str)) == ["voted"] * 7
    assert Ballot.objects.filter(voter=voter).count() == 1
    assert Vote.objects.filter(voter=voter).count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_replacements_end_as_one_ballot_within_the_limit(city_a):
    programme = make_programme(city_a, stage="voting", max_votes=3, votes_changeable=True)
    make_category(programme)
    voter = make_voter(city_a)
    picks = [make_initiative(programme) for _ in range(9)]
    results = _run_in_threads(lambda i: confirm(voter, programme, picks[i % 3 * 3 :][:3]), 9)
    assert not [r for r in results if isinstance(r, str)], results
    ballot = Ballot.objects.get(voter=voter)
    votes = list(Vote.objects.filter(voter=voter).values_list("initiative_id", flat=True))
    assert len(votes) == 3 and sorted(votes) in (
        [p.pk for p in picks[k : k + 3]] for k in (0, 3, 6)
    )
    assert ballot.votes.aggregate(n=Count("id"))["n"] == 3


# --- the pages ----------------------------------------------------------------------------------
def test_voter_picks_reviews_against_the_budget_confirms_and_sees_the_receipt(
    client, programme, voter
):
    first = make_initiative(programme, title="Сквер", cost="100000")
    second = make_initiative(programme, title="Лавки", cost="50000")
    client.force_login(voter)
    ballot_url = reverse("initiatives:ballot", args=[programme.slug])
    assert 'name="project"' in client.get(ballot_url).content.decode()
    review = client.post(
        reverse("initiatives:ballot_review", args=[programme.slug]),
        {"project": [first.pk, second.pk], "notify": "on"},
    )
    html = review.content.decode().replace("\xa0", " ")
    assert review.status_code == 200 and "150 000,00" in html and "10 000 000,00" in html
    assert not Ballot.objects.exists(), "the review stores nothing"
    response = client.post(
        reverse("initiatives:ballot_confirm", args=[programme.slug]),
        {"project": [first.pk, second.pk], "notify": "on"},
        follow=True,
    )
    ballot = Ballot.objects.get(voter=voter)
    page = response.content.decode()
    assert ballot.code in page and "Сквер" in page and "Лавки" in page
    assert response.request["PATH_INFO"] == reverse("initiatives:receipt", args=[programme.slug])


def test_refused_review_keeps_the_choice_and_says_why(client, programme, voter):
    picks = [make_initiative(programme) for _ in range(3)]
    client.force_login(voter)
    response = client.post(
        reverse("initiatives:ballot_review", args=[programme.slug]),
        {"project": [p.pk for p in picks]},
    )
    html = response.content.decode()
    assert response.status_code == 400 and "щонайбільше 2" in html
    assert html.count("checked") == 3


def test_refused_confirmation_returns_to_the_ballot_with_the_choice_kept(client, programme, voter):
    picks = [make_initiative(programme) for _ in range(3)]
    client.force_login(voter)
    response = client.post(
        reverse("initiatives:ballot_confirm", args=[programme.slug]),
        {"project": [p.pk for p in picks]},
        follow=True,
    )
    html = response.content.decode()
    assert "щонайбільше 2" in html and html.count("checked") == 3
    assert not Ballot.objects.exists()


def test_confirm_by_anonymous_or_get_records_nothing(client, programme):
    url = reverse("initiatives:ballot_confirm", args=[programme.slug])
    initiative = make_initiative(programme)
    response = client.post(url, {"project": [initiative.pk]})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(make_voter(programme.city))
    assert client.get(url).status_code == 405
    assert not Vote.objects.exists()


def test_too_many_confirmations_get_429(client, programme, voter, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "vote": (1, 60)}
    initiative = make_initiative(programme)
    client.force_login(voter)
    url = reverse("initiatives:ballot_confirm", args=[programme.slug])
    assert client.post(url, {"project": [initiative.pk]}).status_code == 302
    assert client.post(url, {"project": [initiative.pk]}).status_code == 429


def test_receipt_is_only_the_voters_own(client, programme, voter):
    confirm(voter, programme, [make_initiative(programme)])
    client.force_login(make_voter(programme.city))
    assert client.get(reverse("initiatives:receipt", args=[programme.slug])).status_code == 404


# --- counts hidden until the results ------------------------------------------------------------
def _count_visible_everywhere(client, programme, initiative) -> list[bool]:
    detail = client.get(initiative.get_absolute_url())
    listing = client.get("/initiatives/", {"programme": programme.pk, "sort": "votes"})
    return [
        detail.context["show_votes"],
        '<span class="stat">1</span>' in detail.content.decode(),
        "1 голос" in listing.content.decode(),
        any(i.vote_total is not None for i in listing.context["page"]),
    ]


def test_counts_stay_hidden_until_the_results_are_published(client, programme, voter, moderator_a):
    initiative = make_initiative(programme)
    confirm(voter, programme, [initiative])
    assert _count_visible_everywhere(client, programme, initiative) == [False] * 4
    client.force_login(voter)
    assert _count_visible_everywhere(client, programme, initiative) == [False] * 4
    assert client.get(reverse("initiatives:results", args=[programme.slug])).status_code == 404
    assert client.get(reverse("initiatives:results_csv", args=[programme.slug])).status_code == 404
    assert client.get(reverse("initiatives:results_json", args=[programme.slug])).status_code == 404
    snapshot = tally_programme(programme_id=programme.pk, force=True)
    results_publish(snapshot=snapshot, actor=moderator_a)
    assert all(_count_visible_everywhere(client, programme, initiative))


def test_a_programme_may_show_live_counts(client, city_a, voter):
    programme = make_programme(city_a, stage="voting", live_counts=True)
    initiative = make_initiative(programme)
    confirm(voter, programme, [initiative])
    assert all(_count_visible_everywhere(client, programme, initiative))
    assert Programme.objects.get(pk=programme.pk).frozen_rules.live_counts


def _refusal_text(code: str, func, **kwargs) -> str:
    from opencity.core import Refused

    with pytest.raises(Refused) as info:
        func(**kwargs)
    return message_of(info, code)


def test_refusals_tell_the_voter_why_in_words(programme, voter, city_a):
    from initiatives.services import ballot_check_voter

    own = make_initiative(programme, author=voter)
    assert _refusal_text("empty", confirm, voter=voter, programme=programme, initiatives=[]) == (
        "Choose at least one project."
    )
    assert _refusal_text("own", confirm, voter=voter, programme=programme, initiatives=[own]) == (
        "You cannot vote for your own project."
    )
    confirm(voter, programme, [make_initiative(programme)])
    assert _refusal_text(
        "voted", confirm, voter=voter, programme=programme, initiatives=[make_initiative(programme)]
    ) == ("You have already voted in this programme; your vote is final.")
    # with verified eligibility, a programme not yet voting says so before anything else
    later = make_programme(city_a, stage="review", verified_eligibility=True)
    assert _refusal_text("stage", ballot_check_voter, voter=voter, programme=later) == (
        "Voting in this programme is not open."
    )
    verified = make_programme(city_a, stage="voting", verified_eligibility=True)
    assert _refusal_text(
        "anonymous", ballot_check_voter, voter=AnonymousUser(), programme=verified
    ) == ("Sign in to vote.")


def test_the_receipt_read_back_later_is_the_one_shown_at_confirmation(programme, voter):
    from initiatives.services import ballot_receipt

    first = make_initiative(programme, title="Сквер")
    receipt = confirm(voter, programme, [first])
    again = ballot_receipt(voter=voter, programme=programme)
    assert (again.ballot_id, again.confirmed_at, again.code, again.titles) == (
        receipt.ballot_id,
        receipt.confirmed_at,
        receipt.code,
        ["Сквер"],
    )
    assert again.initiative_ids == [first.pk]


@pytest.fixture
def orm_path(monkeypatch):
    """The ORM path the demo's SQLite takes, run here on PostgreSQL."""
    from django.db import connection

    monkeypatch.setattr(connection, "vendor", "sqlite")


def test_the_orm_path_stores_a_ballot_whole_final_and_refuses_like_the_statement(
    orm_path, programme, voter, city_b
):
    first, second, third = (make_initiative(programme, title=f"Проєкт {n}") for n in range(3))
    assert refused_code(
        confirm, voter=voter, programme=programme, initiatives=[first, second, third]
    ) == ("limit")
    outsider = make_voter(city_b)
    assert refused_code(confirm, voter=outsider, programme=programme, initiatives=[first]) == (
        "resident"
    )
    assert not Ballot.objects.exists()
    receipt = confirm(voter, programme, [second, first])
    assert sorted(receipt.titles) == ["Проєкт 0", "Проєкт 1"]
    ballot = Ballot.objects.get(voter=voter, programme=programme)
    assert ballot.pk == receipt.ballot_id and ballot.code == receipt.code
    assert ballot.confirmed_at is not None and ballot.confirmed_at == receipt.confirmed_at
    assert list(ballot.votes.order_by("position").values_list("position", flat=True)) == [1, 2]
    assert refused_code(confirm, voter=voter, programme=programme, initiatives=[third]) == "voted"
    assert ballot.votes.count() == 2


@pytest.mark.parametrize("verified_eligibility", [False, True])
def test_a_voter_without_a_confirmed_address_is_told_so_and_stores_nothing(
    city_a, verified_eligibility
):
    programme = make_programme(
        city_a, stage="voting", max_votes=2, verified_eligibility=verified_eligibility
    )
    make_category(programme)
    unconfirmed = make_voter(city_a, verified=False)
    initiative = make_initiative(programme)
    with pytest.raises(Refused) as info:
        confirm(unconfirmed, programme, [initiative])
    assert message_of(info, "unverified").startswith("Confirm your e-mail address")
    with pytest.raises(Refused) as info:
        ballot_review(voter=unconfirmed, programme=programme, initiative_ids=[initiative.pk])
    assert message_of(info, "unverified").startswith("Confirm your e-mail address")
    assert not Ballot.objects.exists()


def test_a_ballot_no_rule_explains_asks_the_voter_to_try_again(programme, voter):
    """The statement stored nothing and every rule passes on a fresh read (a race the next
    attempt resolves): the voter is asked to try again, not told a wrong reason."""
    from django.utils import timezone

    from initiatives.services.ballots import _raise_why, _rules_for_voting

    initiative = make_initiative(programme)
    today = timezone.localdate()
    with pytest.raises(Refused) as info:
        _raise_why(voter, programme, _rules_for_voting(programme, today), [initiative.pk], today)
    assert message_of(info, "retry") == "Your vote could not be recorded. Please try again."


def test_the_review_lists_picks_in_the_programme_s_category_order_not_by_name(city_a, voter):
    programme = make_programme(city_a, stage="voting", max_votes=3)
    first = make_category(programme, name="Яскраві ідеї", position=1)
    second = make_category(programme, name="Але спершу парки", position=2)
    later = make_initiative(programme, second, title="Парк")
    early_b = make_initiative(programme, first, title="Лавки")
    early_a = make_initiative(programme, first, title="Ліхтарі")
    picks = ballot_review(
        voter=voter, programme=programme, initiative_ids=[later.pk, early_b.pk, early_a.pk]
    )
    assert [p.pk for p in picks] == sorted([early_b.pk, early_a.pk]) + [later.pk]


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
@pytest.mark.parametrize("moment", ["first_minute", "last_minute"])
def test_a_ballot_on_the_first_and_the_last_day_of_voting_is_stored(
    programme, voter, monkeypatch, vendor, moment
):
    """The statement's date window (and the ORM path's) includes both ends, at Kyiv time."""
    import time_machine
    from django.db import connection

    from initiatives.services.rules import programme_freeze_rules
    from tests.initiatives.test_voting_paths import kyiv

    programme_freeze_rules(programme_id=programme.pk)  # the statement reads the frozen days
    project = make_initiative(programme)
    if vendor == "sqlite":
        monkeypatch.setattr(connection, "vendor", "sqlite")
    when = (
        kyiv(programme.voting_opens, 0, 0, 30)
        if moment == "first_minute"
        else kyiv(programme.voting_closes, 23, 59, 30)
    )
    with time_machine.travel(when, tick=False):
        receipt = confirm(voter, programme, [project])
    ballot = Ballot.objects.get(voter=voter, programme=programme)
    assert ballot.pk == receipt.ballot_id and ballot.confirmed_at == when
    assert list(ballot.votes.values_list("initiative_id", flat=True)) == [project.pk]


# --- refusals in words, and what the ballot stores (the full mutation run's survivors) ------


def _refusal(info) -> tuple[str, str]:
    from django.utils import translation

    with translation.override("en"):
        return info.value.code, str(info.value)


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
def test_a_pick_that_is_not_on_this_ballot_is_refused_in_words(
    programme, voter, city_a, monkeypatch, vendor
):
    from django.db import connection

    withdrawn = make_initiative(programme, status="submitted")  # still under review
    elsewhere = make_initiative(make_programme(city_a, stage="voting"))
    if vendor == "sqlite":
        monkeypatch.setattr(connection, "vendor", "sqlite")
    for picks in ([withdrawn], [elsewhere]):
        with pytest.raises(Refused) as info:
            confirm(voter, programme, picks)
        assert _refusal(info) == ("not_on_ballot", "This project is not on the ballot.")
        with pytest.raises(Refused) as info:
            ballot_review(voter=voter, programme=programme, initiative_ids=[picks[0].pk])
        assert _refusal(info) == ("not_on_ballot", "This project is not on the ballot.")
    assert not Ballot.objects.exists()


def test_two_picks_in_one_category_are_refused_in_words(city_a, voter):
    programme = make_programme(city_a, stage="voting", max_votes=3, one_per_category=True)
    small = make_category(programme)
    picks = [make_initiative(programme, small), make_initiative(programme, small)]
    with pytest.raises(Refused) as info:
        confirm(voter, programme, picks)
    assert _refusal(info) == ("category", "Choose at most one project per category.")


def test_a_ballot_outside_voting_is_refused_in_words(city_a, voter):
    programme = make_programme(city_a, stage="review")
    with pytest.raises(Refused) as info:
        confirm(voter, programme, [make_initiative(programme)])
    assert _refusal(info) == ("stage", "Voting in this programme is not open.")


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
def test_the_orm_and_statement_paths_store_the_category_slot_and_a_first_ballot_is_no_replacement(
    city_a, voter, monkeypatch, vendor
):
    """The category slot is what the database's unique (ballot, slot) holds against a second
    vote in a category, even in a race the rule check did not see."""
    from django.db import connection

    programme = make_programme(city_a, stage="voting", max_votes=2, one_per_category=True)
    small, large = make_category(programme), make_category(programme)
    picks = [make_initiative(programme, small), make_initiative(programme, large)]
    if vendor == "sqlite":
        monkeypatch.setattr(connection, "vendor", "sqlite")
    receipt = confirm(voter, programme, picks, notify=True)
    assert receipt.replaced is False
    assert Ballot.objects.get(voter=voter).notify  # the receipt by e-mail, as asked
    stored = Vote.objects.filter(voter=voter).order_by("position")
    assert [(v.category_slot_id, v.created_at) for v in stored] == [
        (small.pk, receipt.confirmed_at),
        (large.pk, receipt.confirmed_at),
    ]


def test_an_inactive_account_may_not_vote(city_a):
    programme = make_programme(city_a, stage="voting", verified_eligibility=True)
    make_category(programme)
    closed = make_voter(city_a)
    closed.is_active = False
    closed.save(update_fields=["is_active"])
    with pytest.raises(Refused) as info:
        confirm(closed, programme, [make_initiative(programme)])
    assert info.value.code == "anonymous"


def test_the_receipt_is_the_confirmed_ballot_of_this_programme_only(programme, voter, city_a):
    from initiatives.services import ballot_receipt

    other = make_programme(city_a, stage="voting")
    make_category(other)
    confirm(voter, other, [make_initiative(other)])
    assert ballot_receipt(voter=voter, programme=programme) is None
    Ballot.objects.create(voter=voter, programme=programme)  # started, never confirmed
    assert ballot_receipt(voter=voter, programme=programme) is None


def test_a_ballot_that_keeps_losing_races_asks_the_voter_to_try_again(
    programme, voter, monkeypatch
):
    from initiatives.services import ballots

    def always_lost(*args):
        raise ballots._LostRace

    monkeypatch.setattr(ballots, "_confirm_once", always_lost)
    with pytest.raises(Refused) as info:
        confirm(voter, programme, [make_initiative(programme)])
    assert _refusal(info) == ("retry", "Your vote could not be recorded. Please try again.")


def test_the_review_shows_only_the_picks_in_category_then_name_order(city_a, voter):
    programme = make_programme(city_a, stage="voting", max_votes=3)
    parks = make_category(programme, name="Парки", position=1)
    benches = make_category(programme, name="Лавки", position=1)  # same place: by name
    chosen = [make_initiative(programme, parks), make_initiative(programme, benches)]
    make_initiative(programme, parks)  # not picked
    picks = ballot_review(voter=voter, programme=programme, initiative_ids=[c.pk for c in chosen])
    assert [p.pk for p in picks] == [chosen[1].pk, chosen[0].pk]
