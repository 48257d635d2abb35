"""The map's JSON by bounding box, the list's filters, exports and the content policy."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse

from problems import conf, services
from problems.models import Report
from tests.factories import make_user
from tests.problems.factories import file_report

pytestmark = pytest.mark.django_db

LUTSK_BOX = "25.24,50.70,25.42,50.80"


@pytest.fixture
def reports(city_a, potholes):
    reporter = make_user(full_name="Прихована Людина", email="hidden.reporter@example.org")
    return [
        file_report(city_a, potholes, reporter, point=(50.71 + i * 0.01, 25.30), title=f"Яма {i}")
        for i in range(5)
    ]


def test_the_map_endpoint_returns_points_in_the_box(client, reports):
    response = client.get(reverse("problems:map_json"), {"bbox": LUTSK_BOX})
    points = response.json()["points"]
    assert sorted(p[0] for p in points) == sorted(r.pk for r in reports)
    assert all(p[3] == "new" for p in points)
    small = client.get(reverse("problems:map_json"), {"bbox": "25.29,50.705,25.31,50.715"})
    assert [p[0] for p in small.json()["points"]] == [reports[0].pk]


def test_a_busy_box_is_returned_as_clusters(client, reports, monkeypatch):
    monkeypatch.setattr(conf, "MAP_MAX_POINTS", 0)
    data = client.get(reverse("problems:map_json"), {"bbox": LUTSK_BOX}).json()
    assert "points" not in data
    assert sum(c[2] for c in data["clusters"]) == 5


def test_the_map_endpoint_filters_like_the_list(client, reports, moderator_a, potholes, tree_a):
    services.staff_set_status(report=reports[0], actor=moderator_a, to="accepted")
    url = reverse("problems:map_json")
    accepted = client.get(url, {"bbox": LUTSK_BOX, "status": "accepted"}).json()["points"]
    assert [p[0] for p in accepted] == [reports[0].pk]
    by_parent = client.get(url, {"bbox": LUTSK_BOX, "category": tree_a[1].pk}).json()["points"]
    assert len(by_parent) == 5
    by_department = client.get(url, {"bbox": LUTSK_BOX, "department": tree_a[0].pk}).json()
    assert len(by_department["points"]) == 5
    future = client.get(url, {"bbox": LUTSK_BOX, "since": "2999-01-01"}).json()["points"]
    assert future == []


@pytest.mark.parametrize("bbox", ["", "1,2,3", "a,b,c,d", "25,50,24,51", "nan,1,2,3"])
def test_a_bad_box_is_a_clear_error(client, bbox):
    response = client.get(reverse("problems:map_json"), {"bbox": bbox})
    assert response.status_code == 400 and "bbox" in response.json()["error"]


def test_the_list_is_the_accessible_path_with_the_same_filters(
    client, reports, moderator_a, city_a
):
    services.staff_set_status(report=reports[1], actor=moderator_a, to="rejected", reason="Не наше")
    page = client.get(reverse("problems:list"), {"status": "rejected"}).content.decode()
    assert "Яма 1" in page and "Яма 2" not in page
    city_page = client.get(reverse("problems:city", args=[city_a.slug])).content.decode()
    assert all(f"Яма {i}" in city_page for i in range(5))
    assert 'id="problem-map"' in city_page and "<label" in city_page


def test_csv_export_has_public_data_only(client, reports):
    body = b"".join(client.get(reverse("problems:export_csv")).streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0][:3] == ["id", "city", "category"]
    assert len(rows) == 6
    assert "hidden.reporter@example.org" not in body and "Прихована Людина" not in body


def test_geojson_export_is_a_feature_collection_without_personal_data(client, reports):
    response = client.get(reverse("problems:export_geojson"))
    body = b"".join(response.streaming_content).decode()
    data = json.loads(body)
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 5
    feature = data["features"][0]
    assert feature["geometry"]["type"] == "Point"
    lon, lat = feature["geometry"]["coordinates"]
    assert 25 < lon < 26 and 50 < lat < 51
    assert "hidden.reporter@example.org" not in body and "Прихована Людина" not in body


def test_an_anonymous_report_filed_through_open311_keeps_its_contact_private(
    client, city_a, potholes
):
    report = services.report_file(
        data=services.NewReport(
            city=city_a,
            category=potholes,
            title="Яма",
            description="",
            lat=50.75,
            lon=25.33,
            address="",
        ),
        source=Report.Source.OPEN311,
        contact_email="app.user@example.org",
        contact_name="Ірина Мороз",
    )
    page = client.get(report.get_absolute_url()).content.decode()
    assert "app.user@example.org" not in page and "Мороз" not in page


def test_the_content_policy_allows_the_tile_host_only(client, area_a):
    response = client.get(reverse("problems:list"))
    policy = response["Content-Security-Policy"]
    assert "img-src 'self' data: https://tile.openstreetmap.org" in policy
    assert "script-src 'self'" in policy and "unpkg" not in policy
    page = response.content.decode()
    assert "/static/problems/vendor/leaflet/leaflet.js" in page
    assert 'data-tiles="https://tile.openstreetmap.org/{z}/{x}/{y}.png"' in page


def test_the_list_counts_at_most_the_cap(client, reports, monkeypatch):
    monkeypatch.setattr(conf, "LIST_COUNT_CAP", 3)
    page = client.get(reverse("problems:list")).content.decode()
    assert "Понад 3 звернення" in page or "More than 3 reports" in page


def test_the_list_page_runs_a_fixed_number_of_queries(
    client, reports, city_a, tree_a, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("problems:city", args=[city_a.slug])

    def add_categories(names):
        # committed, new categories invalidate the city's catalogue and lists: built again
        with django_capture_on_commit_callbacks(execute=True):
            for name in names:
                tree_a[1].children.create(city=city_a, name_uk=name)

    client.get(url)  # the city's id by its slug is cached from here on, for both counts below
    add_categories(["Підкатегорія 0"])
    with CaptureQueriesContext(connection) as few:
        client.get(url, {"status": "new"})
    add_categories([f"Підкатегорія {i}" for i in range(1, 6)])
    with CaptureQueriesContext(connection) as more:
        client.get(url, {"status": "new"})
    # more categories, no more queries
    assert len(more) == len(few) <= 12, [q["sql"][:120] for q in more.captured_queries]
