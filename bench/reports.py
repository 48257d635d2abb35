#!/usr/bin/env python
"""Benchmark of the directors' reports (issue 5). Prints figures; it is not a test.

Creates the PostgreSQL database `bench_members` (dropped at the end unless --keep), imports
all hromadas, then bulk-inserts five years of history: membership events for every hromada,
e-service adoptions, dues invoices and payments, 100,000 petitions and 20,000 training
registrations (through the petitions and academy models), plus 20,000 participatory-budget
initiatives with published results (initiatives models). Each report page is rendered
through Django's test client (full middleware stack, signed-in director) 25 times after two
warm-up runs; p50/p95/max and the query count are printed, then every export is timed.

    .venv/bin/python bench/reports.py [--runs 25] [--keep]

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/bench_members),
BENCH_REDIS_URL (default redis://127.0.0.1:6379/13).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import warnings
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_members")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "opencity.settings",
        "DJANGO_ENV": "test",
        "DEBUG": "0",
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "CACHE_REDIS_URL": REDIS_URL,
    }
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _surveys_common import measure_surveys, populate_surveys, staff_client  # noqa: E402

warnings.filterwarnings("ignore", message="No directory at")  # collectstatic is not needed here

PETITIONS = 100_000
REGISTRATIONS = 20_000
INITIATIVES = 20_000
YEARS = 5


def _admin_connection():
    import psycopg

    parts = urlsplit(DB_URL)
    return psycopg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        dbname="postgres",
        autocommit=True,
    )


def create_database() -> str:
    name = urlsplit(DB_URL).path.lstrip("/")
    with _admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    from django.db import connections

    connections.close_all()
    with _admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def timed(label: str):
    class _Timer:
        def __enter__(self):
            self.start = time.perf_counter()
            return self

        def __exit__(self, *exc):
            print(f"  {label}: {time.perf_counter() - self.start:.1f} s", flush=True)

    return _Timer()


# --- data -------------------------------------------------------------------------------------
def populate(rng: random.Random, today: date) -> dict:
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from academy.models import Course, Registration, Session
    from members.models import CityEService, DuesTier, EProduct, Invoice, MembershipEvent, Payment
    from opencity.accounts.models import User
    from opencity.cities.access import DIRECTORS_GROUP
    from opencity.cities.models import City
    from opencity.cities.services import import_hromadas
    from petitions.models import Petition

    tz = timezone.get_current_timezone()
    start = date(today.year - YEARS, today.month, 1)
    span = (today - start).days

    def some_day(after: date = start) -> date:
        room = max((today - after).days, 0)
        return after + timedelta(days=rng.randint(0, room))

    def moment(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, rng.randint(7, 21), rng.randint(0, 59),
                        tzinfo=tz)  # fmt: skip

    with timed("import hromadas"):
        import_hromadas()
    cities = list(City.objects.values_list("pk", "population"))

    with timed("membership history, e-services, dues"):
        events, members = [], []
        for city_id, _population in cities:
            if rng.random() < 0.08:
                continue  # never applied
            d0 = start + timedelta(days=rng.randint(0, span // 2))
            events.append(MembershipEvent(city_id=city_id, status="candidate", effective_on=d0,
                                          decided_by="board", decision_date=d0))  # fmt: skip
            if rng.random() < 0.15:
                continue  # still a candidate
            d1 = d0 + timedelta(days=rng.randint(30, 200))
            events.append(MembershipEvent(city_id=city_id, status="member", effective_on=d1,
                                          decided_by="assembly", decision_date=d1,
                                          decision_ref=f"GA-{d1.year}/{city_id}"))  # fmt: skip
            members.append((city_id, d1))
            roll = rng.random()
            if roll < 0.10:
                d2 = some_day(d1 + timedelta(days=1))
                events.append(MembershipEvent(city_id=city_id, status="suspended",
                                              effective_on=d2, decided_by="board"))  # fmt: skip
                if rng.random() < 0.5 and d2 < today - timedelta(days=2):
                    d3 = some_day(d2 + timedelta(days=1))
                    events.append(MembershipEvent(city_id=city_id, status="member",
                                                  effective_on=d3, decided_by="board"))  # fmt: skip
            elif roll < 0.15:
                d2 = some_day(d1 + timedelta(days=1))
                events.append(MembershipEvent(city_id=city_id, status="withdrawn",
                                              effective_on=d2, decided_by="assembly"))  # fmt: skip
        MembershipEvent.objects.bulk_create(events, batch_size=2000)

        categories = [c for c, _label in EProduct.Category.choices]
        products = EProduct.objects.bulk_create(
            [
                EProduct(
                    name=f"Е-продукт {n:02d}",
                    slug=f"product-{n:02d}",
                    category=categories[n % 4],
                    developer="OpenCity",
                    licence="MIT",
                )
                for n in range(1, 16)
            ]  # fmt: skip
        )
        adoptions = []
        for city_id, _p in cities:
            for product in rng.sample(products, rng.randint(0, 5)):
                adoptions.append(CityEService(city_id=city_id, product=product,
                                              since=some_day()))  # fmt: skip
        CityEService.objects.bulk_create(adoptions, batch_size=5000)

        tiers = DuesTier.objects.bulk_create(
            [
                DuesTier(name="до 50 тис.", min_population=0, max_population=49_999,
                         entry_fee=Decimal("5000.00"), annual_dues=Decimal("12000.00")),
                DuesTier(name="50–200 тис.", min_population=50_000, max_population=199_999,
                         entry_fee=Decimal("10000.00"), annual_dues=Decimal("24000.00")),
                DuesTier(name="понад 200 тис.", min_population=200_000,
                         entry_fee=Decimal("20000.00"), annual_dues=Decimal("48000.00")),
            ]
        )  # fmt: skip
        population = dict(cities)
        invoices = []
        for city_id, joined in members:
            people = population[city_id] or 0
            tier = tiers[0] if people < 50_000 else tiers[1] if people < 200_000 else tiers[2]
            for year in range(joined.year, today.year + 1):
                invoices.append(
                    Invoice(city_id=city_id, year=year, tier=tier, annual_dues=tier.annual_dues,
                            entry_fee=tier.entry_fee if year == joined.year else Decimal("0"),
                            issued_on=date(year, 1, 20), number=f"B-{year}-{city_id}")
                )  # fmt: skip
        invoices = Invoice.objects.bulk_create(invoices, batch_size=5000)
        payments = []
        for invoice in invoices:
            owed = invoice.annual_dues + invoice.entry_fee
            if invoice.year < today.year and rng.random() < 0.85:
                first = (owed * Decimal(rng.choice(["0.5", "0.3", "1"]))).quantize(Decimal("0.01"))
                payments.append(Payment(invoice=invoice, amount=first,
                                        paid_on=date(invoice.year, 3, 1)))  # fmt: skip
                if first < owed and rng.random() < 0.7:
                    payments.append(Payment(invoice=invoice, amount=owed - first,
                                            paid_on=date(invoice.year, 9, 1)))  # fmt: skip
        Payment.objects.bulk_create(payments, batch_size=5000)
    print(f"    {len(events)} membership events, {len(adoptions)} adoptions, "
          f"{len(invoices)} invoices, {len(payments)} payments", flush=True)  # fmt: skip

    with timed("users"):
        users = User.objects.bulk_create(
            [User(email=f"bench{n}@example.org", full_name=f"Учасник {n}", password="!")
             for n in range(6000)],
            batch_size=5000,
        )  # fmt: skip
        director = User.objects.create_user(email="director@bench.example", password="x",
                                            full_name="Директор", is_staff=True)  # fmt: skip
        director.groups.add(Group.objects.get_or_create(name=DIRECTORS_GROUP)[0])

    with timed(f"{PETITIONS:,} petitions"):
        # Bigger hromadas file more petitions.
        weights = [max(p or 1000, 1000) ** 0.7 for _c, p in cities]
        city_ids = [c for c, _p in cities]
        batch = []
        for n in range(PETITIONS):
            city_id = rng.choices(city_ids, weights)[0]
            submitted = moment(some_day())
            row = Petition(city_id=city_id, author=users[n % len(users)], author_name="Автор",
                           title=f"Петиція {n}", text="Текст петиції.", status="submitted",
                           submitted_at=submitted)  # fmt: skip
            roll = rng.random()
            if roll < 0.9:
                row.published_at = submitted + timedelta(days=rng.randint(0, 2), hours=2)
                row.threshold, row.collection_days = 300, 60
                row.collection_ends_at = row.published_at + timedelta(days=60)
                row.status = "closed"
                if roll < 0.06:
                    row.reached_at = row.published_at + timedelta(days=rng.randint(1, 59))
                    row.status = "reached"
                    if roll < 0.05:
                        row.answered_at = row.reached_at + timedelta(days=rng.randint(1, 20))
                        row.answered_on_time = row.answered_at - row.reached_at <= timedelta(14)
                        row.response_decision = "partly"
                        row.status = "answered"
                elif roll < 0.3:
                    row.status = "collecting"
            elif roll < 0.95:
                row.status, row.rejection_ground = "rejected", "personal_interest"
            batch.append(row)
            if len(batch) == 5000:
                Petition.objects.bulk_create(batch)
                batch = []
        Petition.objects.bulk_create(batch)

    with timed(f"{REGISTRATIONS:,} training registrations"):
        courses = Course.objects.bulk_create(
            [Course(title=f"Курс {n}", slug=f"course-{n}", description="Опис",
                    audience="працівники рад", format="online") for n in range(12)]
        )  # fmt: skip
        sessions = []
        for n in range(REGISTRATIONS // 50):
            starts = moment(some_day())
            sessions.append(Session(course=courses[n % len(courses)], starts_at=starts,
                                    ends_at=starts + timedelta(hours=4),
                                    hours=Decimal(rng.choice(["2.0", "4.0", "6.5"])),
                                    capacity=60, registration_deadline=starts))  # fmt: skip
        sessions = Session.objects.bulk_create(sessions)
        member_ids = [c for c, _d in members]
        registrations = []
        for session in sessions:
            for user in rng.sample(users, 50):
                registrations.append(
                    Registration(session=session, user=user, city_id=rng.choice(member_ids),
                                 status="seated", attended=rng.random() < 0.85)
                )  # fmt: skip
        Registration.objects.bulk_create(registrations, batch_size=5000)

    with timed(f"{INITIATIVES:,} initiatives in participatory budgets, with results"):
        populate_initiatives(rng, today, [c for c, _d in members], users)

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"director": director}


def populate_initiatives(rng: random.Random, today: date, member_ids: list[int], users) -> None:
    from django.utils import timezone

    from initiatives.models import Category, Initiative, Programme, ResultRow, ResultSnapshot

    tz = timezone.get_current_timezone()
    cities = rng.sample(member_ids, min(200, len(member_ids)))
    per_programme = INITIATIVES // (len(cities) * YEARS)
    programmes = []
    for city_id in cities:
        for year in range(today.year - YEARS, today.year):
            programmes.append(
                Programme(city_id=city_id, title=f"Громадський бюджет {year}",
                          slug=f"pb-{city_id}-{year}", year=year,
                          total_budget=Decimal("5000000.00"),
                          submission_opens=date(year, 2, 1), submission_closes=date(year, 3, 31),
                          review_closes=date(year, 5, 31), voting_opens=date(year, 6, 1),
                          voting_closes=date(year, 6, 30), implementation_starts=date(year, 9, 1))
            )  # fmt: skip
    programmes = Programme.objects.bulk_create(programmes, batch_size=2000)
    categories = Category.objects.bulk_create(
        [Category(programme=p, name="Малі проєкти", budget=Decimal("5000000.00"),
                  max_project_cost=Decimal("500000.00")) for p in programmes],
        batch_size=2000,
    )  # fmt: skip
    initiatives = []
    for programme, category in zip(programmes, categories, strict=True):
        for n in range(per_programme):
            day = date(programme.year, 2, 1) + timedelta(days=rng.randint(0, 58))
            initiatives.append(
                Initiative(programme=programme, category=category, author=rng.choice(users),
                           title=f"Проєкт {n}", summary="Короткий опис", description="Опис",
                           address="вул. Центральна, 1", total_cost=Decimal("250000.00"),
                           status="accepted",
                           submitted_at=datetime(day.year, day.month, day.day, 12, tzinfo=tz))
            )  # fmt: skip
    initiatives = Initiative.objects.bulk_create(initiatives, batch_size=5000)
    snapshots = ResultSnapshot.objects.bulk_create(
        [ResultSnapshot(programme=p, content_hash="0" * 64, total_votes=1000, total_voters=500,
                        funded_amount=Decimal("1250000.00"),
                        published_at=datetime(p.year, 7, 5, 12, tzinfo=tz)) for p in programmes]
    )  # fmt: skip
    rows = []
    for k, (snapshot, category) in enumerate(zip(snapshots, categories, strict=True)):
        chunk = initiatives[k * per_programme : (k + 1) * per_programme]
        for rank, initiative in enumerate(chunk, start=1):
            rows.append(ResultRow(snapshot=snapshot, initiative=initiative, category=category,
                                  rank=rank, votes=1000 - rank, amount=initiative.total_cost,
                                  winner=rank <= 5))  # fmt: skip
    ResultRow.objects.bulk_create(rows, batch_size=5000)


def populate_director():
    from django.contrib.auth.models import Group

    from opencity.accounts.models import User
    from opencity.cities.access import DIRECTORS_GROUP

    director = User.objects.create_user(
        email="director@bench.example", password="x", full_name="Директор", is_staff=True
    )
    director.groups.add(Group.objects.get_or_create(name=DIRECTORS_GROUP)[0])
    return director


# --- measurements ------------------------------------------------------------------------------
def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def measure(director, runs: int, today: date) -> None:
    from django.db import connection

    client = staff_client(director)
    last_year = today.year - 1
    cases = [
        ("membership", {}),  # default: five calendar years, monthly
        ("period", {"date_from": f"{last_year}-01-01", "date_to": f"{last_year}-09-30"}),
        ("eservices", {}),
        ("dues", {}),
        ("activity", {"date_from": f"{last_year}-01-01", "date_to": f"{last_year}-12-31"}),
    ]
    print(f"\nReport pages ({runs} runs each after 2 warm-ups; target p95 <= 300 ms)")
    print(f"{'report':<12}{'queries':>8}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'KB':>7}")
    for slug, params in cases:
        url = f"/reports/{slug}/"
        for _ in range(2):
            assert client.get(url, params).status_code == 200
        queries = []

        def record(execute, sql, params_, many, context, queries=queries):
            queries.append(sql)
            return execute(sql, params_, many, context)

        with connection.execute_wrapper(record):
            response = client.get(url, params)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            response = client.get(url, params)
            times.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200
        size = len(response.content) / 1024
        print(f"{slug:<12}{len(queries):>8}{statistics.median(times):>9.0f}"
              f"{p95(times):>9.0f}{max(times):>9.0f}{size:>7.0f}")  # fmt: skip

    print("\nExports and print views (5 runs each; target <= 2 s for the full matrix)")
    print(f"{'export':<24}{'median ms':>10}{'max ms':>9}{'rows':>7}{'KB':>7}")
    for slug, params in cases:
        for kind in ("xlsx", "csv", "print"):
            url = f"/reports/{slug}/" + ("" if kind == "print" else f"export.{kind}")
            query = {**params, "print": "1"} if kind == "print" else params
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                response = client.get(url, query)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200
            rows = ""
            if kind == "csv":
                rows = response.content.decode("utf-8-sig").count("\n")
            print(f"{slug + ' ' + kind:<24}{statistics.median(times):>10.0f}{max(times):>9.0f}"
                  f"{rows!s:>7}{len(response.content) / 1024:>7.0f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--surveys-only", action="store_true", help="only hromadas and the council surveys"
    )
    args = parser.parse_args()

    name = create_database()
    print(f"database {name} created", flush=True)
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.utils import timezone

        with timed("migrate"):
            call_command("migrate", verbosity=0)
        today = timezone.localdate()
        rng = random.Random(2015)
        print("populating:", flush=True)
        if args.surveys_only:
            data = {"director": populate_director()}
            with timed("import hromadas"):
                from opencity.cities.services import import_hromadas

                import_hromadas()
        else:
            data = populate(rng, today)
            measure(data["director"], args.runs, today)
        with timed("council surveys: 2 waves x 1,469 councils x 60 questions"):
            waves = populate_surveys(rng, today)
        measure_surveys(data["director"], waves, args.runs)
    finally:
        if args.keep:
            print(f"\ndatabase {name} kept")
        else:
            drop_database(name)
            print(f"\ndatabase {name} dropped")


if __name__ == "__main__":
    main()
