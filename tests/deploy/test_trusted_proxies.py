"""Rate limits key on the visitor, not on the proxy, and a forged X-Forwarded-For is ignored.

Visitors are told apart by their source address on the loopback network (127.0.0.2,
127.0.0.3, …); nginx itself connects to the application from 127.0.0.1, the listed proxy.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import pytest
from django.test import Client

from petitions.models import Signature
from tests.deploy.conftest import http_request
from tests.factories import make_user
from tests.petitions.factories import make_petition

pytestmark = pytest.mark.django_db(transaction=True)

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PROXY = (ipaddress.ip_network("127.0.0.1/32"),)


@pytest.fixture
def proxied(settings, live_server, nginx):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "opencity.example.org"]
    settings.TRUSTED_PROXIES = PROXY
    return nginx(urlsplit(live_server.url).port)


def _login_attempt(send, source: str, forged: str | None = None) -> int:
    """A wrong password posted through the login form; returns the HTTP status."""
    headers = {"X-Forwarded-For": forged} if forged else {}
    page = send("GET", "/accounts/login/", source=source, headers=headers)
    token = CSRF_INPUT.search(page.text).group(1)
    answer = send(
        "POST", "/accounts/login/", source=source, headers=headers,
        cookies={"csrftoken": page.cookies()["csrftoken"]},
        form={"csrfmiddlewaretoken": token, "login": "nobody@example.org", "password": "wrong"},
    )  # fmt: skip
    return answer.status


def test_sign_in_limits_count_each_visitor_behind_nginx_and_ignore_a_forged_header(
    settings, proxied
):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "3/m/ip"}

    def send(method, path, **kwargs):
        return http_request(method, "127.0.0.1", proxied.https_port, path, tls=True, **kwargs)

    # An abuser from 127.0.0.2 forges a fresh X-Forwarded-For on every attempt: still limited.
    statuses = [_login_attempt(send, "127.0.0.2", forged=f"203.0.113.{n}") for n in range(5)]
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3:] == [429, 429]
    # Everyone else behind the same proxy can still sign in.
    assert _login_attempt(send, "127.0.0.3") == 200
    assert _login_attempt(send, "127.0.0.4") == 200


def test_a_forged_header_sent_straight_to_the_application_is_ignored(
    settings, proxied, live_server
):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "2/m/ip"}
    port = urlsplit(live_server.url).port

    def direct(method, path, **kwargs):
        return http_request(method, "127.0.0.1", port, path, **kwargs)

    # 127.0.0.5 is not a listed proxy, so its X-Forwarded-For names nobody.
    statuses = [_login_attempt(direct, "127.0.0.5", forged=f"198.51.100.{n}") for n in range(3)]
    assert statuses == [200, 200, 429]


def test_without_listed_proxies_every_visitor_shares_nginx_address(settings, proxied):
    """The failure the setting exists for: one abuser locks everyone out."""
    settings.TRUSTED_PROXIES = ()
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "2/m/ip"}

    def send(method, path, **kwargs):
        return http_request(method, "127.0.0.1", proxied.https_port, path, tls=True, **kwargs)

    assert [_login_attempt(send, "127.0.0.2") for _ in range(2)] == [200, 200]
    assert _login_attempt(send, "127.0.0.3") == 429


def test_signing_limit_per_address_counts_the_visitor_behind_nginx(settings, proxied, city_a):
    """The project's limiter (opencity/ratelimit.py) keys its per-address limit the same way."""
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "sign": (2, 60)}
    settings.RATE_LIMIT_ADDRESS_FACTOR = 1  # two signatures a minute from one address
    petition = make_petition(city_a)
    signers = [make_user(full_name=f"Підписант {n}") for n in range(4)]

    def sign(user, source: str, forged: str | None = None) -> int:
        client = Client()
        client.force_login(user)
        session = {"sessionid": client.cookies["sessionid"].value}
        headers = {"X-Forwarded-For": forged} if forged else {}
        path = petition.get_absolute_url()
        page = http_request(
            "GET", "127.0.0.1", proxied.https_port, path, tls=True, source=source,
            headers=headers, cookies=session,
        )  # fmt: skip
        token = CSRF_INPUT.search(page.text).group(1)
        answer = http_request(
            "POST", "127.0.0.1", proxied.https_port, f"/petitions/{petition.pk}/sign/", tls=True,
            source=source, headers=headers,
            cookies={**session, "csrftoken": page.cookies()["csrftoken"]},
            form={"csrfmiddlewaretoken": token},
        )  # fmt: skip
        return answer.status

    # Three people behind one address (forging the header each time): the third is refused...
    assert [sign(user, "127.0.0.2", f"203.0.113.{n}") for n, user in enumerate(signers[:3])] == [
        302, 302, 429,
    ]  # fmt: skip
    # ...while a visitor at another address behind the same nginx signs.
    assert sign(signers[3], "127.0.0.3") == 302
    signed = set(Signature.objects.filter(petition=petition).values_list("user_id", flat=True))
    assert {signers[0].pk, signers[1].pk, signers[3].pk} <= signed
    assert signers[2].pk not in signed
