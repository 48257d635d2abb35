"""Problem pages come from the page cache (opencity/pagecache.py, problems/pages.py): every
change of a report is visible at once to everyone, counts stay exact, and each visitor's own
parts are theirs alone."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from problems import selectors, services
from problems.models import Category, Report
from tests.factories import make_user
from tests.problems.factories import file_report, photo_upload

pytestmark = pytest.mark.django_db

LUTSK_BOX = "25.24,50.70,25.42,50.80"


@pytest.fixture
def report(citizen, city_a, potholes, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return file_report(city_a, potholes, citizen)


def _visitor(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _page(client: Client, url: str, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


def _me_too(html: str) -> int:
    return int(re.search(r"<dt>[^<]*</dt><dd>(\d+)</dd>\s*</dl>", html).group(1))


def _listed_count(html: str) -> int:
    return int(re.search(r'<p class="meta" role="status">(\d+) ', html).group(1))


def test_a_cached_report_page_is_served_without_the_database(report):
    anonymous = _visitor()
    first = _page(anonymous, report.get_absolute_url())
    with CaptureQueriesContext(connection) as queries:
        again = _page(anonymous, report.get_absolute_url())
    assert again == first and len(queries) == 0


def test_a_status_change_and_answer_are_visible_at_once_to_everyone(
    report, moderator_a, citizen, city_a, django_capture_on_commit_callbacks
):
    anonymous, reporter, stranger = _visitor(), _visitor(citizen), _visitor(make_user())
    city_list = reverse("problems:city", args=[city_a.slug])
    for visitor in (anonymous, reporter, stranger):
        assert "problem-status-new" in _page(visitor, report.get_absolute_url())
    assert _listed_count(_page(anonymous, city_list, status="new")) == 1
    assert _listed_count(_page(anonymous, city_list, status="accepted")) == 0

    with django_capture_on_commit_callbacks(execute=True):
        services.staff_set_status(
            report=report, actor=moderator_a, to="accepted", reply="Бригаду скеровано."
        )

    for visitor in (anonymous, reporter, stranger):
        page = _page(visitor, report.get_absolute_url())
        assert "problem-status-accepted" in page and "Бригаду скеровано." in page
    assert _listed_count(_page(anonymous, city_list, status="new")) == 0
    assert _listed_count(_page(anonymous, city_list, status="accepted")) == 1
    assert "problem-status-accepted" in _page(anonymous, reverse("problems:list"))


def test_me_too_is_counted_exactly_at_once_and_shown_to_the_supporter_only(
    report, client, django_capture_on_commit_callbacks
):
    anonymous = _visitor()
    supporters = [make_user(), make_user()]
    assert _me_too(_page(anonymous, report.get_absolute_url())) == 0
    for n, person in enumerate(supporters, start=1):
        visitor = _visitor(person)
        with django_capture_on_commit_callbacks(execute=True):
            visitor.post(reverse("problems:support", args=[report.pk]))
        assert _me_too(_page(anonymous, report.get_absolute_url())) == n
        assert f"problems/{report.pk}/me-too/" not in _page(visitor, report.get_absolute_url())
    # A second "me too" of the same person changes nothing.
    with django_capture_on_commit_callbacks(execute=True):
        _visitor(supporters[0]).post(reverse("problems:support", args=[report.pk]))
    assert (
        _me_too(_page(anonymous, report.get_absolute_url())) == 2 == selectors.support_count(report)
    )
    # Someone else still gets the button on the same cached page.
    other = _page(_visitor(make_user()), report.get_absolute_url())
    assert f"problems/{report.pk}/me-too/" in other


def test_a_new_report_appears_at_once_in_the_lists_and_on_the_map(
    report, city_a, potholes, citizen, django_capture_on_commit_callbacks
):
    anonymous = _visitor()
    city_list = reverse("problems:city", args=[city_a.slug])
    map_url = reverse("problems:map_json")
    assert _listed_count(_page(anonymous, city_list)) == 1
    assert _listed_count(_page(anonymous, reverse("problems:list"))) == 1
    before = anonymous.get(map_url, {"bbox": LUTSK_BOX, "city": city_a.slug}).json()
    assert [p[0] for p in before["points"]] == [report.pk]

    with django_capture_on_commit_callbacks(execute=True):
        second = file_report(city_a, potholes, citizen, title="Зламаний ліхтар біля школи")

    assert _listed_count(_page(anonymous, city_list)) == 2
    assert "Зламаний ліхтар біля школи" in _page(anonymous, city_list)
    assert _listed_count(_page(anonymous, reverse("problems:list"))) == 2
    after = anonymous.get(map_url, {"bbox": LUTSK_BOX, "city": city_a.slug}).json()
    assert sorted(p[0] for p in after["points"]) == sorted([report.pk, second.pk])
    everywhere = anonymous.get(map_url, {"bbox": LUTSK_BOX}).json()
    assert len(everywhere["points"]) == 2


def test_the_map_tiles_are_shared_and_follow_status_changes(
    report, moderator_a, city_a, django_capture_on_commit_callbacks
):
    anonymous = _visitor()
    url = reverse("problems:map_json")
    params = {"bbox": LUTSK_BOX, "city": city_a.slug, "status": "new"}
    assert [p[0] for p in anonymous.get(url, params).json()["points"]] == [report.pk]
    with CaptureQueriesContext(connection) as queries:
        anonymous.get(url, params)
    assert len(queries) == 0
    with django_capture_on_commit_callbacks(execute=True):
        services.staff_set_status(report=report, actor=moderator_a, to="done", reply="Готово.")
    assert anonymous.get(url, params).json()["points"] == []
    done = anonymous.get(url, {**params, "status": "done"}).json()["points"]
    assert [(p[0], p[3]) for p in done] == [(report.pk, "done")]


def test_a_photo_made_public_by_the_task_appears_on_the_cached_page(
    citizen, city_a, potholes, django_capture_on_commit_callbacks
):
    # Filed without running the queued thumbnail task (it is left to the worker).
    report = file_report(city_a, potholes, citizen, uploads=[photo_upload()])
    anonymous = _visitor()
    assert "problems/thumbs/" not in _page(anonymous, report.get_absolute_url())
    with django_capture_on_commit_callbacks(execute=True):
        assert services.photo_process(report.photos.get().pk)
    assert "problems/thumbs/" in _page(anonymous, report.get_absolute_url())


def test_the_is_it_fixed_question_is_the_reporters_alone_and_reopening_shows_at_once(
    report, moderator_a, citizen, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.staff_set_status(report=report, actor=moderator_a, to="done", reply="Готово.")
        Report.objects.filter(pk=report.pk).update(closed_at=report.created_at - timedelta(days=40))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.ask_if_fixed() == 1
    reporter, anonymous, other = _visitor(citizen), _visitor(), _visitor(make_user())
    fixed_url = reverse("problems:fixed", args=[report.pk])
    assert fixed_url in _page(reporter, report.get_absolute_url())
    assert fixed_url not in _page(anonymous, report.get_absolute_url())
    assert fixed_url not in _page(other, report.get_absolute_url())
    city_list = reverse("problems:city", args=[report.city.slug])
    assert "problem-status-done" in _page(anonymous, city_list)  # cached as done
    with django_capture_on_commit_callbacks(execute=True):
        reporter.post(fixed_url, {"fixed": "no"})
    for visitor in (reporter, anonymous, other):
        page = _page(visitor, report.get_absolute_url())
        assert "problem-status-in_progress" in page and fixed_url not in page
    # the city's list is rebuilt too: the reopened report is not shown as done there
    listed = _page(anonymous, city_list)
    assert "problem-status-in_progress" in listed and "problem-status-done" not in listed


def test_renaming_a_category_in_admin_rebuilds_the_pages(
    report, potholes, city_a, django_capture_on_commit_callbacks
):
    anonymous = _visitor()
    assert "Ями" in _page(anonymous, report.get_absolute_url())
    with django_capture_on_commit_callbacks(execute=True):
        category = Category.objects.get(pk=potholes.pk)
        category.name_uk = "Вибоїни"
        category.save()
    assert "Вибоїни" in _page(anonymous, report.get_absolute_url())
    assert "Вибоїни" in _page(anonymous, reverse("problems:city", args=[city_a.slug]))
    assert [c.name_uk for c in selectors.catalog(city_a.pk).fileable] == ["Вибоїни"]


def test_the_cache_down_still_serves_exact_pages(
    report, moderator_a, monkeypatch, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    from opencity import pagecache

    def broken(*args, **kwargs):
        raise ConnectionError("redis down")

    for name in ("get", "get_many", "set", "set_many", "add"):
        monkeypatch.setattr(cache, name, broken)
    try:
        anonymous = _visitor()
        assert "problem-status-new" in _page(anonymous, report.get_absolute_url())
        with django_capture_on_commit_callbacks(execute=True):
            services.staff_set_status(report=report, actor=moderator_a, to="accepted")
        assert "problem-status-accepted" in _page(anonymous, report.get_absolute_url())
        data = anonymous.get(reverse("problems:map_json"), {"bbox": LUTSK_BOX}).json()
        assert [p[0] for p in data["points"]] == [report.pk]
    finally:
        pagecache.reset_health()


def test_the_reporter_sees_the_question_when_it_is_asked_and_not_after_the_answer(
    report, moderator_a, citizen, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.staff_set_status(report=report, actor=moderator_a, to="done", reply="Готово.")
        Report.objects.filter(pk=report.pk).update(closed_at=report.created_at - timedelta(days=40))
    reporter = _visitor(citizen)
    fixed_url = reverse("problems:fixed", args=[report.pk])
    assert fixed_url not in _page(reporter, report.get_absolute_url())  # cached, not asked
    with django_capture_on_commit_callbacks(execute=True):
        assert services.ask_if_fixed() == 1
    assert fixed_url in _page(reporter, report.get_absolute_url())  # at once
    with django_capture_on_commit_callbacks(execute=True):
        reporter.post(fixed_url, {"fixed": "yes"})
    page = _page(reporter, report.get_absolute_url())
    assert fixed_url not in page and "problem-status-done" in page
