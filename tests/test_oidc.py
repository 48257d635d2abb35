"""Logging in through the identity provider (issue 16, item 7), against a real OpenID Connect
provider running in the test process (tests/oidc_provider.py) and allauth's real flow:
authorisation with PKCE, the token exchange over HTTP, the signed ID token, userinfo."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from initiatives.models import Ballot
from opencity.accounts.models import User
from opencity.core.models import AuditEntry
from tests.factories import PASSWORD, make_user
from tests.initiatives.factories import make_initiative, make_programme, years_ago
from tests.initiatives.test_ballot import confirm
from tests.oidc_provider import OIDCProvider, new_key, s256

pytestmark = pytest.mark.django_db

PROVIDER_ID = "id-gov-ua"


@pytest.fixture
def provider(settings):
    idp = OIDCProvider().start()
    # What opencity/settings.py builds from the OIDC_* variables, pointed at the test provider.
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "OAUTH_PKCE_ENABLED": True,
            "APPS": [
                {
                    "provider_id": PROVIDER_ID,
                    "name": "ID.gov.ua",
                    "client_id": idp.client_id,
                    "secret": idp.client_secret,
                    "settings": {"server_url": idp.issuer},
                }
            ],
        }
    }
    yield idp
    idp.stop()


def person(city, **claims) -> dict:
    return {
        "sub": "ua-3012345678",
        "email": "olena.koval@example.org",
        "email_verified": True,
        "name": "Олена Коваль",
        "birthdate": years_ago(30).isoformat(),
        "address": {"locality": city.name_uk, "country": "UA"},
        **claims,
    }


def start(client, process: str = "login", next_url: str = ""):
    """The person presses the provider's button: allauth redirects to the provider."""
    data = {"process": process}
    if next_url:
        data["next"] = next_url
    response = client.post(
        reverse("openid_connect_login", kwargs={"provider_id": PROVIDER_ID}), data
    )
    assert response.status_code == 302, response.content
    return response["Location"]


