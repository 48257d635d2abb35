"""Thin Celery wrappers around members.services."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from members.services import invoices_issue_for_year


@shared_task(name="members.tasks.issue_invoices_current_year")
def issue_invoices_current_year() -> int:
    """Issue this year's dues invoices to every member that has none yet. Idempotent (one
    invoice per city and year is a database constraint), so a daily run also covers cities
    accepted during the year and days when the worker was down."""
    return invoices_issue_for_year(year=timezone.localdate().year)


@shared_task(name="members.tasks.send_survey_reminders")
def send_survey_reminders() -> int:
    """Remind councils that have not answered a survey, 7 and 14 days after the invitation.
    Idempotent: each reminder is claimed once per invitation (see reminders_send)."""
    from members.surveys.services import reminders_send

    return reminders_send()


@shared_task(name="members.tasks.count_survey_results")
def count_survey_results(wave_id: int) -> None:
    """Rebuild a wave's pre-counted results (queued on commit by each submission). Idempotent:
    the counts are replaced whole from the answers, so a second run changes nothing."""
    from members.surveys.counting import results_count

    results_count(wave_id=wave_id)


@shared_task(name="members.tasks.count_stale_survey_results")
def count_stale_survey_results() -> int:
    """Beat pass: recount the waves whose answers changed since their last count."""
    from members.surveys.counting import count_stale

    return count_stale()
