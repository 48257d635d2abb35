"""A fixed-window rate limiter on the shared cache (Redis in production).

Used for citizen actions (signing, voting, registering, filing). On Redis one attempt is one
round trip (INCR and EXPIRE NX in a pipeline), as it sits on the hottest request paths. If
the cache itself is down the action is allowed: a Redis outage must not stop people from
signing.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpResponse
from django.shortcuts import render

logger = logging.getLogger(__name__)


def _count(key: str, window: int) -> int:
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full_key = backend.make_and_validate_key(key)
        client = backend._cache.get_client(full_key, write=True)
        pipe = client.pipeline(transaction=False)
        pipe.incr(full_key)
        pipe.expire(full_key, window + 1, nx=True)
        count, _ = pipe.execute()
        return int(count)
    if cache.add(key, 1, timeout=window + 1):
        return 1
    return cache.incr(key)


def allow(action: str, who: str | int) -> bool:
    """Count one attempt of `action` by `who`; False when over the configured limit."""
    limit, window = settings.RATE_LIMITS[action]
    bucket = int(time.time() // window)
    try:
        return _count(f"rl:{action}:{who}:{bucket}", window) <= limit
    except Exception as exc:
        logger.warning("rate limiter unavailable (%s); allowing", type(exc).__name__)
        return True


def too_many(request) -> HttpResponse:
    """The answer to an attempt over the limit: HTTP 429 with a translated page."""
    return render(request, "429.html", status=429)
