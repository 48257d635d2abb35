"""A fixed-window rate limiter on the shared cache (Redis in production), with a fallback.

Used for citizen actions (signing, voting, registering, filing). On Redis one attempt is one
round trip (INCR and EXPIRE NX in a pipeline), as it sits on the hottest request paths.

Redis is an accelerator here, not a dependency: the call goes through the cache's circuit
breaker (opencity/cache.py), and while Redis does not answer the same windows are counted
in the database (one upsert per attempt on `core_ratelimitcount`), so limits still hold
during an outage. Only if the database cannot count either is the attempt allowed, with a
log line: the action itself will then fail on the database anyway.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection, transaction
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from opencity.cache import CacheUnavailable, redis_breaker

logger = logging.getLogger(__name__)


def _count_in_cache(key: str, window: int) -> int:
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full_key = backend.make_and_validate_key(key)

        def incr() -> int:
            client = backend._cache.get_client(full_key, write=True)
            pipe = client.pipeline(transaction=False)
            pipe.incr(full_key)
            pipe.expire(full_key, window + 1, nx=True)
            count, _ = pipe.execute()
            return int(count)

        return redis_breaker.call(incr)
    if cache.add(key, 1, timeout=window + 1):
        return 1
    return cache.incr(key)


_UPSERT_SQL = """
    INSERT INTO core_ratelimitcount (key, hits, expires_at) VALUES (%s, 1, %s)
    ON CONFLICT (key) DO UPDATE SET hits = core_ratelimitcount.hits + 1
    RETURNING hits
"""


def _count_in_database(key: str, window: int) -> int:
    """One statement per attempt (PostgreSQL and SQLite both know ON CONFLICT)."""
    expires_at = timezone.now() + timedelta(seconds=window + 1)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_UPSERT_SQL, [key[:200], expires_at])
        return int(cursor.fetchone()[0])


def allow(action: str, who: str | int) -> bool:
    """Count one attempt of `action` by `who`; False when over the configured limit."""
    limit, window = settings.RATE_LIMITS[action]
    key = f"rl:{action}:{who}:{int(time.time() // window)}"
    try:
        return _count_in_cache(key, window) <= limit
    except CacheUnavailable:
        pass  # the breaker logged the outage once
    except Exception as exc:
        logger.warning(
            "rate limiter cache failed (%s); counting in the database", type(exc).__name__
        )
    try:
        return _count_in_database(key, window) <= limit
    except Exception as exc:
        logger.warning("rate limiter unavailable (%s); allowing", type(exc).__name__)
        return True


def purge_expired_counts() -> int:
    """Drop database windows that have ended (they exist only after a cache outage)."""
    from opencity.core.models import RateLimitCount

    deleted, _ = RateLimitCount.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted


def too_many(request) -> HttpResponse:
    """The answer to an attempt over the limit: HTTP 429 with a translated page."""
    return render(request, "429.html", status=429)
