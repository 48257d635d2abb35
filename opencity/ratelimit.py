"""A fixed-window rate limiter on the shared cache (Redis in production).

Used for citizen actions (signing, voting, registering, filing). On Redis one attempt is one
round trip (INCR and EXPIRE NX in a pipeline), as it sits on the hottest request paths. If
the cache itself is down the action is allowed: a Redis outage must not stop people from
signing.

`allow_request` also counts the attempt against the client's address (a few people share one
address behind a NAT, so its limit is RATE_LIMIT_ADDRESS_FACTOR times the personal one); the
address comes from opencity.proxies, which believes X-Forwarded-For only from our own proxies.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from opencity.proxies import client_address

logger = logging.getLogger(__name__)


def _count(key: str, window: int) -> int:
    return _count_many([key], window)[0]


def _count_many(keys: list[str], window: int) -> list[int]:
    """Add one to each counter; on Redis all of them in one round trip."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full_keys = [backend.make_and_validate_key(key) for key in keys]
        client = backend._cache.get_client(full_keys[0], write=True)
        pipe = client.pipeline(transaction=False)
        for full_key in full_keys:
            pipe.incr(full_key)
            pipe.expire(full_key, window + 1, nx=True)
        return [int(count) for count in pipe.execute()[::2]]
    counts = []
    for key in keys:
        counts.append(1 if cache.add(key, 1, timeout=window + 1) else cache.incr(key))
    return counts


def allow(action: str, who: str | int) -> bool:
    """Count one attempt of `action` by `who`; False when over the configured limit."""
    limit, window = settings.RATE_LIMITS[action]
    bucket = int(time.time() // window)
    try:
        return _count(f"rl:{action}:{who}:{bucket}", window) <= limit
    except Exception as exc:
        logger.warning("rate limiter unavailable (%s); allowing", type(exc).__name__)
        return True


def allow_request(action: str, request: HttpRequest) -> bool:
    """Count one attempt of `action` by the signed-in person and by their address."""
    limit, window = settings.RATE_LIMITS[action]
    bucket = int(time.time() // window)
    keys = [f"rl:{action}:ip:{client_address(request)}:{bucket}"]
    limits = [limit * settings.RATE_LIMIT_ADDRESS_FACTOR]
    if request.user.is_authenticated:
        keys.append(f"rl:{action}:{request.user.pk}:{bucket}")
        limits.append(limit)
    try:
        counts = _count_many(keys, window)
        return all(count <= most for count, most in zip(counts, limits, strict=True))
    except Exception as exc:
        logger.warning("rate limiter unavailable (%s); allowing", type(exc).__name__)
        return True


def too_many(request) -> HttpResponse:
    """The answer to an attempt over the limit: HTTP 429 with a translated page."""
    return render(request, "429.html", status=429)
