"""The demo seeds a few hundred problem reports across two cities, once."""

import pytest

from opencity.accounts import demo as people_demo
from problems import demo
from problems.models import Report
from tests.factories import make_city

pytestmark = pytest.mark.django_db


def test_the_demo_seeds_a_few_hundred_reports_in_two_cities_once():
    make_city(katottg=demo.LUTSK, slug="lutska", name_uk="Луцька", name_en="Lutska")
    make_city(katottg=demo.CHERNIVTSI, slug="chernivetska", name_uk="Чернівецька")
    people_demo.seed(log=lambda *_: None)
    demo.seed(log=lambda *_: None)
    demo.seed(log=lambda *_: None)
    reports = Report.objects.all()
    assert reports.count() == 2 * demo.REPORTS_PER_CITY >= 300
    assert reports.values("city").distinct().count() == 2
    statuses = set(reports.values_list("status", flat=True))
    assert {"new", "accepted", "in_progress", "done", "rejected"} <= statuses
    assert reports.filter(lat__isnull=True).exclude(address="").exists()