def come_back(client, authorise_url: str):
    """The provider (over HTTP) sends the browser back to the portal's callback."""
    answer = requests.get(authorise_url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlparse(answer.headers["Location"])
    assert back.path == reverse("openid_connect_callback", kwargs={"provider_id": PROVIDER_ID})
    return client.get(f"{back.path}?{back.query}")


def log_in(client, process: str = "login", next_url: str = ""):
    return come_back(client, start(client, process, next_url))


def signed_in_as(client) -> int | None:
    value = client.session.get(SESSION_KEY)
    return int(value) if value is not None else None


def test_oidc_new_person_gets_an_identified_account_through_pkce(client, provider, city_a):
    provider.person = person(city_a)
    authorise_url = start(client)
    query = dict(p.split("=", 1) for p in urlparse(authorise_url).query.split("&"))
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    response = come_back(client, authorise_url)
    assert response.status_code == 302 and not provider.token_errors
    user = User.objects.get(email="olena.koval@example.org")
    assert signed_in_as(client) == user.pk
    assert user.full_name == "Олена Коваль" and user.identity_provider == PROVIDER_ID
    assert user.identity_verified_at is not None
    assert user.verified_birth_date == years_ago(30)
    assert user.verified_address == {"locality": city_a.name_uk, "country": "UA"}
    assert SocialAccount.objects.get(user=user).uid == "ua-3012345678"


def test_oidc_links_an_existing_account_after_its_password_is_confirmed(client, provider, city_a):
    existing = make_user(email="olena.koval@example.org", full_name="Олена Коваль")
    provider.person = person(city_a, email="Olena.Koval@example.org")
    response = log_in(client)
    assert response.status_code == 302 and response["Location"] == reverse("identity_link")
    # Nothing happens before the person confirms: no second account, no link, not signed in.
    assert User.objects.count() == 1 and not SocialAccount.objects.exists()
    assert signed_in_as(client) is None
    page = client.get(reverse("identity_link"))
    assert "olena.koval@example.org" in page.content.decode()
    assert 'name="password"' in page.content.decode()

    wrong = client.post(reverse("identity_link"), {"password": "not-the-password"})
    assert wrong.status_code == 200 and "password" in wrong.context["form"].errors
    assert not SocialAccount.objects.exists() and signed_in_as(client) is None

    done = client.post(reverse("identity_link"), {"password": PASSWORD})
    assert done.status_code == 302
    existing.refresh_from_db()
    assert SocialAccount.objects.get(uid="ua-3012345678").user == existing
    assert existing.identity_verified_at and existing.verified_birth_date == years_ago(30)
    assert signed_in_as(client) == existing.pk
    entry = AuditEntry.objects.get(action="accounts.identity.linked")
    assert entry.actor_id == existing.pk and entry.data == {"provider": PROVIDER_ID}
    assert User.objects.count() == 1


def test_oidc_login_after_linking_goes_straight_in_and_refreshes_the_claims(
    client, provider, city_a, city_b
):
    existing = make_user(email="olena.koval@example.org")
    provider.person = person(city_a)
    log_in(client)
    client.post(reverse("identity_link"), {"password": PASSWORD})
    client.logout()

    provider.person = person(city_b)  # she moved
    response = log_in(client)
    assert response.status_code == 302 and response["Location"] != reverse("identity_link")
    assert signed_in_as(client) == existing.pk
    existing.refresh_from_db()
    assert existing.verified_address["locality"] == city_b.name_uk


def test_oidc_signed_in_owner_links_with_one_button(client, provider, city_a):
    existing = make_user(email="someone.else@example.org")
    client.force_login(existing)
    # Connecting from one's own account: the provider's e-mail need not match.
    provider.person = person(city_a)
    response = log_in(client, process="connect")
    assert response["Location"] == reverse("identity_link")
    page = client.get(reverse("identity_link"))
    assert 'name="password"' not in page.content.decode()
    done = client.post(reverse("identity_link"), {})
    assert done.status_code == 302, done.content.decode()[-3000:]
    existing.refresh_from_db()
    assert SocialAccount.objects.get().user == existing and existing.identity_verified_at


def test_oidc_linked_account_can_vote_where_verified_age_and_residence_are_required(
    client, provider, city_a
):
    programme = make_programme(city_a, stage="voting", verified_eligibility=True)
    voter = make_user(email="olena.koval@example.org")
    provider.person = person(city_a)
    log_in(client)
    client.post(reverse("identity_link"), {"password": PASSWORD})
    voter.refresh_from_db()
    confirm(voter, programme, [make_initiative(programme)])
    assert Ballot.objects.filter(voter=voter).exists()


def test_oidc_cancelled_link_links_nothing(client, provider, city_a):
    make_user(email="olena.koval@example.org")
    provider.person = person(city_a)
    log_in(client)
    response = client.post(reverse("identity_link"), {"cancel": "1"})
    assert response.status_code == 302 and not SocialAccount.objects.exists()
    assert client.get(reverse("identity_link"))["Location"] == reverse("account_login")


@pytest.mark.parametrize("side", ["provider", "portal"])
def test_oidc_unverified_email_never_links(client, provider, city_a, side):
    existing = make_user(email="olena.koval@example.org", verified=side == "provider")
    provider.person = person(city_a, email_verified=side == "portal")
    response = log_in(client)
    assert response.status_code == 302 and response["Location"] != reverse("identity_link")
    assert not SocialAccount.objects.exists() and signed_in_as(client) is None
    existing.refresh_from_db()
    assert existing.identity_verified_at is None and User.objects.count() == 1


@pytest.mark.parametrize(
    ("token_claims", "forged", "says"),
    [
        ({"exp": 1_000_000_000, "iat": 999_999_000}, False, "has expired"),
        ({"aud": "another-portal"}, False, "meant for another site"),
        ({"iss": "http://127.0.0.1:1/impostor"}, False, "did not come from"),
        ({}, True, "could not be verified"),
    ],
    ids=["expired", "wrong-audience", "wrong-issuer", "bad-signature"],
)
def test_oidc_bad_token_is_refused_with_a_clear_message(
    client, provider, city_a, token_claims, forged, says
):
    make_user(email="olena.koval@example.org")
    provider.person = person(city_a)
    provider.token_claims = token_claims
    if forged:
        provider.signing_key = new_key()  # a key the provider's JWKS does not publish
    from django.conf import settings

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the messages as written
    response = log_in(client)
    assert response.status_code == 401
    assert says in response.content.decode()
    assert not SocialAccount.objects.exists() and signed_in_as(client) is None
    assert not User.objects.filter(identity_verified_at__isnull=False).exists()


def test_oidc_code_with_the_wrong_pkce_verifier_is_refused(client, provider, city_a):
    provider.person = person(city_a)
    authorise_url = start(client)
    session = client.session
    for state in session["socialaccount_states"].values():
        state[0]["pkce_code_verifier"] = "an-attacker-does-not-know-the-real-verifier-0123"
    session.save()
    response = come_back(client, authorise_url)
    assert response.status_code == 401
    assert provider.token_errors == ["invalid_grant: PKCE verification failed"]
    assert not User.objects.filter(email="olena.koval@example.org").exists()


def test_oidc_provider_checks_the_verifier_the_portal_sends(provider):
    """The test provider itself refuses a wrong verifier (so the PKCE tests can fail)."""
    verifier = "v" * 50
    provider.person = {"sub": "1"}

    def code() -> str:
        status, headers, _ = provider.authorize(
            {
                "client_id": provider.client_id,
                "response_type": "code",
                "scope": "openid",
                "redirect_uri": "http://testserver/cb",
                "code_challenge": s256(verifier),
                "code_challenge_method": "S256",
                "state": "x",
            }
        )
        return headers["Location"].split("code=")[1].split("&")[0]

    form = {
        "grant_type": "authorization_code",
        "redirect_uri": "http://testserver/cb",
        "client_id": provider.client_id,
        "client_secret": provider.client_secret,
    }
    assert provider.token({**form, "code": code(), "code_verifier": "w" * 50}, "")[0] == 400
    first = code()
    assert provider.token({**form, "code": first, "code_verifier": verifier}, "")[0] == 200
    assert provider.token({**form, "code": first, "code_verifier": verifier}, "")[0] == 400


def test_oidc_profile_offers_to_confirm_identity_and_shows_it_once_done(client, provider, city_a):
    user = make_user(email="someone.else@example.org")
    client.force_login(user)
    page = client.get(reverse("profile")).content.decode()
    login_url = reverse("openid_connect_login", kwargs={"provider_id": PROVIDER_ID})
    assert f'action="{login_url}?process=connect' in page and "ID.gov.ua" in page
    provider.person = person(city_a)
    log_in(client, process="connect", next_url=reverse("profile"))
    done = client.post(reverse("identity_link"), {})
    assert done["Location"] == reverse("profile")
    assert PROVIDER_ID in client.get(reverse("profile")).content.decode()
