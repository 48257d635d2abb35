"""Open311 GeoReport v2, driven by `georeport` (an Open311 client library from PyPI) over
real HTTP for GET, and by a client written from the spec's examples for POST and tokens
(georeport does not file requests)."""

from __future__ import annotations

import pytest
import requests
import xmltodict
from django.urls import reverse
from georeport import GeoReport

from problems.models import ApiApp, Report
from problems.open311.keys import issue_key
from tests.factories import make_user
from tests.problems.factories import INSIDE, file_report

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def setup(city_a, potholes):
    reporter = make_user(full_name="Приватна Особа", email="private.person@example.org")
    report = file_report(city_a, potholes, reporter, title="Яма біля ринку")
    return city_a, potholes, report, reporter


@pytest.fixture
def api_key(db):
    app = ApiApp(name="Міський застосунок", contact_email="dev@app.example.org")
    key = issue_key(app)
    app.save()
    return key


def _root(live_server) -> str:
    return live_server.url + "/open311/v2"


def test_services_in_json_and_xml_through_an_open311_client(live_server, setup):
    city, potholes, _report, _ = setup
    for fmt in ("json", "xml"):
        client = GeoReport(_root(live_server), jurisdiction=city.slug, output_format=fmt)
        services = client.get_service_list()
        service = services if isinstance(services, dict) else services[0]
        assert service["service_code"] == str(potholes.pk)
        assert service["service_name"] == "Ями"
        assert service["group"] == "Дороги"
        assert str(service["metadata"]).lower() == "false"
        definition = client.get_service_definition(str(potholes.pk))
        assert definition["service_code"] == str(potholes.pk)


def test_requests_get_with_the_standard_filters(live_server, setup, moderator_a):
    city, potholes, report, reporter = setup
    from problems import services

    closed = file_report(city, potholes, reporter, title="Стара яма")
    services.staff_set_status(report=closed, actor=moderator_a, to="done", reply="Залатано")
    client = GeoReport(_root(live_server), jurisdiction=city.slug)
    everything = client.get_service_requests()
    assert {r["service_request_id"] for r in everything} == {str(report.pk), str(closed.pk)}
    open_only = client.get_service_requests(status="open")
    assert [r["service_request_id"] for r in open_only] == [str(report.pk)]
    closed_only = client.get_service_requests(status="closed", service_code=str(potholes.pk))
    assert closed_only[0]["status_notes"] == "Залатано"
    by_id = client.get_service_request(str(report.pk))
    assert by_id["status"] == "open" and by_id["lat"] == INSIDE[0] and by_id["long"] == INSIDE[1]
    assert by_id["agency_responsible"] == "Управління доріг"
    assert (
        client.get_service_requests(
            start_date="2001-01-01T00:00:00Z", end_date="2001-02-01T00:00:00Z"
        )
        == []
    )
    xml_client = GeoReport(_root(live_server), jurisdiction=city.slug, output_format="xml")
    assert xml_client.get_service_request(str(report.pk))["service_request_id"] == str(report.pk)
    # Nothing of the reporter's personal data is in the feed, in either format.
    for fmt in ("json", "xml"):
        body = requests.get(f"{_root(live_server)}/requests.{fmt}", timeout=10).text
        assert "private.person@example.org" not in body and "Приватна Особа" not in body


def test_a_span_over_90_days_is_an_open311_error(live_server, setup):
    response = requests.get(
        f"{_root(live_server)}/requests.json",
        params={"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()[0]["code"] == 400 and "90 days" in response.json()[0]["description"]
    xml = requests.get(f"{_root(live_server)}/requests/999999.xml", timeout=10)
    assert xml.status_code == 404
    assert xmltodict.parse(xml.content)["errors"]["error"]["code"] == "404"


def test_post_a_request_with_an_api_key_then_read_its_token(live_server, setup, api_key):
    city, potholes, _report, _ = setup
    # As in the spec's example: application/x-www-form-urlencoded POST to requests.json.
    response = requests.post(
        f"{_root(live_server)}/requests.json",
        data={
            "api_key": api_key,
            "jurisdiction_id": city.slug,
            "service_code": str(potholes.pk),
            "lat": "50.7500",
            "long": "25.3300",
            "address_string": "вул. Винниченка, 10",
            "email": "app.user@example.org",
            "first_name": "Ірина",
            "last_name": "Мороз",
            "description": "Яма на смузі руху, глибока.",
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body = response.json()[0]
    report = Report.objects.get(pk=int(body["service_request_id"]))
    assert report.source == "open311" and report.contact_email == "app.user@example.org"
    assert report.api_app.name == "Міський застосунок" and report.department is not None
    token = requests.get(f"{_root(live_server)}/tokens/{body['token']}.json", timeout=10).json()
    assert token == [{"service_request_id": str(report.pk), "token": body["token"]}]
    xml = requests.get(f"{_root(live_server)}/tokens/{body['token']}.xml", timeout=10)
    assert xmltodict.parse(xml.content)["service_requests"]["request"]["service_request_id"] == str(
        report.pk
    )
    shown = requests.get(f"{_root(live_server)}/requests/{report.pk}.json", timeout=10).text
    assert "app.user@example.org" not in shown and "Мороз" not in shown


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"api_key": "oc311_wrong"}, 403, "api_key"),
        ({"service_code": "999999"}, 404, "service_code"),
        ({"lat": "48.29", "long": "25.93"}, 400, "outside"),
        ({"lat": "", "long": "", "address_string": ""}, 400, "required"),
        ({"email": "not-an-address"}, 400, "email"),
        ({"description": "<script>alert(1)</script>"}, 400, "plain text"),
    ],
)
def test_post_refuses_bad_requests(live_server, setup, api_key, change, status, words):
    city, potholes, _report, _ = setup
    data = {
        "api_key": api_key,
        "service_code": str(potholes.pk),
        "lat": "50.75",
        "long": "25.33",
        "email": "a@example.org",
        "description": "Яма",
        **change,
    }
    response = requests.post(f"{_root(live_server)}/requests.json", data=data, timeout=10)
    assert response.status_code == status
    assert words in response.json()[0]["description"]
    assert Report.objects.count() == 1


def test_a_deactivated_app_key_stops_working(live_server, setup, api_key):
    ApiApp.objects.update(is_active=False)
    response = requests.post(
        f"{_root(live_server)}/requests.json", data={"api_key": api_key}, timeout=10
    )
    assert response.status_code == 403


def test_association_staff_issue_a_key_in_admin_and_only_its_hash_is_kept(
    association_client,
):
    response = association_client.post(
        reverse("admin:problems_apiapp_add"),
        {"name": "Ремонт-бот", "contact_email": "bot@example.org", "is_active": "on"},
        follow=True,
    )
    text = response.content.decode()
    app = ApiApp.objects.get()
    key = text.split("oc311_", 1)[1].split("<", 1)[0].split()[0]
    assert len(key) > 20
    assert key not in app.key_hash and app.key_prefix.startswith("oc311_")
    from problems.open311.keys import app_for_key

    assert app_for_key("oc311_" + key) == app
