"""Celery beat entries of this app; merged into CELERY_BEAT_SCHEDULE by the settings.

Plain data only: settings import this module before Django is set up.
"""

BEAT_SCHEDULE: dict = {
    # "Is it fixed?" four weeks after done; idempotent (each report is claimed once).
    "problems-ask-if-fixed": {"task": "problems.tasks.ask_if_fixed", "schedule": 3600.0},
    # Photos whose thumbnail task a broker outage lost.
    "problems-process-pending-photos": {
        "task": "problems.tasks.process_pending_photos",
        "schedule": 300.0,
    },
}
