"""Celery beat entries of this app; merged into CELERY_BEAT_SCHEDULE by the settings.

Plain data only: settings import this module before Django is set up.
"""

BEAT_SCHEDULE: dict = {
    # Recounts what a Redis outage or a lost task left behind.
    "petitions-tally-stale": {"task": "petitions.tasks.tally_stale", "schedule": 30.0},
    "petitions-close-expired": {"task": "petitions.tasks.close_expired", "schedule": 300.0},
    "petitions-flag-overdue": {"task": "petitions.tasks.flag_overdue", "schedule": 3600.0},
    "petitions-resend-signer-notices": {
        "task": "petitions.tasks.resend_signer_notices",
        "schedule": 600.0,
    },
}
