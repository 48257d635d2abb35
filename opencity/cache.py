"""Django's Redis cache as an accelerator: one client per pool, short timeouts, a circuit breaker.

Django's RedisCacheClient builds a new redis.Redis object on every cache call; a session
read and a rate-limit check on each signing or voting request paid for two. redis.Redis is
thread-safe (connections come from the shared pool), so one per pool is enough.

Redis is never a dependency of a citizen's request. When Redis does not answer (refused,
timed out), the breaker opens: for `BREAKER_COOL_DOWN` seconds every cache call returns at
once without touching the network, then one call tries Redis again. While open:

- reads miss (`get` returns the default, `get_many` {}, `has_key` False), so callers compute
  the value or read the database (sessions: `cached_db` falls back to its table);
- writes (`set`, `delete`, `touch`, ...) do nothing, and their keys are remembered: when
  Redis answers again those keys are deleted, so no stale entry (a session ended during the
  outage, a page cached before a change) outlives the outage;
- `add` answers True, as Django's DummyCache does (allauth takes its rate-limit lock with
  `add` in a loop; a one-time marker such as a used TOTP code is not kept during the
  outage); `incr`, whose answer is a count, raises `CacheUnavailable` (the rate limiter
  then counts in the database, see opencity/ratelimit.py).

One log line when the breaker opens and one when Redis answers again, not one per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

BREAKER_COOL_DOWN = 5.0
#: keys written while Redis was unreachable, deleted when it answers again (per process)
MAX_REMEMBERED_KEYS = 10_000
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)


class CacheUnavailable(Exception):
    """The cache could not give an answer that a decision depends on (incr)."""


class CircuitBreaker:
    """Stops calling a failing server for `cool_down` seconds, then lets one trial through.

    Thread-safe; one per server and process. `on_close` steps run on the trial call.
    """

    def __init__(self, name: str, cool_down: float = BREAKER_COOL_DOWN) -> None:
        self.name = name
        self.cool_down = cool_down
        self._lock = threading.Lock()
        self._open = False
        self._retry_at = 0.0
        self.opened_at: float | None = None
        self.on_close: list[Callable[[], None]] = []

    @property
    def is_open(self) -> bool:
        return self._open

    def allow(self) -> bool:
        """May a call go to the server now? While open, one caller per cool-down may try."""
        if not self._open:
            return True
        with self._lock:
            now = time.monotonic()
            if now >= self._retry_at:
                self._retry_at = now + self.cool_down
                return True
        return False

    def would_allow(self) -> bool:
        """Would `allow` let a call through now? Asks without taking the trial call, for
        callers that skip the server entirely while it is bypassed (the page cache)."""
        return not self._open or time.monotonic() >= self._retry_at

    def failure(self, exc: BaseException) -> None:
        with self._lock:
            was_open = self._open
            self._open = True
            self._retry_at = time.monotonic() + self.cool_down
            if not was_open:
                self.opened_at = time.monotonic()
        if not was_open:
            logger.warning(
                "%s unreachable (%s); working without it, retrying every %.0f s",
                self.name,
                type(exc).__name__,
                self.cool_down,
            )

    def success(self) -> None:
        if not self._open:
            return
        with self._lock:
            was_open, self._open = self._open, False
            opened_at, self.opened_at = self.opened_at, None
        if was_open:
            down = time.monotonic() - opened_at if opened_at else 0.0
            logger.warning("%s answers again after %.1f s", self.name, down)

    def reset(self) -> None:
        with self._lock:
            self._open, self._retry_at, self.opened_at = False, 0.0, None

    def call(self, operation: Callable[[], Any]) -> Any:
        """Run `operation` through the breaker; CacheUnavailable when open or on failure.

        The trial call after a cool-down first runs the `on_close` steps (undoing writes
        missed during the outage), so that its own answer is not a stale one."""
        if not self.allow():
            raise CacheUnavailable(f"{self.name} is bypassed for a few seconds")
        try:
            if self._open:
                for step in self.on_close:
                    step()
            result = operation()
        except REDIS_ERRORS as exc:
            self.failure(exc)
            raise CacheUnavailable(f"{self.name}: {type(exc).__name__}") from exc
        self.success()
        return result


#: The cache's Redis, shared by the cache backend and the rate limiter in this process.
redis_breaker = CircuitBreaker("cache Redis")


_missed_writes: set[str] = set()
_missed_lock = threading.Lock()
_missed_client: _GuardedClient | None = None


def _forget_missed_writes() -> None:
    global _missed_client
    with _missed_lock:
        keys, client = list(_missed_writes), _missed_client
        _missed_writes.clear()
        _missed_client = None
    if keys and client is not None:
        client.get_client(write=True).delete(*keys)


redis_breaker.on_close.append(_forget_missed_writes)


class _GuardedClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._client(connection_pool=self._get_connection_pool(write))
            self._clients[index] = client
        return client

    # --- the breaker ----------------------------------------------------------------------
    def _remember(self, keys) -> None:
        global _missed_client
        with _missed_lock:
            _missed_client = self
            if len(_missed_writes) < MAX_REMEMBERED_KEYS:
                _missed_writes.update(keys)
            else:
                logger.warning("cache: too many writes missed during the outage to undo")

    def _read(self, operation, fallback):
        try:
            return redis_breaker.call(operation)
        except CacheUnavailable:
            return fallback

    def _write(self, keys, operation, fallback=None):
        try:
            return redis_breaker.call(operation)
        except CacheUnavailable:
            self._remember(keys)
            return fallback

    # --- Django's client interface --------------------------------------------------------
    def get(self, key, default):
        return self._read(lambda: super(_GuardedClient, self).get(key, default), default)

    def get_many(self, keys):
        return self._read(lambda: super(_GuardedClient, self).get_many(keys), {})

    def has_key(self, key):
        return self._read(lambda: super(_GuardedClient, self).has_key(key), False)

    def set(self, key, value, timeout):
        self._write([key], lambda: super(_GuardedClient, self).set(key, value, timeout))

    def set_many(self, data, timeout):
        self._write(list(data), lambda: super(_GuardedClient, self).set_many(data, timeout))

    def touch(self, key, timeout):
        return self._write([key], lambda: super(_GuardedClient, self).touch(key, timeout), False)

    def delete(self, key):
        return self._write([key], lambda: super(_GuardedClient, self).delete(key), False)

    def delete_many(self, keys):
        self._write(list(keys), lambda: super(_GuardedClient, self).delete_many(keys))

    def add(self, key, value, timeout):
        try:
            return redis_breaker.call(lambda: super(_GuardedClient, self).add(key, value, timeout))
        except CacheUnavailable:
            self._remember([key])
            raise

    def incr(self, key, delta):
        try:
            return redis_breaker.call(lambda: super(_GuardedClient, self).incr(key, delta))
        except CacheUnavailable:
            self._remember([key])
            raise

    def clear(self):
        return self._read(lambda: super(_GuardedClient, self).clear(), False)


class ReusingRedisCache(RedisCache):
    """The project's cache backend (settings.CACHES): see the module docstring."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _GuardedClient
