"""Celery beat entries of notifications; merged into CELERY_BEAT_SCHEDULE by the settings."""

from celery.schedules import crontab

BEAT_SCHEDULE: dict = {
    "notifications-sweep-events": {
        "task": "opencity.notifications.tasks.sweep_events",
        "schedule": 120.0,
    },
    # Hourly; each digest goes out from DIGEST_HOUR Kyiv time (services.digests_due), so a
    # missed hour (broker outage) delays it by an hour, never skips or doubles it.
    "notifications-digests": {
        "task": "opencity.notifications.tasks.send_digests",
        "schedule": crontab(minute=0),
    },
}
