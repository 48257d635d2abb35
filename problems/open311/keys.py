"""API keys of Open311 apps: issued once in admin, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

from problems.models import ApiApp

PREFIX = "oc311_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(app: ApiApp) -> str:
    """Give `app` a new key (replacing any old one) and return it; it is not stored."""
    key = PREFIX + secrets.token_urlsafe(24)
    app.key_hash = _hash(key)
    app.key_prefix = key[: len(PREFIX) + 2]
    return key


def app_for_key(key: str | None) -> ApiApp | None:
    if not key or not key.startswith(PREFIX) or len(key) > 100:
        return None
    return ApiApp.objects.filter(key_hash=_hash(key), is_active=True).first()
