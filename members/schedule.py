"""Celery beat entries of this app; merged into CELERY_BEAT_SCHEDULE by the settings.

Plain data only: settings import this module before Django is set up.
"""

BEAT_SCHEDULE: dict = {}
