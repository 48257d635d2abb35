"""Settings of the members app, read from the environment (documented in .env.example)."""

from __future__ import annotations

from opencity.env import env_int

#: Largest accepted council decision PDF, in megabytes.
DECISION_MAX_MB = env_int("MEMBERS_DECISION_MAX_MB", 10, min_value=1)
#: Rows per page of per-city report tables (exports and the print view carry all rows).
REPORT_PAGE_SIZE = 100
