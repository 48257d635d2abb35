"""Problem reports in the public ledger and in open data: filing, status decisions (with the
public rejection reason), moderation and "me too" become leaves without personal data; the
reports are a dataset (CSV, JSON, API) filtered as on /problems/, with an Atom feed."""

from __future__ import annotations

import csv
import io
import json

import pytest

from opencity.ledger import services as ledger
from opencity.ledger.models import Entry
from opencity.opendata import registry
from problems import services
from tests.factories import make_user
from tests.problems.factories import file_report, make_area

pytestmark = pytest.mark.django_db


def leaves() -> list[dict]:
    ledger.sequence_all()
    return [
        json.loads(bytes(d)) for d in Entry.objects.order_by("index").values_list("data", flat=True)
    ]


def test_a_report_s_decisions_and_me_too_become_leaves_without_personal_data(
    city_a, potholes, citizen, moderator_a
):
    ledger.sequence_all()  # whatever the fixtures logged
    start = Entry.objects.count()
    report = file_report(city_a, potholes, citizen, title="Яма біля школи")
    neighbour = make_user()
    assert services.report_support(report=report, user=neighbour)
    services.staff_set_status(report=report, actor=moderator_a, to="accepted", reply="Беремо")
    services.report_hide_text(report=report, actor=moderator_a, reason="Образливі слова")
    services.staff_set_status(
        report=report, actor=moderator_a, to="rejected", reason="Не комунальна ділянка"
    )
    logged = leaves()[start:]
    subject = f"problems.report/{report.pk}"
    assert [(leaf["act"], leaf["subject"]) for leaf in logged] == [
        ("problems.report.filed", subject),
        ("problem.support", subject),
        ("problems.report.accepted", subject),
        ("problems.report.text_hidden", subject),
        ("problems.report.rejected", subject),
    ]
    assert logged[4]["reason"] == "Не комунальна ділянка" and logged[4]["to"] == "rejected"
    assert "reason" not in logged[3]  # the moderator's reason for hiding stays private
    me_too = Entry.objects.get(act="problem.support")
    assert me_too.person_id == neighbour.pk and me_too.receipt_code
    assert logged[1]["person"] == ledger.commitment(bytes(me_too.salt), neighbour.pk)
    everything = b"".join(bytes(d) for d in Entry.objects.values_list("data", flat=True))
    for private in (citizen.email, neighbour.email, moderator_a.email, "Беремо", "Образливі"):
        assert private.encode() not in everything


def test_a_duplicate_leaf_names_its_original(city_a, potholes, citizen, moderator_a):
    original = file_report(city_a, potholes, citizen)
    copy = file_report(city_a, potholes, make_user(), title="Та сама яма")
    services.staff_set_status(report=copy, actor=moderator_a, to="duplicate", duplicate_of=original)
    [leaf] = [leaf for leaf in leaves() if leaf["act"] == "problems.report.duplicate"]
    assert leaf["duplicate_of"] == original.pk and leaf["subject"] == f"problems.report/{copy.pk}"


@pytest.fixture
def reports(city_a, city_b, potholes, citizen, moderator_a):
    shown = file_report(city_a, potholes, citizen, title="Розбитий ліхтар")
    services.report_support(report=shown, user=make_user())
    hidden = file_report(city_a, potholes, citizen, title="Грубі слова в заголовку")
    services.report_hide_text(report=hidden, actor=moderator_a, reason="Образа")
    return shown, hidden


def test_problem_reports_are_a_dataset_and_a_feed():
    assert registry.dataset("problems") is not None
    assert registry.feed("new-problems") is not None


def test_the_csv_and_json_carry_public_columns_only_and_mask_hidden_text(client, reports, citizen):
    shown, hidden = reports
    body = b"".join(client.get("/opendata/problems.csv").streaming_content).decode("utf-8-sig")
    rows = {int(row["id"]): row for row in csv.DictReader(io.StringIO(body))}
    assert rows[shown.pk]["title"] == "Розбитий ліхтар" and rows[shown.pk]["me_too"] == "1"
    assert rows[hidden.pk]["title"] == "" and rows[hidden.pk]["description"] == ""
    assert "Грубі" not in body
    for private in (citizen.email, citizen.full_name, "reporter", "contact"):
        assert private not in body
    data = client.get("/opendata/problems.json")
    assert data.status_code == 200
    text = b"".join(data.streaming_content).decode() if data.streaming else data.content.decode()
    assert "Розбитий ліхтар" in text and "Грубі" not in text and citizen.email not in text


def test_the_api_filters_as_the_list_page_does(client, reports, city_b):
    shown, hidden = reports
    page = client.get("/api/problems", {"status": "new", "page_size": 1}).json()
    assert page["count"] == 2 and len(page["results"]) == 1 and page["next"]
    assert page["results"][0]["id"] == hidden.pk  # newest first, as on /problems/
    make_area(city_b)  # a city the list's filter offers, with no reports
    assert client.get("/api/problems", {"city": city_b.slug}).json()["count"] == 0
    assert client.get("/api/problems", {"city": "nowhere"}).status_code == 400
    assert client.get("/api/problems", {"status": "nonsense"}).status_code == 400
    schema = client.get("/api/openapi.json").json()
    assert "/api/problems" in schema["paths"]


def test_the_atom_feed_lists_new_reports_with_hidden_text_masked(client, reports):
    shown, hidden = reports
    feed = client.get("/opendata/feeds/new-problems.atom")
    assert feed.status_code == 200 and feed["Content-Type"].startswith("application/atom+xml")
    body = feed.content.decode()
    assert "Розбитий ліхтар" in body and shown.get_absolute_url() in body
    assert "Грубі" not in body and hidden.get_absolute_url() in body
