"""A service that registers figures in opencity.reports appears in the directors' reports
and on the city profile, without members/ knowing it."""

from datetime import date

import pytest
from django.urls import reverse

from members import reports
from opencity import reports as registry


@pytest.fixture
def problems_registered(monkeypatch, city_a):
    monkeypatch.setattr(registry, "_activity", dict(registry._activity))
    monkeypatch.setattr(registry, "_sections", {k: dict(v) for k, v in registry._sections.items()})
    calls = []

    def per_city(date_from, date_to):
        calls.append((date_from, date_to))
        return {city_a.pk: {"reported": 4, "fixed": 3}}

    registry.register_activity(
        registry.ActivitySource(
            app="problems",
            figures=(
                registry.Figure("reported", "Problems reported"),
                registry.Figure("fixed", "Problems fixed", summary=False),
            ),
            per_city=per_city,
        )
    )

    def open_problems(city):
        calls.append(city)
        return []

    registry.register_section(
        "city",
        registry.Section(
            app="problems", template="petitions/_city_profile.html", items=open_problems
        ),
    )
    return calls


def test_a_registered_service_shows_in_the_period_and_activity_reports(problems_registered, city_a):
    q1 = (date(2024, 1, 1), date(2024, 3, 31))
    summary = dict(reports.period_report(*q1).tables[0].rows)
    assert summary["Problems reported"] == 4
    assert "Problems fixed" not in summary  # per city only
    (table,) = reports.activity_report(*q1).tables
    labels = [column.label for column in table.columns]
    at = labels.index("Problems reported")
    assert labels[at : at + 2] == ["Problems reported", "Problems fixed"]
    row = next(row for row in table.rows if row[0] == city_a.name_uk)
    assert row[at : at + 2] == [4, 3]
    assert problems_registered == [q1, q1]


def test_registering_the_same_service_twice_keeps_one_entry(problems_registered):
    source = next(s for s in registry.activity_sources() if s.app == "problems")
    registry.register_activity(source)
    assert [s.app for s in registry.activity_sources()].count("problems") == 1


def test_a_registered_section_is_on_the_city_profile(problems_registered, client, city_a):
    response = client.get(reverse("members:city_detail", args=[city_a.slug]))
    sections = {s.app: s for s in response.context["sections"]}
    assert list(sections) == ["petitions", "initiatives", "academy", "problems"]
    assert sections["problems"].items == [] and problems_registered == [city_a]
