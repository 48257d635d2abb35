"""A petition that no longer collects says when collection ended; dates are valid ISO 8601."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from petitions.models import Petition
from tests.petitions.factories import make_petition

pytestmark = pytest.mark.django_db

# HTML's "valid global date and time string": seconds with at most three decimals.
VALID_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,3})?)?(Z|[+-]\d\d:?\d\d)")


def _english_page(client, petition) -> str:
    client.cookies["opencity_language"] = "en"
    response = client.get(petition.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def _fact(html: str, label: str) -> str | None:
    match = re.search(rf"<dt>{label}</dt><dd><time datetime=\"([^\"]+)\">", html)
    return match and match.group(1)


def test_answered_petition_says_collection_ended_on_the_answer_day_not_a_future_date(
    client, city_a
):
    answered_at = timezone.now() - timedelta(days=1)
    petition = make_petition(city_a, status=Petition.Status.ANSWERED, answered_at=answered_at)
    assert petition.collection_ends_at > timezone.now()
    html = _english_page(client, petition)
    assert _fact(html, "Collection ends") is None
    ended = _fact(html, "Collection ended")
    assert ended == timezone.localtime(answered_at).strftime("%Y-%m-%dT%H:%M:%S%z")


def test_closed_petition_says_when_its_period_ended(client, city_a):
    ends = timezone.now() - timedelta(days=2)
    petition = make_petition(city_a, status=Petition.Status.CLOSED, collection_ends_at=ends)
    html = _english_page(client, petition)
    assert _fact(html, "Collection ended") == timezone.localtime(ends).strftime(
        "%Y-%m-%dT%H:%M:%S%z"
    )


def test_collecting_petition_says_when_collection_ends(client, city_a):
    petition = make_petition(city_a)
    html = _english_page(client, petition)
    assert _fact(html, "Collection ends")
    assert _fact(html, "Collection ended") is None


def test_machine_readable_dates_are_valid_iso_8601_without_microseconds(client, city_a):
    petition = make_petition(city_a, status=Petition.Status.ANSWERED, answered_at=timezone.now())
    html = _english_page(client, petition)
    values = re.findall(r'datetime="([^"]*)"', html)
    assert len(values) >= 3
    assert [v for v in values if not VALID_DATETIME.fullmatch(v)] == []


def test_share_links_use_the_public_site_url(client, city_a, settings):
    settings.SITE_URL = "https://opencity.example.org"
    petition = make_petition(city_a)
    html = _english_page(client, petition)
    url = f"https://opencity.example.org/petitions/{petition.pk}/"
    assert f'id="share-url" type="text" readonly value="{url}"' in html
    assert "https%3A%2F%2Fopencity.example.org%2Fpetitions%2F" in html
    assert "127.0.0.1" not in html
