"""City staff in admin: the queue to "done", rejection, duplicates, hiding, scoping; and the
citizens' "me too", following and "is it fixed?"."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from opencity.cities.models import StaffRole
from opencity.core import Refused
from opencity.core.models import AuditEntry, OutboundEmail
from problems import selectors, services
from problems.models import Department, Follow, Photo, ReplyTemplate, Report, Support
from tests.factories import make_city, make_clerk, make_user
from tests.problems.factories import file_report, make_tree, photo_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def report(citizen, city_a, potholes):
    return file_report(city_a, potholes, citizen)


@pytest.fixture
def clerk_client(client, moderator_a):
    client.force_login(moderator_a)
    return client


def _status(client, report, **data):
    return client.post(reverse("admin:problems_report_status", args=[report.pk]), data)


def _status_mails(report) -> list[OutboundEmail]:
    return list(
        OutboundEmail.objects.filter(key__startswith=f"problems:status:{report.pk}:").order_by("id")
    )


def test_staff_take_a_report_through_the_queue_to_done(
    clerk_client, client, report, citizen, moderator_a
):
    follower = make_user(full_name="Сусідка Ліна")
    services.report_follow(report=report, user=follower)
    ReplyTemplate.objects.create(city=report.city, title="Прийнято", text="Бригаду скеровано.")
    template = ReplyTemplate.objects.get()

    assert _status(clerk_client, report, status="accepted", template=template.pk).status_code == 302
    assert _status(clerk_client, report, status="in_progress").status_code == 302
    assert (
        _status(clerk_client, report, status="done", reply="Яму залатано 3 грудня.").status_code
        == 302
    )
    report.refresh_from_db()
    assert report.status == "done" and report.closed_at and report.accepted_at
    assert report.answer_text == "Яму залатано 3 грудня."
    assert report.answered_at is not None and report.answered_on_time is True
    steps = list(
        AuditEntry.objects.filter(object_id=str(report.pk), action__startswith="problems.report.")
        .exclude(action="problems.report.filed")
        .order_by("id")
        .values_list("from_state", "to_state", "actor")
    )
    assert steps == [
        ("new", "accepted", moderator_a.pk),
        ("accepted", "in_progress", moderator_a.pk),
        ("in_progress", "done", moderator_a.pk),
    ]
    # Every change e-mails every follower once (reporter and the neighbour): 3 × 2.
    mails = _status_mails(report)
    assert len(mails) == 6
    assert {m.to for m in mails} == {citizen.email, follower.email}
    assert "Яму залатано" in mails[-1].body_text
    # The public timeline shows each step with the answer, without staff names.
    page = client.get(report.get_absolute_url()).content.decode()
    assert page.count("<li><time") >= 4
    assert "Бригаду скеровано." in page and "Яму залатано 3 грудня." in page
    assert moderator_a.full_name not in page


def test_rejection_requires_a_reason(clerk_client, report):
    response = _status(clerk_client, report, status="rejected", reason="")
    assert response.status_code == 200
    report.refresh_from_db()
    assert report.status == "new"
    with pytest.raises(Refused):
        services.report_transition(report, actor=None, to="rejected", reason="  ")
    assert (
        _status(clerk_client, report, status="rejected", reason="Не комунальна ділянка").status_code
        == 302
    )
    report.refresh_from_db()
    assert report.status == "rejected" and report.rejection_reason == "Не комунальна ділянка"


def test_the_database_refuses_a_rejection_without_reason(report):
    with pytest.raises(IntegrityError), transaction.atomic():
        Report.objects.filter(pk=report.pk).update(status="rejected", rejection_reason="")


def test_a_duplicate_moves_its_followers_to_the_original(report, city_a, potholes, moderator_a):
    other_reporter, supporter = make_user(), make_user()
    duplicate = file_report(city_a, potholes, other_reporter)
    services.report_support(report=duplicate, user=supporter)
    services.staff_set_status(
        report=duplicate, actor=moderator_a, to="duplicate", duplicate_of=report
    )
    followers = set(Follow.objects.filter(report=report).values_list("user_id", flat=True))
    assert {other_reporter.pk, supporter.pk} <= followers
    assert Support.objects.filter(report=report, user=supporter).exists()
    duplicate.refresh_from_db()
    assert duplicate.status == "duplicate" and duplicate.duplicate_of == report


def test_a_stale_status_change_is_refused(report, moderator_a):
    stale = Report.objects.get(pk=report.pk)
    services.staff_set_status(report=report, actor=moderator_a, to="accepted")
    with pytest.raises(Refused):
        services.staff_set_status(report=stale, actor=moderator_a, to="rejected", reason="x")
    assert Report.objects.get(pk=report.pk).status == "accepted"


def test_a_clerk_of_another_city_sees_nothing(client, report, moderator_b):
    client.force_login(moderator_b)
    assert client.get(reverse("admin:problems_report_change", args=[report.pk])).status_code in (
        302,
        404,
    )
    assert _status(client, report, status="accepted").status_code == 404
    changelist = client.get(reverse("admin:problems_report_changelist"))
    assert report.title not in changelist.content.decode()
    with pytest.raises(services.PermissionDenied):
        services.staff_set_status(report=report, actor=moderator_b, to="accepted")
    assert Report.objects.get(pk=report.pk).status == "new"


def test_a_citizen_cannot_reach_the_staff_pages(citizen_client, report):
    response = _status(citizen_client, report, status="accepted")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_overdue_reports_are_highlighted_in_the_queue(clerk_client, report):
    Report.objects.filter(pk=report.pk).update(answer_due=timezone.localdate() - timedelta(days=3))
    page = clerk_client.get(reverse("admin:problems_report_changelist") + "?open=overdue")
    html = page.content.decode()
    assert report.title in html and 'class="errornote"' in html


def test_the_department_queue_lists_its_open_reports(clerk_client, report, tree_a):
    department = tree_a[0]
    url = reverse("admin:problems_report_changelist")
    html = clerk_client.get(f"{url}?department__id__exact={department.pk}&open=1").content.decode()
    assert report.title in html


def test_hidden_text_is_kept_for_audit_but_not_shown(clerk_client, client, report, moderator_a):
    response = clerk_client.post(
        reverse("admin:problems_report_hide_text", args=[report.pk]), {"reason": "Образи"}
    )
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.text_hidden and report.title == "Глибока яма на перехресті"
    entry = AuditEntry.objects.get(object_id=str(report.pk), action="problems.report.text_hidden")
    assert entry.actor == moderator_a and entry.reason == "Образи"
    client.logout()
    page = client.get(report.get_absolute_url()).content.decode()
    assert "Глибока яма" not in page
    export = b"".join(client.get(reverse("problems:export_csv")).streaming_content).decode()
    assert "Глибока яма" not in export


def test_a_hidden_photo_is_not_shown(
    clerk_client, client, citizen, city_a, potholes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        report = file_report(city_a, potholes, citizen, uploads=[photo_upload()])
    photo = Photo.objects.get(report=report)
    assert photo.thumbnail.url in client.get(report.get_absolute_url()).content.decode()
    with django_capture_on_commit_callbacks(execute=True):  # the request's commit
        clerk_client.post(
            reverse("admin:problems_report_hide_photo", args=[report.pk, photo.pk]),
            {"reason": "Обличчя людей"},
        )
    photo.refresh_from_db()
    assert photo.hidden and photo.original.storage.exists(photo.original.name)
    client.logout()
    assert photo.thumbnail.url not in client.get(report.get_absolute_url()).content.decode()
    assert AuditEntry.objects.filter(
        action="problems.photo.hidden", object_id=str(report.pk)
    ).exists()


def test_the_original_photo_is_for_the_citys_staff_only(
    client, citizen, city_a, potholes, moderator_a, moderator_b
):
    report = file_report(city_a, potholes, citizen, uploads=[photo_upload(gps=True)])
    url = reverse("problems:photo_original", args=[report.photos.get().pk])
    client.force_login(moderator_b)
    assert client.get(url).status_code == 404
    client.force_login(citizen)
    assert client.get(url).status_code == 404
    client.force_login(moderator_a)
    assert client.get(url).status_code == 200


# --- me too, follow --------------------------------------------------------------------------


def test_me_too_counts_once_per_person(client, report):
    neighbour = make_user()
    client.force_login(neighbour)
    url = reverse("problems:support", args=[report.pk])
    client.post(url)
    client.post(url)
    assert Support.objects.filter(report=report).count() == 1
    assert selectors.support_count(report) == 1
    assert Follow.objects.filter(report=report, user=neighbour).exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        Support.objects.create(report=report, user=neighbour)


def test_unfollowing_stops_the_e_mails(citizen_client, citizen, report, moderator_a):
    citizen_client.post(reverse("problems:follow", args=[report.pk]), {"follow": "0"})
    services.staff_set_status(report=report, actor=moderator_a, to="accepted")
    assert _status_mails(report) == []


# --- is it fixed? ----------------------------------------------------------------------------


def _done_weeks_ago(report, clerk, weeks: int = 5) -> None:
    services.staff_set_status(report=report, actor=clerk, to="done", reply="Зроблено")
    Report.objects.filter(pk=report.pk).update(closed_at=timezone.now() - timedelta(weeks=weeks))


def test_is_it_fixed_is_asked_once_four_weeks_after_done(report, moderator_a, citizen):
    _done_weeks_ago(report, moderator_a, weeks=3)
    assert services.ask_if_fixed() == 0
    Report.objects.filter(pk=report.pk).update(closed_at=timezone.now() - timedelta(days=29))
    assert services.ask_if_fixed() == 1
    assert services.ask_if_fixed() == 0, "idempotent: no second e-mail"
    mails = OutboundEmail.objects.filter(key__startswith=f"problems:fixed-check:{report.pk}")
    assert [m.to for m in mails] == [citizen.email]


def test_not_fixed_reopens_the_report_once(citizen_client, report, moderator_a):
    url = reverse("problems:fixed", args=[report.pk])
    _done_weeks_ago(report, moderator_a)
    services.ask_if_fixed()
    page = citizen_client.get(report.get_absolute_url()).content.decode()
    assert 'name="fixed"' in page
    citizen_client.post(url, {"fixed": "no"})
    report.refresh_from_db()
    assert report.status == "in_progress" and report.reopened_at is not None
    assert AuditEntry.objects.filter(
        object_id=str(report.pk), action="problems.report.reopened"
    ).exists()
    # Done again, asked again, "no" again: it stays done this time.
    _done_weeks_ago(report, moderator_a)
    services.ask_if_fixed()
    citizen_client.post(url, {"fixed": "no"})
    report.refresh_from_db()
    assert report.status == "done" and report.fixed_answer == "no"
    assert citizen_client.post(url, {"fixed": "no"}).status_code == 302
    assert (
        AuditEntry.objects.filter(
            object_id=str(report.pk), action="problems.report.reopened"
        ).count()
        == 1
    )


def test_only_the_reporter_answers_is_it_fixed(client, report, moderator_a):
    _done_weeks_ago(report, moderator_a)
    services.ask_if_fixed()
    client.force_login(make_user())
    assert (
        client.post(reverse("problems:fixed", args=[report.pk]), {"fixed": "no"}).status_code == 403
    )
    assert Report.objects.get(pk=report.pk).status == "done"


# --- directors' figures ----------------------------------------------------------------------


def test_report_figures_per_city_and_month(city_a, potholes, citizen):
    clerk = make_clerk(city_a, StaffRole.Role.RESPONDER)
    on_time = file_report(city_a, potholes, citizen)
    late = file_report(city_a, potholes, citizen, title="Друга яма")
    file_report(city_a, potholes, citizen, title="Третя яма")
    Report.objects.filter(pk=late.pk).update(answer_due=timezone.localdate() - timedelta(days=1))
    late.refresh_from_db()
    services.staff_set_status(report=on_time, actor=clerk, to="accepted", reply="Прийнято")
    services.staff_set_status(report=late, actor=clerk, to="accepted", reply="Прийнято")
    today = timezone.localdate()
    figures = selectors.report_figures(
        start=today.replace(day=1), end=today + timedelta(days=1), city_ids=[city_a.pk]
    )
    assert len(figures) == 1
    row = figures[0]
    assert (row.city_id, row.reports, row.answered, row.share_on_time) == (city_a.pk, 3, 2, 0.5)
    assert row.median_answer_hours is not None and row.median_answer_hours >= 0


def test_a_clerk_assigns_the_report_to_another_department(clerk_client, client, report, city_a):
    from problems.models import Department

    lighting = Department.objects.create(city=city_a, name_uk="Відділ освітлення")
    response = clerk_client.post(
        reverse("admin:problems_report_assign", args=[report.pk]), {"department": lighting.pk}
    )
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.department == lighting
    assert AuditEntry.objects.filter(
        object_id=str(report.pk), action="problems.report.assigned"
    ).exists()
    client.logout()
    assert "Відділ освітлення" in client.get(report.get_absolute_url()).content.decode()


def test_a_department_of_another_city_cannot_be_assigned(report, city_b, moderator_a):
    from problems.models import Department

    foreign = Department.objects.create(city=city_b, name_uk="Чужий відділ")
    with pytest.raises(Refused):
        services.report_assign(report=report, actor=moderator_a, department=foreign)


def test_the_admin_pages_open_for_staff(client, association_staff, moderator_a, report, tree_a):
    client.force_login(association_staff)
    for name in ("report", "department", "category", "replytemplate", "cityarea", "apiapp"):
        url = reverse(f"admin:problems_{name}_changelist")
        assert client.get(url).status_code == 200, name
    client.force_login(moderator_a)
    clerk_client = client
    change = clerk_client.get(reverse("admin:problems_report_change", args=[report.pk]))
    html = change.content.decode()
    assert change.status_code == 200
    assert "Змінити статус" in html or "Change the status" in html
    assert report.reporter.email in html, "the city sees who filed the report"
    status_page = clerk_client.get(reverse("admin:problems_report_status", args=[report.pk]))
    assert status_page.status_code == 200 and 'name="reply"' in status_page.content.decode()


def test_a_clerk_cannot_issue_open311_keys(clerk_client):
    response = clerk_client.get(reverse("admin:problems_apiapp_changelist"))
    assert response.status_code in (302, 403)


OPEN_REPORTS_CELL = re.compile(r'<td class="field-open_reports">(\d+)</td>')


def _department_list(client, **query: str) -> tuple[str, list[int], int]:
    """The departments' list page, its open-report counts row by row, and how many queries
    it took."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:problems_department_changelist"), query)
    assert response.status_code == 200
    html = response.content.decode()
    return html, [int(count) for count in OPEN_REPORTS_CELL.findall(html)], len(queries)


