"""Celery beat entries of this app; merged into CELERY_BEAT_SCHEDULE by the settings.

Plain data only: settings import this module before Django is set up.
"""

BEAT_SCHEDULE: dict = {
    # Voting closes at the end of a day (Europe/Kyiv); a pass every 10 minutes also recovers
    # a tally that a broker outage or a killed worker left undone (tallies are idempotent).
    "initiatives-tally-due": {"task": "initiatives.tasks.tally_due", "schedule": 600.0},
    "initiatives-announce-stages": {
        "task": "initiatives.tasks.announce_stages",
        "schedule": 900.0,
    },
    "initiatives-sweep-voter-notifications": {
        "task": "initiatives.tasks.sweep_voter_notifications",
        "schedule": 300.0,
    },
    # Project photos whose processing task a broker outage lost.
    "initiatives-process-pending-photos": {
        "task": "initiatives.tasks.process_pending_photos",
        "schedule": 300.0,
    },
}
