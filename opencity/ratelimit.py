"""A fixed-window rate limiter on the shared cache (Redis in production).

Used for citizen actions (signing, voting, registering, filing). If the cache itself is
down the action is allowed: a Redis outage must not stop people from signing.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


def allow(action: str, who: str | int) -> bool:
    """Count one attempt of `action` by `who`; False when over the configured limit."""
    limit, window = settings.RATE_LIMITS[action]
    bucket = int(time.time() // window)
    key = f"rl:{action}:{who}:{bucket}"
    try:
        if cache.add(key, 1, timeout=window + 1):
            return True
        return cache.incr(key) <= limit
    except Exception as exc:
        logger.warning("rate limiter unavailable (%s); allowing", type(exc).__name__)
        return True
