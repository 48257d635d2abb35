"""The open-data JSON at the address the issue names, /api/petitions.json."""

import json

import pytest

from petitions.models import Petition
from tests.petitions.factories import make_petition

pytestmark = pytest.mark.django_db


def test_api_lists_public_petitions_with_the_list_filters_and_no_emails(client, city_a, city_b):
    public = make_petition(city_a)
    make_petition(city_b)
    make_petition(city_a, status=Petition.Status.DRAFT)
    response = client.get("/api/petitions.json", {"city": city_a.slug})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    data = json.loads(b"".join(response.streaming_content))
    assert [p["id"] for p in data["petitions"]] == [public.pk]
    assert data["petitions"][0]["katottg"] == city_a.katottg
    assert "@" not in json.dumps(data)
