"""Academy settings: constants, a few configurable from the environment (see report)."""

from datetime import timedelta

from opencity.env import env_int

#: reminders go out this long before a session starts
REMINDER_BEFORE = timedelta(hours=env_int("ACADEMY_REMINDER_HOURS", 24, min_value=1))
#: the feedback form stays open this many days after a session ends
FEEDBACK_DAYS = env_int("ACADEMY_FEEDBACK_DAYS", 30, min_value=1)
#: largest expert photo accepted, in bytes
EXPERT_PHOTO_MAX_BYTES = 2 * 1024 * 1024
EXPERT_PHOTO_MAX_SIDE = 4000
EXPERT_PHOTO_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
#: a certificate PDF not generated after this long is re-queued by the periodic sweep
CERTIFICATE_SWEEP_AFTER = timedelta(minutes=2)