def test_the_department_list_counts_open_reports_and_filters_by_cities_with_departments(
    association_client, city_a, city_b, citizen, potholes
):
    open_report = file_report(city_a, potholes, citizen)
    done = file_report(city_a, potholes, citizen, title="Ще одна яма")
    Report.objects.filter(pk=done.pk).update(status=Report.Status.DONE)
    make_tree(city_b, email="roads@b.example.org")
    without_departments = make_city(name_uk="Громада без підрозділів")

    html, counts, queries = _department_list(association_client)
    # Two departments: city A's with one open report (the done one is not counted), city B's
    # with none.
    assert sorted(counts) == [0, 1]
    assert open_report.department_id == potholes.department_id
    # The city filter offers the two cities that have departments, not every hromada.
    assert f"city__id__exact={city_a.pk}" in html and f"city__id__exact={city_b.pk}" in html
    assert f"city__id__exact={without_departments.pk}" not in html
    # More departments, more rows: not more queries.
    for n in range(4):
        Department.objects.create(city=city_b, name_uk=f"Відділ {n}", answer_working_days=5)
    _, counts, more_rows_queries = _department_list(association_client)
    assert sorted(counts) == [0] * 5 + [1]
    assert more_rows_queries == queries
    # Sorted by open reports (column 4 after the checkbox), most first, then fewest first.
    assert _department_list(association_client, o="-4")[1] == [1] + [0] * 5
    assert _department_list(association_client, o="4")[1] == [0] * 5 + [1]


def test_a_clerk_sees_only_their_own_citys_departments_and_no_other_city_in_the_filter(
    client, city_admin_a, city_a, city_b, potholes
):
    make_tree(city_b, email="roads@b.example.org")
    client.force_login(city_admin_a)
    html, counts, _ = _department_list(client)
    assert counts == [0]
    assert f"city__id__exact={city_b.pk}" not in html


def test_a_department_without_reports_is_deleted_from_the_list_and_from_its_page(
    association_client, city_a
):
    """The list's query counts open reports; deleting through it still works."""
    listed = Department.objects.create(
        city=city_a, name_uk="Тимчасовий відділ", answer_working_days=5
    )
    url = reverse("admin:problems_department_changelist")
    response = association_client.post(
        url, {"action": "delete_selected", "_selected_action": [listed.pk], "post": "yes"}
    )
    assert response.status_code == 302
    page = Department.objects.create(city=city_a, name_uk="Ще один відділ", answer_working_days=5)
    response = association_client.post(
        reverse("admin:problems_department_delete", args=[page.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Department.objects.filter(pk__in=[listed.pk, page.pk]).exists()
