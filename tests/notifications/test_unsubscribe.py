"""One-click unsubscribe (RFC 8058) without a session, forged tokens refused, the settings
page and following through the web."""

import pytest
from django.urls import reverse

from opencity.core.models import OutboundEmail
from opencity.notifications import registry, services
from opencity.notifications.models import Follow, Pace, Preference
from petitions import services as petitions
from petitions.models import Petition
from tests.factories import make_user
from tests.notifications.test_milestones import one_more_signature
from tests.petitions.factories import make_petition

Status = Petition.Status


def unsubscribe_path(email):
    url = email.headers["List-Unsubscribe"].strip("<>")
    return url[url.index("/account/") :]


@pytest.fixture
def milestone_mail(committed, city_a):
    petition = make_petition(city_a, status=Status.COLLECTING, threshold=4)
    follower = make_user()
    services.follow(follower, petition)
    one_more_signature(committed, petition)
    return follower, petition, OutboundEmail.objects.get(to=follower.email)


def test_one_click_unsubscribe_without_a_session_stops_that_kind_only(
    client, committed, milestone_mail, responder_a
):
    follower, petition, email = milestone_mail
    response = client.post(
        unsubscribe_path(email),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert services.paces_for(follower)["petitions.milestone"] == Pace.NONE
    assert services.paces_for(follower)["petitions.answered"] == Pace.IMMEDIATE
    with committed():
        for _ in range(3):
            petitions.petition_sign(petition=petition, user=make_user())
        petitions.petition_tally(petition_id=petition.pk)
    notices = OutboundEmail.objects.filter(to=follower.email, key__startswith="notification:")
    assert notices.count() == 1  # no 50, 75 or 100 % mail
    petition.refresh_from_db()
    with committed():
        petitions.petition_respond(
            petition=petition, actor=responder_a, decision="supported", text="Так."
        )
    assert notices.count() == 2  # the council's answer still arrives


def test_unsubscribe_with_a_forged_token_is_refused_and_changes_nothing(client, milestone_mail):
    follower, _petition, email = milestone_mail
    path = unsubscribe_path(email)
    token = path.rstrip("/").rsplit("/", 1)[1]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    response = client.post(
        path.replace(token, forged),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert "not valid" in response.content.decode() or "недійсн" in response.content.decode()
    assert not Preference.objects.filter(user=follower).exists()


def test_unsubscribe_token_for_another_person_cannot_be_made_by_editing_it(client, city_a):
    victim = make_user()
    from django.core import signing

    forged = signing.dumps({"u": victim.pk, "k": "petitions.milestone"}, salt="other-salt")
    response = client.post(reverse("notifications:unsubscribe", args=[forged]))
    assert response.status_code == 400
    assert not Preference.objects.filter(user=victim).exists()


def test_unsubscribe_link_opened_in_a_browser_only_asks_to_confirm(client, milestone_mail):
    follower, _petition, email = milestone_mail
    response = client.get(unsubscribe_path(email))
    assert response.status_code == 200 and b"<form" in response.content
    assert not Preference.objects.filter(user=follower).exists()


def test_unsubscribe_from_the_digest_stops_every_kind_it_carried(client, city_a):
    user = make_user()
    services.set_pace(user, "petitions.milestone", Pace.DAILY)
    services.set_pace(user, "petitions.closed", Pace.DAILY)
    token = services.unsubscribe_token(user, "digest:daily")
    client.post(reverse("notifications:unsubscribe", args=[token]))
    paces = services.paces_for(user)
    assert paces["petitions.milestone"] == paces["petitions.closed"] == Pace.NONE
    assert paces["petitions.answered"] == Pace.IMMEDIATE


def test_settings_page_shows_and_changes_paces_and_auto_follow(client, citizen, city_a):
    petition = make_petition(city_a, status=Status.COLLECTING)
    services.follow(citizen, petition)
    client.force_login(citizen)
    page = client.get(reverse("notifications:settings"))
    assert page.status_code == 200 and petition.title in page.content.decode()
    form = {"pace_" + kind.key.replace(".", "__"): "immediate" for kind in registry.kinds()}
    form.update(
        pace_petitions__milestone="weekly",
        pace_petitions__closed="none",
        pace_petitions__answered="daily",
    )
    response = client.post(reverse("notifications:settings"), form)
    assert response.status_code == 302
    paces = services.paces_for(citizen)
    assert paces["petitions.milestone"] == "weekly" and paces["petitions.closed"] == "none"
    assert services.auto_follows(citizen) is False  # unticked box


def test_settings_page_keeps_what_was_typed_on_a_bad_value(client, citizen):
    client.force_login(citizen)
    response = client.post(
        reverse("notifications:settings"),
        {"auto_follow": "on", "pace_petitions__milestone": "hourly"},
    )
    assert response.status_code == 200
    assert not Preference.objects.filter(user=citizen).exists()
    assert b'name="auto_follow" checked' in response.content or b"checked" in response.content


def test_settings_page_requires_sign_in(client):
    response = client.get(reverse("notifications:settings"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_follow_and_unfollow_a_petition_through_the_page(client, citizen, city_a):
    petition = make_petition(city_a, status=Status.COLLECTING)
    client.force_login(citizen)
    url = reverse("notifications:follow", args=["petitions.petition", petition.pk])
    assert client.post(url).status_code == 302
    assert Follow.objects.filter(user=citizen, object_id=petition.pk).count() == 1
    client.post(url, {"action": "unfollow"})
    assert not Follow.objects.filter(user=citizen).exists()


def test_following_a_petition_one_may_not_see_answers_404(client, citizen, city_a):
    draft = make_petition(city_a, status=Status.SUBMITTED)
    client.force_login(citizen)
    url = reverse("notifications:follow", args=["petitions.petition", draft.pk])
    assert client.post(url).status_code == 404
    unknown = reverse("notifications:follow", args=["accounts.user", citizen.pk])
    assert client.post(unknown).status_code == 404
    assert not Follow.objects.exists()


@pytest.mark.django_db
def test_the_unsubscribe_link_is_the_unsubscribe_page_with_the_persons_token(citizen, settings):
    from opencity.notifications.services import unsubscribe_token, unsubscribe_urls

    link = unsubscribe_urls("petitions.milestone")(citizen)
    token_of_citizen = unsubscribe_token(citizen, "petitions.milestone")
    assert link == settings.SITE_URL + reverse("notifications:unsubscribe", args=[token_of_citizen])
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert services.read_unsubscribe_token(token) == (citizen, "petitions.milestone")
