"""A fixed-window rate limiter on the shared cache (Redis in production), with a fallback.

Used for citizen actions (signing, voting, registering, filing). On Redis one attempt is one
round trip (INCR and EXPIRE NX for each counter, in one pipeline), as it sits on the hottest
request paths.

`allow_request` also counts the attempt against the client's address (a few people share one
address behind a NAT, so its limit is RATE_LIMIT_ADDRESS_FACTOR times the personal one); the
address comes from opencity.proxies, which believes X-Forwarded-For only from our own proxies.

Redis is an accelerator here, not a dependency: the call goes through the cache's circuit
breaker (opencity/cache.py), and while Redis does not answer the same windows are counted
in the database (one upsert per counter on `core_ratelimitcount`), so limits still hold
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
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from opencity.cache import CacheUnavailable, redis_breaker
from opencity.proxies import client_address

logger = logging.getLogger(__name__)

# Which fixed window an attempt falls in. Tests pin it for the length of a test, so two
# attempts a moment apart never straddle a window's edge (tests/conftest.py).
clock = time.time


def _count_in_cache(keys: list[str], window: int) -> list[int]:
    """Add one to each counter; on Redis all of them in one round trip, behind the breaker."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full_keys = [backend.make_and_validate_key(key) for key in keys]

        def incr() -> list[int]:
            client = backend._cache.get_client(full_keys[0], write=True)
            pipe = client.pipeline(transaction=False)
            for full_key in full_keys:
                pipe.incr(full_key)
                pipe.expire(full_key, window + 1, nx=True)
            return [int(count) for count in pipe.execute()[::2]]

        return redis_breaker.call(incr)
    return [1 if cache.add(key, 1, timeout=window + 1) else cache.incr(key) for key in keys]


_UPSERT_SQL = """
    INSERT INTO core_ratelimitcount (key, hits, expires_at) VALUES (%s, 1, %s)
    ON CONFLICT (key) DO UPDATE SET hits = core_ratelimitcount.hits + 1
    RETURNING hits
"""


def _count_in_database(keys: list[str], window: int) -> list[int]:
    """One statement per counter (PostgreSQL and SQLite both know ON CONFLICT)."""
    expires_at = timezone.now() + timedelta(seconds=window + 1)
    counts = []
    with transaction.atomic(), connection.cursor() as cursor:
        for key in keys:
            cursor.execute(_UPSERT_SQL, [key[:200], expires_at])
            counts.append(int(cursor.fetchone()[0]))
    return counts


def _within(keys: list[str], limits: list[int], window: int) -> bool:
    try:
        counts = _count_in_cache(keys, window)
    except CacheUnavailable:
        counts = None  # the breaker logged the outage once
    except Exception as exc:
        logger.warning(
            "rate limiter cache failed (%s); counting in the database", type(exc).__name__
        )
        counts = None
    if counts is None:
        try:
            counts = _count_in_database(keys, window)
        except Exception as exc:
            logger.warning("rate limiter unavailable (%s); allowing", type(exc).__name__)
            return True
    return all(count <= most for count, most in zip(counts, limits, strict=True))


def allow(action: str, who: str | int) -> bool:
    """Count one attempt of `action` by `who`; False when over the configured limit."""
    limit, window = settings.RATE_LIMITS[action]
    bucket = int(clock() // window)
    return _within([f"rl:{action}:{who}:{bucket}"], [limit], window)


def allow_request(action: str, request: HttpRequest) -> bool:
    """Count one attempt of `action` by the signed-in person and by their address."""
    limit, window = settings.RATE_LIMITS[action]
    bucket = int(clock() // window)
    keys = [f"rl:{action}:ip:{client_address(request)}:{bucket}"]
    limits = [limit * settings.RATE_LIMIT_ADDRESS_FACTOR]
    if request.user.is_authenticated:
        keys.append(f"rl:{action}:{request.user.pk}:{bucket}")
        limits.append(limit)
    return _within(keys, limits, window)


def purge_expired_counts() -> int:
    """Drop database windows that have ended (they exist only after a cache outage)."""
    from opencity.core.models import RateLimitCount

    deleted, _ = RateLimitCount.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted


def too_many(request: HttpRequest) -> HttpResponse:
    """The answer to an attempt over the limit: HTTP 429 with a translated page."""
    return render(request, "429.html", status=429)
