"""Problem figures reach the directors' reports through the core's registry
(members/ knows nothing of problems/)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from members import reports
from problems import services
from problems.models import Report
from tests.problems.factories import file_report


def test_the_activity_report_counts_filed_answered_and_on_time_problem_reports(
    citizen, city_a, potholes, moderator_a
):
    answered = file_report(city_a, potholes, citizen)
    file_report(city_a, potholes, citizen, title="Ще одна яма біля школи")
    services.report_transition(answered, to="accepted", actor=moderator_a)
    # The department answered three hours after filing.
    Report.objects.filter(pk=answered.pk).update(
        created_at=answered.created_at - timedelta(hours=3)
    )
    answered.refresh_from_db()
    services.report_transition(
        answered, to="in_progress", actor=moderator_a, reply="Бригаду скеровано."
    )
    today = timezone.localdate()

    (table,) = reports.activity_report(today - timedelta(days=1), today).tables
    labels = [str(column.label) for column in table.columns]
    row = dict(zip(labels, next(r for r in table.rows if r[0] == city_a.name_uk), strict=True))
    assert row["Подано повідомлень про проблеми"] == 2
    assert row["Повідомлень про проблеми з відповіддю"] == 1
    assert row["Проблем із відповіддю вчасно"] == 1
    assert row["Медіана годин до відповіді"] == Decimal("3.0")
    summary = dict(reports.period_report(today - timedelta(days=1), today).tables[0].rows)
    assert summary["Подано повідомлень про проблеми"] == 2
    assert "Медіана годин до відповіді на повідомлення про проблему" not in summary
