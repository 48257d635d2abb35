"""Celery beat entries of this app; merged into CELERY_BEAT_SCHEDULE by the settings.

Plain data only: settings import this module before Django is set up.
"""

from celery.schedules import crontab

BEAT_SCHEDULE: dict = {
    # Idempotent: new members get this year's invoice the day after they are accepted.
    "members-issue-invoices": {
        "task": "members.tasks.issue_invoices_current_year",
        "schedule": crontab(hour=4, minute=10),
    },
    # Idempotent: survey reminders 7 and 14 days after the invitation, once each.
    "members-survey-reminders": {
        "task": "members.tasks.send_survey_reminders",
        "schedule": crontab(hour=9, minute=30),
    },
    # Idempotent: survey results recounted where a submission's own count was lost.
    "members-survey-counts": {
        "task": "members.tasks.count_stale_survey_results",
        "schedule": 600.0,
    },
}
