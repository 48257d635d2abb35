"""Benchmark: tally 1,000,000 votes across 500 initiatives in 5 categories.

Bulk-loads users, ballots and votes with COPY (psycopg) into a scratch database, then times
the Celery tally task (run in-process) and, on the same rows, a plain SQL GROUP BY count,
once per greedy winner rule. One line per rule: rule=… seconds=… ratio=… (target: ratio ≤
1.5), then the classic last line tally_s=… raw_groupby_s=… ratio=… for the default rule.
With BENCH_EQUAL_SHARES_VOTERS=N (e.g. 100000) it also times the Method of Equal Shares
with add-one on N voters × 60 projects: rule=equal_shares seconds=… (target ≤ 60 s).

    .venv/bin/python bench/tally.py [--keep]
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal

from _initiatives_common import (
    create_database,
    drop_database,
    flush_cache,
    make_programme,
    setup_django,
)

VOTERS = int(os.environ.get("BENCH_VOTERS", "200000"))
VOTES_PER_VOTER = 5  # 1,000,000 votes
RUNS = 5  # medians of five: the machine is shared
CATEGORIES = 5
PER_CATEGORY = 100  # 500 initiatives


def load(programme, categories, author) -> list:
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.utils import timezone

    from initiatives.models import Initiative

    now = timezone.now()
    initiatives = Initiative.objects.bulk_create(
        Initiative(
            programme=programme,
            category=categories[n % CATEGORIES],
            author=author,
            title=f"Проєкт {n}",
            summary="s",
            description="d",
            address="a",
            total_cost=Decimal(random.randrange(50, 500) * 1000),
            status=Initiative.Status.ACCEPTED,
            submitted_at=now - timedelta(days=60, minutes=n),
        )
        for n in range(CATEGORIES * PER_CATEGORY)
    )
    by_category = {}
    for initiative in initiatives:
        by_category.setdefault(initiative.category_id, []).append(initiative)
    # Skewed popularity so that there are clear winners, like a real vote.
    weights = {
        cat: [1.0 / (rank + 1) ** 0.8 for rank in range(len(items))]
        for cat, items in by_category.items()
    }
    password = make_password("bench")
    raw = connection.connection  # psycopg 3 connection under Django
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM accounts_user")
        first_user = cursor.fetchone()[0] + 1
    with raw.cursor() as cur:
        with cur.copy(
            "COPY accounts_user (id, password, is_superuser, email, full_name, "
            "preferred_language, identity_provider, is_staff, is_active, date_joined) "
            "FROM STDIN"
        ) as copy:
            for i in range(VOTERS):
                uid = first_user + i
                copy.write_row(
                    (
                        uid,
                        password,
                        False,
                        f"v{uid}@bench.local",
                        f"Виборець {uid}",
                        "uk",
                        "",
                        False,
                        True,
                        now,
                    )
                )
        with cur.copy(
            "COPY initiatives_ballot (id, voter_id, programme_id, notify, created_at) FROM STDIN"
        ) as copy:
            for i in range(VOTERS):
                copy.write_row((i + 1, first_user + i, programme.pk, False, now))
        cats = list(by_category)
        with cur.copy(
            "COPY initiatives_vote (id, ballot_id, voter_id, programme_id, "
            "initiative_id, category_id, position, created_at) FROM STDIN"
        ) as copy:
            vote_id = 0
            for i in range(VOTERS):
                chosen = set()
                for position in range(1, VOTES_PER_VOTER + 1):
                    cat = cats[(i + position) % CATEGORIES]
                    while True:
                        pick = random.choices(by_category[cat], weights[cat])[0]
                        if pick.pk not in chosen:
                            break
                    chosen.add(pick.pk)
                    vote_id += 1
                    copy.write_row(
                        (vote_id, i + 1, first_user + i, programme.pk, pick.pk, cat, position, now)
                    )
    raw.commit()
    with connection.cursor() as cursor:
        for table in ("accounts_user", "initiatives_ballot", "initiatives_vote"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT MAX(id) FROM {table}))"
            )
    connection.connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE initiatives_vote")
        cursor.execute("VACUUM ANALYZE initiatives_ballot")
    print(f"loaded {vote_id:,} votes of {VOTERS:,} voters in {time.perf_counter() - started:.1f} s")
    return initiatives


ES_VOTERS = int(os.environ.get("BENCH_EQUAL_SHARES_VOTERS", "0"))
ES_PROJECTS = 60


def equal_shares_line() -> str:
    """MES with add-one on ES_VOTERS approval ballots (1-5 of 60 projects, skewed), in
    process on the pure rule (the tally adds one grouped query to it)."""
    from collections import Counter
    from fractions import Fraction

    from initiatives.services.winners import Candidate, equal_shares

    rng = random.Random(7)
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(ES_PROJECTS)]
    ballots: Counter = Counter()
    for _ in range(ES_VOTERS):
        picks = set(rng.choices(range(ES_PROJECTS), weights, k=rng.randint(1, 5)))
        ballots[frozenset(picks)] += 1
    votes = Counter(pk for ballot, m in ballots.items() for pk in ballot for _ in range(m))
    candidates = [
        Candidate(pk, Fraction(rng.randrange(50, 500) * 1000), votes[pk], pk)
        for pk in range(ES_PROJECTS)
    ]
    steps = []
    started = time.perf_counter()
    equal_shares(candidates, ballots, ES_VOTERS, Fraction(10_000_000), progress=steps.append)
    seconds = time.perf_counter() - started
    return (
        f"rule=equal_shares seconds={seconds:.1f} voters={ES_VOTERS} projects={ES_PROJECTS} "
        f"distinct_ballots={len(ballots)} add1_steps={len(steps)}"
    )


def main() -> None:
    keep = "--keep" in sys.argv
    random.seed(42)
    create_database()
    try:
        setup_django()
        flush_cache()
        from django.db import connection, transaction
        from django.utils import timezone

        from initiatives import tasks
        from initiatives.models import ResultSnapshot

        today = timezone.localdate()
        programme, categories, author = make_programme(
            slug="bench",
            voting_opens=today - timedelta(days=30),
            voting_closes=today - timedelta(days=1),
            implementation_starts=today + timedelta(days=30),
            categories=CATEGORIES,
            max_votes=VOTES_PER_VOTER,
        )
        load(programme, categories, author)

        raw_sql = (
            "SELECT initiative_id, count(*) FROM initiatives_vote WHERE programme_id = %s "
            "GROUP BY initiative_id"
        )

        def raw_groupby() -> float:
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(raw_sql, [programme.pk])
                rows = cursor.fetchall()
            assert len(rows) == CATEGORIES * PER_CATEGORY
            return time.perf_counter() - started

        def tally_task() -> float:
            started = time.perf_counter()
            tasks.tally.apply(args=(programme.pk,)).get()
            return time.perf_counter() - started

        raw_groupby()  # warm the cache for both measurements alike
        with connection.cursor() as cursor:  # and the index that counts voters
            cursor.execute("SELECT count(*) FROM initiatives_vote WHERE position = 1")
        # The whole-budget rule first, then today's rule (the classic last line). Frozen
        # rules are read-only: only the benchmark switches the rule, bypassing the triggers.
        per_rule = []
        for rule in ("budget_greedy", "category_greedy"):
            tasks.tally.apply(args=(programme.pk,)).get()  # freezes the rules on first run
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = replica")
                cursor.execute(
                    "UPDATE initiatives_frozenrules SET winner_rule = %s WHERE programme_id = %s",
                    [rule, programme.pk],
                )
                cursor.execute("DELETE FROM initiatives_resultrow")
                cursor.execute("DELETE FROM initiatives_resultsnapshot")
            raw_times, tally_times = [], []
            for run in range(RUNS):
                raw_times.append(raw_groupby())
                if run:  # the benchmark removes the result to time a full tally again
                    ResultSnapshot.objects.all().delete()
                tally_times.append(tally_task())
            raw_times.append(raw_groupby())
            rule_s, rule_raw = statistics.median(tally_times), statistics.median(raw_times)
            per_rule.append(f"rule={rule} seconds={rule_s:.3f} ratio={rule_s / rule_raw:.2f}")
        again_s = tally_task()  # same votes: returns the existing snapshot, records nothing
        snapshot = ResultSnapshot.objects.get()
        assert ResultSnapshot.objects.count() == 1, "the second run must record nothing new"
        assert snapshot.total_votes == VOTERS * VOTES_PER_VOTER
        raw_s = statistics.median(raw_times)
        tally_s = statistics.median(tally_times)
        winners = snapshot.rows.filter(winner=True).count()
        print(
            f"snapshot: {snapshot.total_votes:,} votes, "
            f"{winners} winners, funded {snapshot.funded_amount} UAH"
        )
        print("full tally task runs (s): " + ", ".join(f"{t:.3f}" for t in tally_times))
        print("raw GROUP BY runs (s): " + ", ".join(f"{t:.3f}" for t in raw_times))
        print(f"idempotent re-run (same votes, nothing recorded): {again_s:.3f} s; medians below")
        connection.close()
        for line in per_rule:
            print(line)
        if ES_VOTERS:
            print(equal_shares_line())
        print(f"tally_s={tally_s:.3f} raw_groupby_s={raw_s:.3f} ratio={tally_s / raw_s:.2f}")
    finally:
        if not keep:
            from django.db import connections

            connections.close_all()
            drop_database()


if __name__ == "__main__":
    main()
