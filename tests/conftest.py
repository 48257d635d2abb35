"""Named roles and shared fixtures: citizen, clerks of city A and B, director, association."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache

from opencity import pagecache, ratelimit
from opencity.cities.access import ASSOCIATION_GROUP, DIRECTORS_GROUP
from opencity.cities.models import StaffRole
from tests.factories import make_city, make_clerk, make_user

pytest_plugins = ["tests.browser.fixtures"]


@pytest.fixture(autouse=True)
def _clean_cache():
    """Rate-limit counters, cached pages, an open breaker and Celery's worker flag must not
    leak between tests."""
    from celery._state import _set_task_join_will_block

    from opencity.cache import redis_breaker
    from opencity.queue import broker_breaker

    redis_breaker.reset()
    broker_breaker.reset()
    # A worker thread of an earlier test (`real_worker`) may have left Celery believing this
    # process is a worker, where `.delay().get()` is refused ("Never call result.get()
    # within a task"); which test ran before depends on how the workers split the files.
    _set_task_join_will_block(False)
    cache.clear()
    pagecache._local.clear()
    pagecache._front.clear()
    pagecache.reset_health()
    yield


@pytest.fixture(autouse=True)
def _one_rate_limit_window(monkeypatch):
    """The limiter counts in fixed windows (a minute for a vote). A test's attempts all fall
    in the window the test started in: two posts a moment apart at 12:00:59.9 and 12:01:00.1
    would otherwise be counted in two windows, and "the second is refused" would fail now
    and then (it failed once in CI)."""
    now = time.time()
    monkeypatch.setattr(ratelimit, "clock", lambda: now)


@pytest.fixture(autouse=True)
def _force_login_includes_the_second_factor(monkeypatch):
    """`client.force_login(user)` skips the password; here it skips the second factor too,
    so tests of staff pages need not repeat it. Tests of the second factor itself sign in
    through the real forms (tests/mfa.py, tests/test_second_factor.py)."""
    from django.test import Client

    from tests.mfa import record_second_factor

    original = Client.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        record_second_factor(self, user)

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture
def real_worker(transactional_db):
    """A Celery worker thread consuming from the real Redis broker (tasks are not eager)."""
    from celery.contrib.testing.worker import start_worker

    from opencity import celery_app

    celery_app.conf.task_always_eager = False
    celery_app.connection_for_write().ensure_connection(max_retries=1)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield celery_app
    finally:
        celery_app.conf.task_always_eager = True


@pytest.fixture
def city_a(db):
    return make_city(name_uk="Луцька", name_en="Lutska", slug="lutska")


@pytest.fixture
def city_b(db):
    return make_city(name_uk="Чернівецька", name_en="Chernivetska", slug="chernivetska")


@pytest.fixture
def citizen(db, city_a):
    return make_user(full_name="Тарас Шевчук", home_city=city_a)


@pytest.fixture
def unverified_citizen(db):
    return make_user(full_name="Неперевірена Особа", verified=False)


@pytest.fixture
def moderator_a(db, city_a):
    return make_clerk(city_a, StaffRole.Role.MODERATOR, full_name="Марія Коваль")


@pytest.fixture
def moderator_b(db, city_b):
    return make_clerk(city_b, StaffRole.Role.MODERATOR, full_name="Василь Бойко")


@pytest.fixture
def city_admin_a(db, city_a):
    return make_clerk(city_a, StaffRole.Role.CITY_ADMIN, full_name="Ганна Адмін")


@pytest.fixture
def director(db):
    user = make_user(full_name="Андрій Директор", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name=DIRECTORS_GROUP)[0])
    return user


@pytest.fixture
def association_staff(db):
    user = make_user(full_name="Ірина Секретаріат", is_staff=True, is_superuser=True)
    user.groups.add(Group.objects.get_or_create(name=ASSOCIATION_GROUP)[0])
    return user


def _client_for(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def citizen_client(client, citizen):
    return _client_for(client, citizen)


@pytest.fixture
def moderator_a_client(client, moderator_a):
    return _client_for(client, moderator_a)


@pytest.fixture
def director_client(client, director):
    return _client_for(client, director)


@pytest.fixture
def association_client(client, association_staff):
    return _client_for(client, association_staff)


# Tests that take a minute or more: collected first, so that with two test processes
# (bin/test, --dist load: tests handed out in collection order) they run beside the rest
# instead of alone at the end.
LONGEST_FILES = ("tests/test_admin_sweep.py", "tests/test_worker_death.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(LONGEST_FILES))
