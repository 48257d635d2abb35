"""Signing staff in with a second factor, through allauth's real login and TOTP forms."""

from __future__ import annotations

import time

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.test import Client

from tests.factories import PASSWORD

DEMO_PASSWORD = "opencity-demo"


def totp_code(secret: str, at: float | None = None) -> str:
    """The code an authenticator app shows now (RFC 6238, 30-second steps)."""
    if at is None and 30 - time.time() % 30 < 2:
        time.sleep(30 - time.time() % 30 + 0.1)  # as a person would: wait for the next code
    counter = int((at or time.time()) // 30)
    return format_hotp_value(hotp_value(secret, counter))


def add_totp(user) -> str:
    """Give `user` an authenticator app; returns its secret."""
    secret = generate_totp_secret()
    Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).delete()
    TOTP.activate(user, secret)
    return secret


def sign_in_with_second_factor(client: Client, user, password: str | None = None) -> None:
    """Password, then a TOTP code, as a person types them; asserts the session is signed in."""
    secret = add_totp(user)
    password = password or (DEMO_PASSWORD if user.email.endswith("@demo.opencity.ua") else PASSWORD)
    response = client.post("/accounts/login/", {"login": user.email, "password": password})
    assert response.status_code == 302, response.content[:500]
    assert response["Location"].startswith("/accounts/2fa/authenticate/"), response["Location"]
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert response.status_code == 302, response.content[:2000]
    assert client.session.get("_auth_user_id") == str(user.pk)


def record_second_factor(client: Client, user) -> None:
    """Mark the client's session as signed in with a second factor (as allauth records it)."""
    from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY

    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": time.time()},
        {"method": "mfa", "at": time.time(), "type": "totp"},
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
