"""Shared set-up of the initiatives benchmarks: a scratch PostgreSQL database, migrated.

The database (`bench_initiatives` unless BENCH_DB is set) is created fresh and dropped at
the end; Redis database 12 holds the cache. Only 127.0.0.1 is used.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _addresses as addresses  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = os.environ.get("BENCH_DB", "bench_initiatives")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
# BENCH_REDIS_URL moves it when another run (a test suite) uses this Redis db.
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")

ENV = {
    "DJANGO_ENV": "development",
    "DEBUG": "0",
    "DATABASE_URL": f"{PG}/{DB_NAME}",
    "REDIS_URL": REDIS,
    "CACHE_REDIS_URL": REDIS,
    "CACHE_KEY_PREFIX": "bench-initiatives",
    "CELERY_TASK_ALWAYS_EAGER": "1",
    "LOG_LEVEL": "WARNING",
    "PYTHONWARNINGS": "ignore:No directory at:UserWarning",
    "DJANGO_SETTINGS_MODULE": "opencity.settings",
    **addresses.ENV,
}


def admin_sql(sql: str) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def create_database() -> None:
    admin_sql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{DB_NAME}"')
    env = {**os.environ, **ENV}
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], check=True, env=env, cwd=ROOT
    )


def drop_database() -> None:
    admin_sql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def setup_django() -> None:
    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def flush_cache() -> None:
    import redis

    redis.Redis.from_url(REDIS).flushdb()


def make_programme(
    *, slug: str, voting_opens, voting_closes, implementation_starts, categories: int = 5, **rules
):
    """Lutsk, a programme with `categories` categories (10M UAH each, projects up to 2M) and an
    author; `rules` are the programme's voting rules. Call after setup_django()."""
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from initiatives.models import Category, Programme
    from opencity.accounts.models import User
    from opencity.cities.models import City

    today = timezone.localdate()
    city = City.objects.create(
        katottg="UA07080170000013585",
        slug="lutska",
        name_uk="Луцька",
        name_en="Lutska",
        oblast_uk="Волинська",
        oblast_en="Volynska",
    )
    programme = Programme.objects.create(
        city=city,
        title=slug.capitalize(),
        slug=slug,
        year=2027,
        total_budget=Decimal("50000000"),
        submission_opens=today - timedelta(days=90),
        submission_closes=today - timedelta(days=80),
        review_closes=today - timedelta(days=70),
        voting_opens=voting_opens,
        voting_closes=voting_closes,
        implementation_starts=implementation_starts,
        **rules,
    )
    made = [
        Category.objects.create(
            programme=programme,
            name=f"Категорія {n}",
            budget=Decimal("10000000"),
            max_project_cost=Decimal("2000000"),
            position=n,
        )
        for n in range(categories)
    ]
    author = User.objects.create_user(email="author@bench.local", full_name="Автор")
    return programme, made, author
