import pytest
from django.core.cache import cache

from opencity import ratelimit


@pytest.fixture
def small_limit(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "sign": (3, 60)}


def test_attempts_over_the_limit_are_refused(small_limit):
    assert [ratelimit.allow("sign", 7) for _ in range(5)] == [True, True, True, False, False]


def _clock_at(monkeypatch, *offsets: float) -> None:
    """The limiter's clock reads these seconds after the start of a minute, one per attempt."""
    minute = 1_800_000_000 // 60 * 60
    readings = iter(minute + offset for offset in offsets)
    monkeypatch.setattr(ratelimit, "clock", lambda: next(readings))


def test_a_window_is_a_fixed_minute_and_the_next_one_starts_afresh(small_limit, monkeypatch):
    """Three a minute: the fourth within the same minute is refused however late in it, the
    first of the next minute passes."""
    _clock_at(monkeypatch, 0, 20, 40, 59.9, 60, 61)
    assert [ratelimit.allow("sign", 12) for _ in range(6)] == [True] * 3 + [False] + [True] * 2


def test_a_visitors_window_is_a_fixed_minute_too(small_limit, settings, monkeypatch, rf):
    from django.contrib.auth.models import AnonymousUser

    settings.RATE_LIMIT_ADDRESS_FACTOR = 1
    _clock_at(monkeypatch, 1, 30, 45, 59, 60)
    request = rf.post("/petitions/1/sign/", REMOTE_ADDR="192.0.2.7")
    request.user = AnonymousUser()
    assert [ratelimit.allow_request("sign", request) for _ in range(5)] == [
        True, True, True, False, True,
    ]  # fmt: skip


def test_limits_are_per_person_and_per_action(small_limit):
    for _ in range(3):
        ratelimit.allow("sign", 7)
    assert ratelimit.allow("sign", 8)
    assert ratelimit.allow("vote", 7)


def test_the_counter_expires_with_its_window(small_limit):
    ratelimit.allow("sign", 9)
    keys = list(cache._cache.get_client().keys("*rl:sign:9:*"))
    assert len(keys) == 1
    assert 0 < cache._cache.get_client().ttl(keys[0]) <= 61


@pytest.mark.django_db
def test_an_unexpected_cache_error_counts_in_the_database(small_limit, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(ratelimit, "_count_in_cache", down)
    assert [ratelimit.allow("sign", 7) for _ in range(4)] == [True, True, True, False]


def test_on_redis_an_attempt_is_one_pipelined_round_trip(small_limit, monkeypatch):
    def no_add(*args, **kwargs):
        raise AssertionError("the Redis path must not fall back to add/incr")

    monkeypatch.setattr(cache, "add", no_add, raising=False)
    assert [ratelimit.allow("sign", 11) for _ in range(4)] == [True, True, True, False]


def test_the_redis_cache_reuses_one_client_per_pool():
    from django.core.cache import caches

    backend = caches["default"]
    client = backend._cache.get_client("a", write=True)
    assert backend._cache.get_client("b", write=True) is client
    backend.set("reuse-check", 1, 5)
    assert backend.get("reuse-check") == 1
