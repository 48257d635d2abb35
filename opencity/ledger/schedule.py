"""Celery beat entries of the ledger; merged into CELERY_BEAT_SCHEDULE by the settings."""

BEAT_SCHEDULE: dict = {
    # Every second: acts become leaves within a few seconds. A run that waits longer than
    # its period in the queue expires rather than piling up behind a busy worker.
    "ledger-sequence": {
        "task": "opencity.ledger.tasks.sequence",
        "schedule": 1.0,
        "options": {"expires": 2.0},
    },
}
