"""Settings of the cities app, read from the environment (documented in .env.example)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from opencity.env import env_str

#: Private uploads (council decisions, certificate PDFs) are kept outside MEDIA_ROOT (which
#: the front proxy serves publicly) and served only through views that check permission.
PRIVATE_FILES_ROOT = Path(
    env_str("PRIVATE_FILES_ROOT", str(Path(settings.BASE_DIR) / "var" / "private"))
)
