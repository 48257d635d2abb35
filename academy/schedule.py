"""Celery beat entries of this app; merged into CELERY_BEAT_SCHEDULE by the settings.

Plain data only: settings import this module before Django is set up.
"""

BEAT_SCHEDULE: dict = {
    # Reminders go out 24 h before; every 10 minutes keeps them close to that mark.
    "academy-send-reminders": {
        "task": "academy.tasks.send_reminders",
        "schedule": 600.0,
    },
    "academy-promote-missed-waitlists": {
        "task": "academy.tasks.promote_missed_waitlists",
        "schedule": 300.0,
    },
    "academy-sweep-certificates": {
        "task": "academy.tasks.sweep_certificates",
        "schedule": 300.0,
    },
}
