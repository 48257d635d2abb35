# ruff: noqa: S608  (SQL built from integers and constant words only)
"""Bulk-seed a benchmark database: people, cities' petitions and signatures (PostgreSQL).

Server-side INSERT … SELECT over generate_series: two million signatures take about a minute.
Refuses to run under production settings or unless the database name starts with "bench_".
Lives with the benchmarks, not in the petitions app, so no production install can run it.

    DATABASE_URL=postgres://…/bench_x .venv/bin/python bench/seed_petitions.py \
        --users 50000 --petitions 100000 --signatures 2000000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WORDS = [
    "парк",
    "сквер",
    "дорога",
    "тротуар",
    "велодоріжка",
    "освітлення",
    "зупинка",
    "тролейбус",
    "автобус",
    "школа",
    "садок",
    "бібліотека",
    "лікарня",
    "поліклініка",
    "пандус",
    "ліфт",
    "двір",
    "майданчик",
    "дерева",
    "озеленення",
    "сміття",
    "сортування",
    "вода",
    "каналізація",
    "опалення",
    "дах",
    "ремонт",
    "світлофор",
    "перехід",
    "паркування",
    "стадіон",
    "басейн",
    "музей",
    "театр",
    "ринок",
    "набережна",
    "міст",
    "фонтан",
    "лавки",
    "туалет",
    "wifi",
    "камери",
    "безпека",
]


class CommandError(SystemExit):
    def __init__(self, message: str) -> None:
        super().__init__(f"seed_petitions: {message}")


class Command:
    """Bulk-seed a bench_* PostgreSQL database for the petitions benchmarks."""

    stdout = sys.stdout

    def handle(self, *, users: int, petitions: int, signatures: int, hot: int) -> None:
        from django.db import connection

        from opencity.core.seeding import refuse_in_production

        refuse_in_production("bench/seed_petitions.py")
        if connection.vendor != "postgresql" or not connection.settings_dict["NAME"].startswith(
            "bench_"
        ):
            raise CommandError("run this only against a PostgreSQL database named bench_*")
        hot = min(hot, petitions)
        cold_each = max(1, (signatures // 2) // max(1, petitions - hot))
        hot_each = min(users, (signatures - cold_each * (petitions - hot)) // max(1, hot))
        if signatures <= 0:
            hot_each = cold_each = 0
        started = time.monotonic()
        with connection.cursor() as cursor:
            self._seed(cursor, users, petitions, hot, hot_each, cold_each)
        print(
            f"seeded users={users} petitions={petitions} "
            f"signatures={hot * hot_each + (petitions - hot) * cold_each} "
            f"in {time.monotonic() - started:.0f}s"
        )

    def _seed(self, cursor, users, petitions, hot, hot_each, cold_each):
        words = "ARRAY[" + ",".join(f"'{w}'" for w in WORDS) + "]"
        n_words = len(WORDS)
        cursor.execute("SELECT id FROM cities_city ORDER BY id LIMIT 40")
        city_ids = [row[0] for row in cursor.fetchall()]
        if not city_ids:
            raise CommandError("import hromadas first (manage.py import_hromadas)")
        cities = "ARRAY[" + ",".join(map(str, city_ids)) + "]"
        cursor.execute("SELECT coalesce(max(id), 0) FROM accounts_user")
        base_user = cursor.fetchone()[0]
        cursor.execute(
            f"""
            INSERT INTO accounts_user (id, password, is_superuser, email, full_name,
                preferred_language, identity_provider, is_staff, is_active, date_joined)
            SELECT {base_user} + g, '!bench', false, 'bench' || g || '@bench.opencity.test',
                   'Мешканець ' || g, 'uk', '', false, true, now()
            FROM generate_series(1, {users}) g
            """
        )
        cursor.execute(
            f"""
            INSERT INTO account_emailaddress (user_id, email, verified, "primary")
            SELECT {base_user} + g, 'bench' || g || '@bench.opencity.test', true, true
            FROM generate_series(1, {users}) g
            """
        )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('accounts_user', 'id'), %s)", [base_user + users]
        )
        cursor.execute("SELECT coalesce(max(id), 0) FROM petitions_petition")
        base_petition = cursor.fetchone()[0]
        # Statuses: 70% collecting, 10% answered, 10% closed, 5% reached, 5% submitted.
        cursor.execute(
            f"""
            INSERT INTO petitions_petition (id, city_id, author_id, author_name, title, text,
                status, created_at, submitted_at, moderation_due, threshold, collection_days,
                respond_working_days, published_at, collection_ends_at, reached_at,
                response_due, rejection_ground, rejection_comment, response_decision,
                response_text, answered_at, answered_on_time, signature_count, require_identity)
            SELECT {base_petition} + g,
                   ({cities})[1 + g % {len(city_ids)}],
                   {base_user} + 1 + g % {users},
                   'Мешканець ' || (1 + g % {users}),
                   initcap(w1) || ': ' || w2 || ' і ' || w3 || ' (№' || g || ')',
                   'Просимо раду вирішити питання: ' || w1 || ', ' || w2 || ', ' || w3
                       || '. ' || repeat('Це важливо для мешканців громади. ', 8),
                   st, ts, ts, ts::date + 2,
                   CASE WHEN st = 'submitted' THEN NULL ELSE 300 END,
                   CASE WHEN st = 'submitted' THEN NULL ELSE 60 END,
                   CASE WHEN st = 'submitted' THEN NULL ELSE 10 END,
                   CASE WHEN st = 'submitted' THEN NULL ELSE ts + interval '1 day' END,
                   CASE WHEN st = 'submitted' THEN NULL ELSE ts + interval '61 days' END,
                   CASE WHEN st IN ('reached', 'answered') THEN ts + interval '20 days' END,
                   CASE WHEN st IN ('reached', 'answered') THEN ts::date + 35 END,
                   '', '',
                   CASE WHEN st = 'answered' THEN 'supported' ELSE '' END,
                   CASE WHEN st = 'answered' THEN 'Рада підтримала петицію.' ELSE '' END,
                   CASE WHEN st = 'answered' THEN ts + interval '30 days' END,
                   CASE WHEN st = 'answered' THEN true END,
                   0, false
            FROM (
                SELECT g,
                       ({words})[1 + g % {n_words}] AS w1,
                       ({words})[1 + (g / 7) % {n_words}] AS w2,
                       ({words})[1 + (g / 53) % {n_words}] AS w3,
                       CASE WHEN g % 20 < 14 THEN 'collecting'
                            WHEN g % 20 < 16 THEN 'answered'
                            WHEN g % 20 < 18 THEN 'closed'
                            WHEN g % 20 < 19 THEN 'reached'
                            ELSE 'submitted' END AS st,
                       now() - (g % 50) * interval '1 day' - g * interval '1 second' AS ts
                FROM generate_series(1, {petitions}) g
            ) s
            """
        )
        if petitions:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('petitions_petition', 'id'), %s)",
                [base_petition + petitions],
            )
        if hot_each <= 0 or petitions <= 0:
            cursor.execute("VACUUM ANALYZE")  # a steady state, as autovacuum keeps it
            return
        # Hot petitions: `hot_each` distinct signers each; the rest `cold_each` each.
        cursor.execute(
            f"""
            INSERT INTO petitions_signature (petition_id, user_id, created_at, notify_on_answer,
                                             public_name)
            SELECT {base_petition} + p, {base_user} + u, now() - u * interval '1 second', true,
                   ''
            FROM generate_series(1, {hot}) p, generate_series(1, {hot_each}) u
            """
        )
        cursor.execute(
            f"""
            INSERT INTO petitions_signature (petition_id, user_id, created_at, notify_on_answer,
                                             public_name)
            SELECT {base_petition} + p, {base_user} + 1 + (p * 7 + u * 131) % {users},
                   now() - u * interval '1 second', true, ''
            FROM generate_series({hot + 1}, {petitions}) p, generate_series(1, {cold_each}) u
            """
        )
        cursor.execute(
            f"""
            UPDATE petitions_petition p SET signature_count = s.n, counted_at = now()
            FROM (SELECT petition_id, count(*) AS n FROM petitions_signature
                  WHERE petition_id > {base_petition} GROUP BY petition_id) s
            WHERE p.id = s.petition_id
            """
        )
        cursor.execute("VACUUM ANALYZE")  # a steady state, as autovacuum keeps it


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=Command.__doc__)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--petitions", type=int, default=100_000)
    parser.add_argument("--signatures", type=int, default=2_000_000)
    parser.add_argument("--hot", type=int, default=1000, help="petitions with many signers")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opencity.settings")
    import django

    django.setup()
    Command().handle(
        users=args.users, petitions=args.petitions, signatures=args.signatures, hot=args.hot
    )


if __name__ == "__main__":
    main()
