import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.utils import timezone

from opencity import ratelimit
from opencity.core.models import RateLimitCount


@pytest.fixture
def small_limit(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "sign": (3, 60)}


def test_attempts_over_the_limit_are_refused(small_limit):
    assert [ratelimit.allow("sign", 7) for _ in range(5)] == [True, True, True, False, False]


def _request(rf, address: str, person: int | None = None):
    """A sign request from `address`, by the signed-in `person` (or anonymous)."""
    from django.contrib.auth.models import AnonymousUser

    request = rf.post("/petitions/1/sign/", REMOTE_ADDR=address)
    request.user = SimpleNamespace(is_authenticated=True, pk=person) if person else AnonymousUser()
    return request


def _cache_down(*args, **kwargs):
    raise ConnectionError("redis down")


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
    settings.RATE_LIMIT_ADDRESS_FACTOR = 1
    _clock_at(monkeypatch, 1, 30, 45, 59, 60)
    request = _request(rf, "192.0.2.7")
    assert [ratelimit.allow_request("sign", request) for _ in range(5)] == [
        True, True, True, False, True,
    ]  # fmt: skip


def test_limits_are_per_person_and_per_action(small_limit):
    for _ in range(3):
        ratelimit.allow("sign", 7)
    assert ratelimit.allow("sign", 8)
    assert ratelimit.allow("vote", 7)


def test_the_counter_lives_a_second_past_its_window_and_a_later_attempt_does_not_extend_it(
    small_limit,
):
    client = cache._cache.get_client()
    started = time.monotonic()
    ratelimit.allow("sign", 9)
    (key,) = client.keys("*rl:sign:9:*")
    left = client.pttl(key)
    waited = (time.monotonic() - started) * 1000  # however slow this machine is right now
    assert 61_000 - waited - 5 <= left <= 61_000
    client.pexpire(key, 5_000)  # the window nearly over
    ratelimit.allow("sign", 9)
    assert 0 < client.pttl(key) <= 5_000
    assert int(client.get(key)) == 2


def test_a_person_and_an_address_are_limited_apart(small_limit, settings, rf):
    """Three a minute per person; an address (people behind one NAT) gets twice that."""
    settings.RATE_LIMIT_ADDRESS_FACTOR = 2

    def attempt(person: int, address: str) -> bool:
        return ratelimit.allow_request("sign", _request(rf, address, person))

    # One person changing address is still one person: the fourth is refused.
    assert [attempt(101, f"192.0.2.{n}") for n in range(4)] == [True] * 3 + [False]
    # Three people behind one address: six attempts pass, the seventh is refused although
    # its person has attempts left.
    people = (201, 201, 202, 202, 203, 203, 203)
    assert [attempt(person, "198.51.100.1") for person in people] == [True] * 6 + [False]


@pytest.mark.django_db
def test_counted_in_the_database_a_window_is_kept_a_second_past_its_end(small_limit, monkeypatch):
    monkeypatch.setattr(ratelimit, "_count_in_cache", _cache_down)
    before = timezone.now()
    ratelimit.allow("sign", 14)
    ratelimit.allow("sign", 14)
    row = RateLimitCount.objects.get(key__startswith="rl:sign:14:")
    assert row.hits == 2
    window_end = timedelta(seconds=61)
    assert before + window_end <= row.expires_at <= timezone.now() + window_end


def test_without_redis_the_limiter_counts_in_the_configured_cache(settings):
    """The demo runs on Django's local-memory cache: the same limits, the same windows."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "rl"}
    }
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "sign": (3, 60), "vote": (1, 60)}
    from django.core.cache import caches

    local = caches["default"]
    local.clear()
    started = time.time()
    assert [ratelimit.allow("sign", 15) for _ in range(5)] == [True] * 3 + [False] * 2
    first_done = time.time()
    assert [ratelimit.allow("vote", 15) for _ in range(2)] == [True, False]
    bucket = int(ratelimit.clock() // 60)
    assert local.get(f"rl:sign:15:{bucket}") == 5
    expires = local._expire_info[local.make_key(f"rl:sign:15:{bucket}")]
    assert started + 61 <= expires <= first_done + 61  # set by the first attempt


@pytest.mark.django_db
def test_an_unexpected_cache_error_counts_in_the_database(small_limit, monkeypatch, caplog):
    monkeypatch.setattr(ratelimit, "_count_in_cache", _cache_down)
    assert [ratelimit.allow("sign", 7) for _ in range(4)] == [True, True, True, False]
    logged = {r.getMessage() for r in caplog.records if r.name == "opencity.ratelimit"}
    assert logged == {"rate limiter cache failed (ConnectionError); counting in the database"}


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
