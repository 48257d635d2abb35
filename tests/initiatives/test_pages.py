"""Public pages: list with filters and sorting, programme and initiative pages, the ballot,
the home card, and the selectors other apps call."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from initiatives import selectors
from initiatives.models import Initiative, Programme
from initiatives.services import results_publish, tally_programme, vote_cast
from tests.initiatives.factories import (
    make_category,
    make_district,
    make_initiative,
    make_programme,
    make_voter,
    stage_dates,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def lutsk(city_a):
    programme = make_programme(city_a, stage="voting", title="Бюджет Луцька", max_votes=2)
    make_category(programme, name="Малі")
    return programme


@pytest.fixture
def chernivtsi(city_b):
    programme = make_programme(city_b, stage="voting", title="Бюджет Чернівців")
    make_category(programme, name="Малі")
    return programme


def titles(response) -> list[str]:
    return [item.title for item in response.context["page"]]


def test_index_exists_under_the_nav_name(client):
    assert reverse("initiatives:index") == "/initiatives/"
    assert client.get("/initiatives/").status_code == 200


def test_list_filters_by_city_status_text_and_sorts_by_votes(client, lutsk, chernivtsi, city_a):
    few = make_initiative(lutsk, title="Дитячий майданчик", cost="90000")
    many = make_initiative(lutsk, title="Велодоріжка", cost="200000")
    make_initiative(chernivtsi, title="Сквер у Чернівцях")
    make_initiative(lutsk, title="Прихований", status=Initiative.Status.WITHDRAWN)
    Programme.objects.filter(pk=lutsk.pk).update(live_counts=True)
    for voter in (make_voter(city_a), make_voter(city_a)):
        vote_cast(voter=voter, initiative=many)
    vote_cast(voter=make_voter(city_a), initiative=few)

    everything = client.get("/initiatives/")
    assert "Прихований" not in titles(everything) and len(titles(everything)) == 3
    by_city = client.get("/initiatives/", {"city": city_a.pk, "sort": "votes"})
    assert titles(by_city) == ["Велодоріжка", "Дитячий майданчик"]
    assert titles(client.get("/initiatives/", {"q": "майданч"})) == ["Дитячий майданчик"]
    cheapest = client.get("/initiatives/", {"programme": lutsk.pk, "sort": "cost"})
    assert titles(cheapest) == ["Дитячий майданчик", "Велодоріжка"]
    assert titles(client.get("/initiatives/", {"status": "rejected"})) == []
    assert "2 голоси" in by_city.content.decode()


def test_list_filters_by_category_and_district(client, lutsk):
    district = make_district(lutsk, "Центр")
    large = make_category(lutsk, name="Великі", budget="5000000", max_cost="2000000")
    make_initiative(lutsk, large, title="Великий", district=district)
    make_initiative(lutsk, title="Малий")
    response = client.get("/initiatives/", {"programme": lutsk.pk, "category": large.pk})
    assert titles(response) == ["Великий"]
    response = client.get("/initiatives/", {"programme": lutsk.pk, "district": district.pk})
    assert titles(response) == ["Великий"]


def test_list_runs_a_constant_number_of_queries(client, lutsk):
    for _ in range(3):
        make_initiative(lutsk)
    with CaptureQueriesContext(connection) as few:
        client.get("/initiatives/", {"sort": "votes"})
    for _ in range(10):
        make_initiative(lutsk)
    with CaptureQueriesContext(connection) as more:
        client.get("/initiatives/", {"sort": "votes"})
    assert len(more) == len(few)


def test_programme_page_shows_budget_stages_and_rules(client, lutsk):
    html = client.get(lutsk.get_absolute_url()).content.decode()
    assert "Бюджет Луцька" in html and "Малі" in html and "голосування" in html.lower()


def test_initiative_page_shows_costs_location_and_votes(client, lutsk, city_a):
    initiative = make_initiative(lutsk, title="Велодоріжка", latitude=50.75, longitude=25.33)
    Programme.objects.filter(pk=lutsk.pk).update(live_counts=True)
    vote_cast(voter=make_voter(city_a), initiative=initiative)
    response = client.get(initiative.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert "Велодоріжка" in html and "Роботи" in html and "50.750000" in html
    assert response.context["initiative"].vote_total == 1


def test_votes_are_not_shown_before_voting(client, city_a):
    programme = make_programme(city_a, stage="review")
    initiative = make_initiative(programme)
    response = client.get(initiative.get_absolute_url())
    assert response.status_code == 200 and response.context["show_votes"] is False


def test_withdrawn_initiative_is_visible_to_its_author_and_city_staff_only(
    client, lutsk, citizen, moderator_a, moderator_b
):
    initiative = make_initiative(lutsk, author=citizen, status=Initiative.Status.WITHDRAWN)
    url = initiative.get_absolute_url()
    assert client.get(url).status_code == 404
    client.force_login(moderator_b)
    assert client.get(url).status_code == 404
    client.force_login(moderator_a)
    assert client.get(url).status_code == 200
    client.force_login(citizen)
    assert client.get(url).status_code == 200


def test_ballot_lists_the_projects_and_says_a_confirmed_ballot_is_final(client, lutsk, city_a):
    voter = make_voter(city_a)
    make_initiative(lutsk, title="Обраний")
    make_initiative(lutsk, title="Інший")
    client.force_login(voter)
    response = client.get(reverse("initiatives:ballot", args=[lutsk.slug]))
    html = response.content.decode()
    assert "Обраний" in html and "Інший" in html
    assert "остаточний" in html
    assert html.count('name="project"') == 2


def test_ballot_needs_sign_in(client, lutsk):
    response = client.get(reverse("initiatives:ballot", args=[lutsk.slug]))
    assert response.status_code == 302


def test_voter_opts_in_to_results_emails_on_the_ballot(client, lutsk, city_a):
    voter = make_voter(city_a)
    vote_cast(voter=voter, initiative=make_initiative(lutsk))
    client.force_login(voter)
    client.post(reverse("initiatives:ballot_notify", args=[lutsk.slug]), {"notify": "on"})
    assert voter.budget_ballots.get().notify is True


def test_home_page_shows_the_initiatives_card(client, lutsk):
    make_initiative(lutsk)
    response = client.get("/")
    assert response.status_code == 200
    assert reverse("initiatives:ballot", args=[lutsk.slug]) in response.content.decode()


# --- contract selectors -----------------------------------------------------------------------
def test_home_summary_counts(lutsk):
    make_initiative(lutsk)
    make_initiative(lutsk, status=Initiative.Status.SUBMITTED)
    summary = selectors.home_summary()
    assert summary["on_ballot"] == 1 and summary["open_programmes"] == 1
    assert summary["voting"] == lutsk


def test_open_initiatives_for_city(lutsk, chernivtsi, city_a):
    mine = make_initiative(lutsk)
    make_initiative(chernivtsi)
    make_initiative(lutsk, status=Initiative.Status.SUBMITTED)
    assert selectors.open_initiatives_for_city(city_a) == [mine]


def test_city_activity_counts_submissions_and_funded_projects_in_the_range(
    city_a, city_b, moderator_a
):
    programme = make_programme(city_a, stage="voting", max_votes=3)
    category = make_category(programme, budget="1000", max_cost="1000")
    long_ago = timezone.now() - timedelta(days=400)
    won = make_initiative(programme, category, cost="600")
    make_initiative(programme, category, cost="600")
    make_initiative(programme, category, submitted_at=long_ago)
    vote_cast(voter=make_voter(city_a), initiative=won)
    for field, value in stage_dates("results").items():
        setattr(programme, field, value)
    programme.save()
    results_publish(snapshot=tally_programme(programme_id=programme.pk), actor=moderator_a)
    make_initiative(make_programme(city_b, stage="submission"))
    today = timezone.localdate()
    activity = selectors.city_activity(today - timedelta(days=30), today)
    assert activity[city_a.pk] == {"submitted": 2, "funded": 1}
    assert activity[city_b.pk] == {"submitted": 1, "funded": 0}
    assert selectors.city_activity(date(2000, 1, 1), date(2000, 12, 31)) == {}


def test_demo_data_is_idempotent():
    from initiatives import demo
    from initiatives.models import Programme, Vote
    from opencity.accounts import demo as accounts_demo
    from tests.factories import make_city

    make_city(katottg=demo.LUTSK, name_uk="Луцька")
    make_city(katottg=demo.CHERNIVTSI, name_uk="Чернівецька")
    accounts_demo.seed(log=lambda *_: None)
    demo.seed(log=lambda *_: None)
    counts = (Programme.objects.count(), Initiative.objects.count(), Vote.objects.count())
    demo.seed(log=lambda *_: None)
    assert counts == (2, 10, 6)
    assert (Programme.objects.count(), Initiative.objects.count(), Vote.objects.count()) == counts


def test_staff_hear_about_each_new_stage_once(city_a, moderator_a):
    from initiatives.tasks import announce_stages
    from opencity.core.models import OutboundEmail

    make_programme(city_a, stage="voting")
    assert announce_stages() == 1
    assert announce_stages() == 0
    emails = OutboundEmail.objects.filter(key__startswith="initiatives:stage:")
    assert list(emails.values_list("to", flat=True)) == [moderator_a.email]


def test_list_with_nonsense_filters_still_answers(client, lutsk):
    make_initiative(lutsk, title="Видимий")
    response = client.get(
        "/initiatives/", {"sort": "bogus", "category": "abc", "programme": "99999", "page": "x"}
    )
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()


def test_extend_form_with_a_bad_date_is_shown_again_with_errors(moderator_a_client, lutsk):
    url = reverse("admin:initiatives_programme_extend", args=[lutsk.pk])
    response = moderator_a_client.post(url, {"stage": "voting", "until": "31.02.2027"})
    html = response.content.decode()
    assert response.status_code == 200 and "errorlist" in html and "31.02.2027" in html
