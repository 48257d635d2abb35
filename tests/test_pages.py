import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_home_is_in_ukrainian_by_default(client):
    response = client.get("/")
    body = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="uk">' in body
    assert "Петиції" in body and "Академія" in body


def test_language_switch_to_english(client):
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"}, follow=True)
    body = response.content.decode()
    assert '<html lang="en">' in body
    assert "Petitions" in body


def test_every_page_sets_security_headers(client):
    response = client.get("/")
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_forms_carry_a_csrf_token(client):
    body = client.get(reverse("account_login")).content.decode()
    assert "csrfmiddlewaretoken" in body


def test_city_list_shows_members_and_search_finds_any_hromada(client, city_a, city_b):
    from datetime import date

    from members.models import MembershipEvent

    MembershipEvent.objects.create(
        city=city_a, status="member", effective_on=date(2015, 6, 12), decided_by="founding"
    )
    listed = client.get(reverse("members:city_list")).content.decode()
    assert "Луцька громада" in listed and "Чернівецька громада" not in listed
    found = client.get(reverse("members:city_list"), {"q": "Черн"}).content.decode()
    assert "Чернівецька громада" in found


def test_unknown_page_is_a_translated_404(client, settings):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert '<html lang="uk">' in body and "<h1>Сторінку не знайдено</h1>" in body
    assert "Page not found" not in body
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get("/no-such-page/").content.decode()
    assert "<h1>Page not found</h1>" in english
    assert 'href="/"' in english  # a way back home


def test_health_check(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_a_browser_set_to_english_still_gets_ukrainian(client):
    body = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="uk">' in body


def test_a_signed_in_persons_preferred_language_is_used(client, citizen):
    citizen.preferred_language = "en"
    citizen.save()
    client.force_login(citizen)
    assert '<html lang="en">' in client.get("/").content.decode()


def test_switching_language_is_saved_on_the_profile(client, citizen):
    client.force_login(citizen)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    citizen.refresh_from_db()
    assert citizen.preferred_language == "en"
    client.post(reverse("set_language"), {"language": "uk", "next": "/"})
    citizen.refresh_from_db()
    assert citizen.preferred_language == "uk"
    assert '<html lang="uk">' in client.get("/").content.decode()


def test_switching_to_an_unknown_language_changes_nothing(client, citizen):
    client.force_login(citizen)
    client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    citizen.refresh_from_db()
    assert citizen.preferred_language == "uk"


def test_a_language_cookie_or_profile_naming_no_language_of_ours_means_ukrainian(client, citizen):
    from django.conf import settings

    from opencity.accounts.models import User

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"  # Django speaks it; the portal not
    response = client.get("/")
    assert '<html lang="uk">' in response.content.decode()
    assert response.wsgi_request.LANGUAGE_CODE == "uk"
    del client.cookies[settings.LANGUAGE_COOKIE_NAME]
    User.objects.filter(pk=citizen.pk).update(preferred_language="de")  # not one of ours
    client.force_login(citizen)
    response = client.get(reverse("profile"))
    assert '<html lang="uk">' in response.content.decode()
    # The user the language came from is the plain user from here on, not a lazy wrapper.
    assert type(response.wsgi_request.user) is User


def test_the_request_carries_the_language_chosen(client):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert client.get("/accounts/login/").wsgi_request.LANGUAGE_CODE == "en"
