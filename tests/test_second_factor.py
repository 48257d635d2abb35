"""Staff reach admin and the directors' reports only after a second factor (TOTP, WebAuthn or
a recovery code); citizens never need one. Signed in through allauth's real forms."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.test import Client

from tests.factories import PASSWORD
from tests.mfa import add_totp, sign_in_with_second_factor, totp_code

pytestmark = pytest.mark.django_db


def _password_only(user) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


@pytest.mark.parametrize("who", ["moderator_a", "director", "association_staff"])
def test_staff_without_a_second_factor_are_sent_to_set_one_up(request, who):
    user = request.getfixturevalue(who)
    client = _password_only(user)
    for path in ("/admin/", "/reports/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"] == "/accounts/2fa/"
    page = client.get("/accounts/2fa/").content.decode()
    assert "/accounts/2fa/totp/activate/" in page and "/accounts/2fa/webauthn/" in page


def test_a_clerk_with_an_authenticator_app_gives_the_code_then_reaches_admin(moderator_a):
    secret = add_totp(moderator_a)
    client = Client()
    response = client.post("/accounts/login/", {"login": moderator_a.email, "password": PASSWORD})
    assert response["Location"].startswith("/accounts/2fa/authenticate/")
    assert client.get("/admin/")["Location"].startswith("/admin/login/")  # not signed in yet
    wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert wrong.status_code == 200 and wrong.context["form"].errors
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_director_reaches_the_reports_after_the_code(director):
    client = Client()
    sign_in_with_second_factor(client, director)
    assert client.get("/reports/").status_code == 200


def test_a_session_from_before_the_authenticator_must_confirm_it(moderator_a):
    client = _password_only(moderator_a)  # signed in with the password alone
    secret = add_totp(moderator_a)  # then set up an app (e.g. in another session)
    response = client.get("/admin/petitions/")
    assert response["Location"].startswith("/accounts/reauthenticate/") or response[
        "Location"
    ].startswith("/accounts/2fa/reauthenticate/")
    response = client.post(response["Location"], {"code": totp_code(secret)})
    assert response.status_code == 302 and response["Location"] == "/admin/petitions/"
    assert client.get("/admin/").status_code == 200


def test_a_recovery_code_stands_in_for_the_app(moderator_a):
    add_totp(moderator_a)
    codes = RecoveryCodes.activate(moderator_a).get_unused_codes()
    client = Client()
    client.post("/accounts/login/", {"login": moderator_a.email, "password": PASSWORD})
    response = client.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
    assert Authenticator.objects.filter(user=moderator_a).count() == 2


def test_citizens_need_no_second_factor(citizen):
    client = _password_only(citizen)
    assert client.get("/accounts/profile/").status_code == 200
    assert client.get("/petitions/").status_code == 200


def test_the_admin_login_form_hands_over_to_the_login_with_a_second_factor():
    response = Client().get("/admin/login/?next=/admin/petitions/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2Fpetitions%2F"


def test_staff_can_add_a_security_key_after_confirming_their_password(moderator_a):
    client = Client()
    sign_in_with_second_factor(client, moderator_a)
    response = client.get("/accounts/2fa/webauthn/add/")
    assert response["Location"].startswith("/accounts/reauthenticate/")
    response = client.post(response["Location"], {"password": PASSWORD})
    assert response["Location"] == "/accounts/2fa/webauthn/add/"
    page = client.get("/accounts/2fa/webauthn/add/").content.decode()
    assert 'name="credential"' in page and 'id="mfa_webauthn_add"' in page
