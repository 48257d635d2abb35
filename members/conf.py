"""Settings of the members app, read from the environment (documented in .env.example)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from opencity.env import env_int, env_str

#: Uploaded council decisions are private: kept outside MEDIA_ROOT (which the front proxy
#: serves publicly) and served only through a view that checks permission.
PRIVATE_FILES_ROOT = Path(
    env_str("MEMBERS_PRIVATE_FILES_ROOT", str(Path(settings.BASE_DIR) / "var" / "private"))
)
#: Largest accepted council decision PDF, in megabytes.
DECISION_MAX_MB = env_int("MEMBERS_DECISION_MAX_MB", 10, min_value=1)
#: Rows per page of per-city report tables (exports and the print view carry all rows).
REPORT_PAGE_SIZE = 100
