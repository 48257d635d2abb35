import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from opencity.accounts.models import User
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db

SIGNUP = {
    "email": "Oksana@Example.org",
    "full_name": "Оксана Мельник",
    "password1": "a-long-pass-phrase-77",
    "password2": "a-long-pass-phrase-77",
}


@pytest.mark.django_db(transaction=True)
def test_signup_records_full_name_and_sends_a_verification_email(client):
    response = client.post(reverse("account_signup"), SIGNUP)
    assert response.status_code == 302
    user = User.objects.get()
    assert user.email == "oksana@example.org"
    assert user.full_name == "Оксана Мельник"
    assert user.preferred_language == "uk"
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mail.outbox) == 1
    assert re.search(r"/accounts/confirm-email/[^/\s]+/", mail.outbox[0].body)


def test_signup_form_keeps_what_was_typed_on_error(client):
    response = client.post(reverse("account_signup"), {**SIGNUP, "full_name": "<b>Оксана</b>"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "HTML" in body or "розмітки" in body
    assert 'value="Oksana@Example.org"' in body or 'value="oksana@example.org"' in body
    assert User.objects.count() == 0


def test_signup_requires_first_name_and_surname(client):
    response = client.post(reverse("account_signup"), {**SIGNUP, "full_name": "Оксана"})
    assert response.status_code == 200
    assert User.objects.count() == 0


def test_unverified_email_cannot_log_in(client):
    make_user(email="new@example.org", verified=False)
    response = client.post(
        reverse("account_login"), {"login": "new@example.org", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session


def test_verified_user_logs_in_with_any_letter_case(client):
    make_user(email="ivan@example.org")
    response = client.post(
        reverse("account_login"), {"login": "IVAN@example.org", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_email_is_unique_regardless_of_case(db):
    from django.db import IntegrityError

    make_user(email="same@example.org")
    with pytest.raises(IntegrityError):
        User.objects.create(email="SAME@example.org", full_name="Інша Особа")


def test_signup_is_rate_limited(client, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "3/m/ip"}
    codes = []
    for n in range(5):
        data = {**SIGNUP, "email": f"p{n}@example.org"}
        codes.append(client.post(reverse("account_signup"), data).status_code)
    assert codes[:3] == [302, 302, 302]
    assert codes[3:] == [429, 429]


def test_failed_logins_are_rate_limited(client):
    make_user(email="target@example.org")
    for _ in range(6):
        client.post(reverse("account_login"), {"login": "target@example.org", "password": "wrong"})
    # Guessing is stopped: even the right password is refused for a while.
    response = client.post(
        reverse("account_login"), {"login": "target@example.org", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db(transaction=True)
def test_password_reset_sends_mail_for_known_address_only(client):
    make_user(email="known@example.org")
    client.post(reverse("account_reset_password"), {"email": "known@example.org"})
    client.post(reverse("account_reset_password"), {"email": "unknown@example.org"})
    recipients = [m.to[0] for m in mail.outbox]
    assert "known@example.org" in recipients
    # Enumeration is prevented: the unknown address gets a neutral notice, never a reset link.
    for message in mail.outbox:
        if message.to == ["unknown@example.org"]:
            assert "/accounts/password/reset/key/" not in message.body


def test_profile_saves_home_city_and_language(client, citizen, city_b):
    client.force_login(citizen)
    response = client.post(
        reverse("profile"),
        {"full_name": "Тарас Шевчук", "preferred_language": "en", "home_city": city_b.pk},
    )
    assert response.status_code == 302
    citizen.refresh_from_db()
    assert (citizen.preferred_language, citizen.home_city) == ("en", city_b)


def test_profile_requires_login(client):
    response = client.get(reverse("profile"))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


# --- the signed-in user's load (opencity.accounts.backends) ----------------------------------
@pytest.mark.django_db
def test_fast_user_load_gives_the_same_user_as_djangos_backend(city_a):
    from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
    from django.forms.models import model_to_dict

    from opencity.accounts.backends import ModelBackend

    user = make_user(home_city=city_a, full_name="Оксана Петренко")
    fast, slow = ModelBackend().get_user(str(user.pk)), DjangoModelBackend().get_user(user.pk)
    assert type(fast) is User and fast.pk == user.pk and not fast._state.adding
    assert model_to_dict(fast) == model_to_dict(slow)
    assert fast.home_city == city_a  # relations still load on demand


@pytest.mark.django_db
def test_fast_user_load_refuses_unknown_malformed_and_inactive_users():
    from opencity.accounts.backends import AuthenticationBackend

    backend = AuthenticationBackend()
    user = make_user()
    assert backend.get_user(user.pk + 1000) is None
    assert backend.get_user("not-a-number") is None
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert backend.get_user(user.pk) is None


@pytest.mark.django_db
def test_signing_in_with_a_password_uses_the_portals_backend(client):
    from django.contrib.auth import BACKEND_SESSION_KEY

    make_user(email="olena@example.org")
    response = client.post(
        reverse("account_login"), {"login": "olena@example.org", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.session[BACKEND_SESSION_KEY].startswith("opencity.accounts.backends.")
    assert client.get(reverse("profile")).status_code == 200
