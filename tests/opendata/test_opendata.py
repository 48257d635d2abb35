"""Open data: every registered public list as CSV, JSON and a paginated API with a valid
OpenAPI 3.1 schema, filters as on the public pages, ETag, open CORS, no personal data, Atom
feeds, and a link on every public list page."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse
from django.utils import timezone
from openapi_spec_validator import validate

from opencity.opendata import registry
from petitions import services as petition_services
from petitions.models import Petition
from tests.initiatives.factories import make_initiative, make_programme
from tests.petitions.factories import make_petition

pytestmark = pytest.mark.django_db

EXPECTED = {
    "petitions", "signature_counts", "programmes", "projects", "results",
    "academy_sessions", "academy_experts", "cities", "eservices", "problems",
}  # fmt: skip


@pytest.fixture
def data(city_a, city_b, citizen):
    lutsk = make_petition(city_a, title="Більше лавок у парку")
    make_petition(city_b, title="Велодоріжка на Головній")
    make_petition(city_a, title="Чернетка", status=Petition.Status.DRAFT)
    petition_services.petition_sign(petition=lutsk.pk, user=citizen)
    programme = make_programme(city_a)
    make_initiative(programme, title="Сквер біля школи")
    return lutsk


def test_every_public_list_is_registered():
    assert {dataset.name for dataset in registry.datasets()} >= EXPECTED


def test_the_openapi_schema_is_valid_3_1_and_lists_every_dataset(client):
    schema = client.get("/api/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    validate(schema)
    for name in EXPECTED:
        assert f"/api/{name}" in schema["paths"]


def test_the_api_docs_are_served_from_local_files(client):
    page = client.get("/api/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert "http://" not in page and "https://" not in page


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_dataset_answers_in_csv_json_and_api(client, data, name):
    csv_response = client.get(f"/opendata/{name}.csv")
    assert csv_response.status_code == 200
    text = b"".join(csv_response.streaming_content).decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(text)))
    assert header == registry.dataset(name).column_names
    payload = json.loads(b"".join(client.get(f"/opendata/{name}.json").streaming_content))
    assert payload["dataset"] == name
    api = client.get(f"/api/{name}")
    assert api.status_code == 200
    assert api["Access-Control-Allow-Origin"] == "*"
    assert api.json()["count"] == len(payload["items"])


def test_public_lists_hold_no_personal_data(client, data, citizen):
    for name in EXPECTED:
        body = b"".join(client.get(f"/opendata/{name}.json").streaming_content).decode()
        assert citizen.email not in body
        assert citizen.full_name not in body  # a signer, not an author


def test_petitions_filter_as_the_public_page_does(client, data, city_a):
    items = client.get("/api/petitions", {"city": city_a.slug}).json()["results"]
    assert [item["title"] for item in items] == ["Більше лавок у парку"]  # no draft, no city B
    bad = client.get("/api/petitions", {"status": "draft"})
    assert bad.status_code == 400 and "status" in bad.json()["error"]
    assert client.get("/opendata/petitions.csv", {"status": "draft"}).status_code == 400


def test_api_pages_with_next_and_previous_links(client, city_a):
    for n in range(5):
        make_petition(city_a, title=f"Петиція {n}")
    first = client.get("/api/petitions", {"page_size": 2}).json()
    assert first["count"] == 5 and len(first["results"]) == 2 and first["previous"] is None
    second = client.get(first["next"]).json()
    assert second["page"] == 2 and second["previous"]
    titles = {r["title"] for r in first["results"]} | {r["title"] for r in second["results"]}
    assert len(titles) == 4
    assert client.get("/api/petitions", {"page_size": 10_000}).status_code == 422


def test_etag_answers_304_until_the_data_changes(client, data, city_a):
    first = client.get("/api/petitions")
    etag = first["ETag"]
    again = client.get("/api/petitions", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and not again.content
    make_petition(city_a, title="Нова петиція")
    changed = client.get("/api/petitions", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


def test_the_api_is_rate_limited_per_address(client, data, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api": (3, 60)}
    codes = [client.get("/api/cities").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_atom_feeds_of_new_petitions_and_responses(client, data, city_a):
    data.published_at = timezone.now()
    Petition.objects.filter(pk=data.pk).update(
        status=Petition.Status.ANSWERED,
        answered_at=timezone.now(),
        response_decision=Petition.Decision.SUPPORTED,
        response_text="Лавки встановимо до літа.",
    )
    feed = client.get("/opendata/feeds/new-petitions.atom")
    assert feed["Content-Type"].startswith("application/atom+xml")
    assert "Більше лавок у парку" in feed.content.decode()
    responses = client.get("/opendata/feeds/petition-responses.atom").content.decode()
    assert "Лавки встановимо до літа." in responses
    assert client.get("/opendata/feeds/programme-results.atom").status_code == 200
    assert client.get("/opendata/feeds/nope.atom").status_code == 404


@pytest.mark.parametrize(
    ("url", "dataset"),
    [
        ("/petitions/", "petitions"),
        ("/initiatives/", "projects"),
        ("/academy/", "academy_sessions"),
        ("/academy/experts/", "academy_experts"),
        ("/cities/", "cities"),
        ("/cities/e-services/", "eservices"),
        ("/problems/", "problems"),
    ],
)
def test_every_public_list_page_links_its_open_data(client, data, url, dataset):
    page = client.get(url).content.decode()
    assert reverse("opendata:csv", args=[dataset]) in page
    assert reverse("opendata:json", args=[dataset]) in page
    assert f"/api/{dataset}" in page


def test_a_programme_page_links_the_open_data_of_its_own_projects(client, data, city_a):
    programme = make_programme(city_a)
    make_initiative(programme, title="Дитячий майданчик")
    page = client.get(programme.get_absolute_url()).content.decode()
    link = f"{reverse('opendata:csv', args=['projects'])}?programme={programme.pk}"
    assert link in page
    assert f"{reverse('opendata:json', args=['projects'])}?programme={programme.pk}" in page
    assert f"/api/projects?programme={programme.pk}" in page
    rows = list(csv.DictReader(io.StringIO(
        b"".join(client.get(link).streaming_content).decode("utf-8-sig")
    )))  # fmt: skip
    assert [row["title"] for row in rows] == ["Дитячий майданчик"]  # not the other programme's


def test_the_experts_directory_is_open_data_without_contacts(client, db):
    from tests.academy.factories import make_expert, make_topic

    topic = make_topic(name_uk="Е-петиції")
    shown = make_expert(full_name="Олена Коваль", headline="Тренерка з е-демократії")
    shown.expertise.add(topic)
    make_expert(full_name="Прихований Експерт", is_public=False)
    make_expert(full_name="Інша Тема")
    page = client.get("/academy/experts/", {"topic": topic.pk}).content.decode()
    assert f"{reverse('opendata:json', args=['academy_experts'])}?topic={topic.pk}" in page
    items = client.get("/api/academy_experts", {"topic": topic.pk}).json()["results"]
    assert items == [
        {
            "slug": shown.slug,
            "full_name": "Олена Коваль",
            "headline": "Тренерка з е-демократії",
            "expertise": "Е-петиції",
        }
    ]
    everything = b"".join(client.get("/opendata/academy_experts.csv").streaming_content).decode()
    assert "Інша Тема" in everything and "Прихований" not in everything
    assert shown.email not in everything and shown.phone not in everything
    assert client.get("/api/academy_experts", {"language": "xx"}).status_code == 400


def test_the_open_data_index_lists_datasets_and_feeds(client, db):
    page = client.get("/opendata/").content.decode()
    for name in EXPECTED:
        assert reverse("opendata:csv", args=[name]) in page
    assert reverse("opendata:feed", args=["new-petitions"]) in page


def test_browsers_may_read_with_if_none_match_from_any_site(client, data):
    preflight = client.options(
        "/api/petitions",
        HTTP_ORIGIN="https://journalist.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="if-none-match",
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "*"
    assert "If-None-Match" in preflight["Access-Control-Allow-Headers"]
    response = client.get("/api/petitions", HTTP_ORIGIN="https://journalist.example")
    assert response["Access-Control-Expose-Headers"] == "ETag"
    assert client.get("/petitions/").get("Access-Control-Allow-Origin") is None
