"""Faults under load: signing and voting at ~200 requests/s while Redis, a worker, PostgreSQL
and the mail server fail in turn. Nothing acknowledged may be lost or duplicated, no
request may answer a server error, and no task may stay unfinished 60 s after its fault.

Starts everything it uses, on its own ports (never the shared servers):
- Redis on 127.0.0.1:6395 (`redis-server`, no persistence), killed and restarted;
- PostgreSQL on 127.0.0.1:5495, its own cluster made with `initdb` in a temporary folder
  (as root it runs as the `postgres` user), database `bench_faults`, restarted;
- gunicorn on 127.0.0.1:9500 and a Celery worker with embedded beat, SIGKILLed mid-tally;
- an SMTP sink on 127.0.0.1:9525 (bench/_smtp_sink.py, a process of its own, as a real mail
  server is), stopped for BENCH_SMTP_DOWN_S.

Faults, one after the other: Redis down 30 s, worker SIGKILL during a 200,000-vote tally,
PostgreSQL restart, SMTP down 5 minutes. The bench itself queues one e-mail every half
second through the outbox (opencity.core.services.queue_email, as the apps do).

Last line: cases=… lost=0 duplicated=0 errors5xx=0 stuck=0 recovered_max_s=…, where
errors5xx counts every 5xx except a 503 with Retry-After while PostgreSQL is down, lost
counts acknowledged signatures and votes not stored and committed e-mails never received,
and stuck counts tasks (e-mail, tally) not finished 60 s after their fault ended.

Run under the machine's bench lock: flock /tmp/opencity-bench.lock .venv/bin/python bench/faults.py
Variables: BENCH_RATE (200), BENCH_SMTP_DOWN_S (300), BENCH_REDIS_DOWN_S (30),
BENCH_TALLY_VOTERS (40000; five votes each), BENCH_PETITIONS (16), BENCH_USERS (10000).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from _faults_common import (
    BIN,
    DB_NAME,
    HOST,
    MAX_VOTES,
    PETITIONS,
    PG_PORT,
    REDIS_DOWN,
    REDIS_PORT,
    ROOT,
    SMTP_DOWN,
    SMTP_PORT,
    STUCK_AFTER,
    TALLY_VOTERS,
    USERS,
    WEB_PORT,
    Load,
    Mailer,
    Postgres,
    SmtpSink,
    log,
    start_process,
    start_redis,
    stop_process,
)


# --- data ------------------------------------------------------------------------------------
def seed() -> dict:
    """Cities, 30 collecting petitions, a voting programme (500 projects) and a closed one
    with TALLY_VOTERS × 5 votes, USERS signed-in people (sessions in the database)."""
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection
    from django.utils import timezone

    os.environ["BENCH_VOTERS"] = str(TALLY_VOTERS)
    import tally as tally_bench  # bench/tally.py: the same vote loader
    from _initiatives_common import make_programme

    from initiatives.models import Category, Initiative, Programme
    from petitions.models import Petition
    from tests.petitions.factories import make_petition

    today = timezone.localdate()
    now = timezone.now()
    closed, closed_categories, author = make_programme(
        slug="tally",
        voting_opens=today - timedelta(days=20),
        voting_closes=today - timedelta(days=1),
        implementation_starts=today + timedelta(days=30),
        max_votes=MAX_VOTES,
    )
    tally_bench.load(closed, closed_categories, author)
    connection.connection.autocommit = False
    connection.close()
    city = closed.city
    voting = Programme.objects.create(
        city=city,
        title="Голосування",
        slug="voting",
        year=2027,
        total_budget=Decimal("50000000"),
        submission_opens=today - timedelta(days=90),
        submission_closes=today - timedelta(days=80),
        review_closes=today - timedelta(days=70),
        voting_opens=today - timedelta(days=1),
        voting_closes=today + timedelta(days=10),
        implementation_starts=today + timedelta(days=40),
        max_votes=MAX_VOTES,
    )
    categories = [
        Category.objects.create(
            programme=voting,
            name=f"Категорія {n}",
            budget=Decimal("10000000"),
            max_project_cost=Decimal("2000000"),
            position=n,
        )  # fmt: skip
        for n in range(5)
    ]
    initiatives = Initiative.objects.bulk_create(
        Initiative(
            programme=voting,
            category=categories[n % 5],
            author=author,
            title=f"Проєкт {n}",
            summary="s",
            description="d",
            address="a",
            total_cost=Decimal("100000"),
            status=Initiative.Status.ACCEPTED,
        )  # fmt: skip
        for n in range(500)
    )
    petitions = [
        make_petition(
            city, author=author, status=Petition.Status.COLLECTING, threshold=1_000_000
        ).pk
        for _ in range(PETITIONS)
    ]
    password = make_password("bench")
    from opencity.accounts.models import User

    auth_hash = User(password=password).get_session_auth_hash()
    store = SessionStore()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM accounts_user")
        first = cursor.fetchone()[0]
        cursor.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM account_emailaddress")
        first_email = cursor.fetchone()[0]
    people = []
    raw = connection.connection
    with raw.cursor() as cur:
        with cur.copy(
            "COPY accounts_user (id, password, is_superuser, email, full_name, "
            "preferred_language, home_city_id, date_of_birth, identity_provider, "
            "is_staff, is_active, date_joined) FROM STDIN"
        ) as copy:
            for uid in range(first, first + USERS):
                copy.write_row((uid, password, False, f"p{uid}@bench.local", f"Людина {uid}",
                                "uk", city.pk, today - timedelta(days=30 * 365), "", False,
                                True, now))  # fmt: skip
        with cur.copy(
            'COPY account_emailaddress (id, user_id, email, verified, "primary") FROM STDIN'
        ) as copy:
            for n, uid in enumerate(range(first, first + USERS)):
                copy.write_row((first_email + n, uid, f"p{uid}@bench.local", True, True))
        with cur.copy(
            "COPY django_session (session_key, session_data, expire_date) FROM STDIN"
        ) as copy:
            for uid in range(first, first + USERS):
                key = f"faults{uid:034d}"
                data = store.encode({
                    "_auth_user_id": str(uid),
                    "_auth_user_backend": settings.AUTHENTICATION_BACKENDS[0],
                    "_auth_user_hash": auth_hash,
                })  # fmt: skip
                copy.write_row((key, data, now + timedelta(days=1)))
                people.append((uid, key))
    raw.commit()
    with connection.cursor() as cursor:
        for table in ("accounts_user", "account_emailaddress"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT MAX(id) FROM {table}))"
            )
    return {
        "tally_programme": closed.pk,
        "voting_slug": voting.slug,
        "initiatives": [i.pk for i in initiatives],
        "petitions": petitions,
        "people": people,
    }


# --- the run ---------------------------------------------------------------------------------
def summarize(load: Load, start: float, end: float) -> str:
    rows = load.between(start, end)
    statuses = Counter(str(r[2]) for r in rows)
    rate = len(rows) / max(end - start, 0.001)
    return f"{len(rows)} requests ({rate:.0f}/s) {dict(statuses.most_common(6))}"


def wait_until(condition, timeout: float, step: float = 0.5) -> float | None:
    """Seconds until `condition()` held, or None after `timeout`."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        try:
            if condition():
                return time.monotonic() - began
        except Exception as exc:  # e.g. the database restarting: ask again
            if os.environ.get("BENCH_VERBOSE"):
                log(f"waiting: {type(exc).__name__}")
        time.sleep(step)
    return None


def main() -> None:  # noqa: C901 - one story, told in order
    folder = Path(tempfile.mkdtemp(prefix="opencity-faults-"))
    os.chmod(folder, 0o755)  # noqa: S103 - the postgres user must reach its data folder
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "opencity.settings",
        "DJANGO_ENV": "development",
        "DEBUG": "0",
        "DATABASE_URL": f"postgres://postgres@{HOST}:{PG_PORT}/{DB_NAME}",
        "DB_CONN_MAX_AGE": "60",
        "REDIS_URL": f"redis://{HOST}:{REDIS_PORT}/0",
        "CACHE_REDIS_URL": f"redis://{HOST}:{REDIS_PORT}/1",
        "CACHE_KEY_PREFIX": "bench-faults",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": HOST,
        "EMAIL_PORT": str(SMTP_PORT),
        "EMAIL_USE_TLS": "0",
        "LOG_LEVEL": "WARNING",
        "PYTHONWARNINGS": "ignore:No directory at:UserWarning",
        "MEDIA_ROOT": str(folder / "media"),
        "TRUSTED_PROXIES": "127.0.0.1/32",  # the load sends one X-Forwarded-For per person
        "RATE_LIMIT_SIGN_PER_MINUTE": "1000",
        "RATE_LIMIT_VOTE_PER_MINUTE": "1000",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    postgres = Postgres(folder)
    redis_process = web = worker = None
    sink = SmtpSink(folder)
    try:
        log(f"own PostgreSQL on :{PG_PORT}, Redis on :{REDIS_PORT}, SMTP sink on :{SMTP_PORT}")
        postgres.init()
        postgres.start()
        subprocess.run(["psql", "-h", HOST, "-p", str(PG_PORT), "-U", "postgres", "-qc",
                        f"CREATE DATABASE {DB_NAME}"], check=True)  # fmt: skip
        redis_process = start_redis(folder)
        sink.start()
        subprocess.run([str(BIN / "python"), "manage.py", "migrate", "-v0"], cwd=ROOT, env=env,
                       check=True)  # fmt: skip
        import django

        django.setup()
        data = seed()
        log(f"seeded {USERS} people, {PETITIONS} petitions, 500 projects, "
            f"{TALLY_VOTERS * 5:,} votes to tally")  # fmt: skip
        web = start_process(env, [str(BIN / "gunicorn"), "opencity.wsgi", "-b",
                                  f"{HOST}:{WEB_PORT}", "-w", "3", "-k", "gthread", "--threads",
                                  "8", "--backlog", "2048"], folder / "web.log")  # fmt: skip

        def start_worker():
            return start_process(env, [str(BIN / "celery"), "-A", "opencity", "worker", "-B",
                                       "-l", "info", "--concurrency", "4", "-s",
                                       str(folder / "beat-schedule")],
                                 folder / "worker.log")  # fmt: skip

        worker = start_worker()
        assert wait_until(lambda: _get("/healthz") == 200, 60) is not None, "no web server"
        baseline = _latency("/healthz", 50)
        load, mailer = Load(data), Mailer()
        load.start()
        mailer.start()
        time.sleep(10)
        log(f"steady: {summarize(load, time.monotonic() - 10, time.monotonic())}")

        from django.db import connection

        from initiatives.models import ResultSnapshot
        from opencity.queue import send_now

        def delivered_all_before(moment: float):
            return lambda: all(
                sink.received[to] for to, at in list(mailer.committed.items()) if at <= moment
            )

        cases, stuck, recovered = [], 0, []

        # 1. Redis down ------------------------------------------------------------------
        began = time.monotonic()
        stop_process(redis_process, signal.SIGKILL)
        time.sleep(REDIS_DOWN)
        redis_process = start_redis(folder)
        ended = time.monotonic()
        seconds = wait_until(delivered_all_before(ended), STUCK_AFTER)
        stuck += seconds is None
        recovered.append(seconds or STUCK_AFTER)
        cases.append("redis")
        log(f"fault redis_down_{REDIS_DOWN:.0f}s: {summarize(load, began, ended)}; mail queued "
            f"during it all delivered {seconds if seconds is None else round(seconds, 1)} s "
            "after Redis returned")  # fmt: skip

        # 2. Worker SIGKILL mid-tally ----------------------------------------------------
        from initiatives.tasks import tally

        connection.close()
        worker_log = folder / "worker.log"
        log_offset = worker_log.stat().st_size
        send_now(tally, data["tally_programme"])

        def tally_running():
            """The worker holds the task: it logged its receipt, or its query is running."""
            with worker_log.open("rb") as handle:
                handle.seek(log_offset)
                if b"initiatives.tasks.tally[" in handle.read():
                    return True
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                    "AND query LIKE %s AND pid <> pg_backend_pid()",
                    ["%counts AS MATERIALIZED%"],
                )
                return cursor.fetchone()[0] > 0

        running = wait_until(tally_running, 60, step=0.005)
        mid = (
            running is not None
            and not ResultSnapshot.objects.filter(programme_id=data["tally_programme"]).exists()
        )
        began = time.monotonic()
        stop_process(worker, signal.SIGKILL)
        worker = start_worker()
        ended = time.monotonic()
        seconds = wait_until(
            lambda: ResultSnapshot.objects.filter(programme_id=data["tally_programme"]).exists(),
            STUCK_AFTER + 30,
        )
        if seconds is None or seconds > STUCK_AFTER:
            stuck += 1
        recovered.append(seconds or STUCK_AFTER)
        snapshots = ResultSnapshot.objects.filter(programme_id=data["tally_programme"]).count()
        cases.append("worker")
        log(
            f"fault worker_sigkill_mid_tally: killed {'during' if mid else 'NOT during'} the "
            f"tally; result stored {seconds if seconds is None else round(seconds, 1)} s after "
            f"the new worker started; snapshots={snapshots}; {summarize(load, began, ended)}"
        )
        connection.close()

        # 3. PostgreSQL restart -----------------------------------------------------------
        began = time.monotonic()
        postgres.restart()
        ended = time.monotonic()
        pg_window = (began, ended + 1.0)

        def served_after():
            return any(r[2] in (200, 302) for r in load.between(ended, time.monotonic()))

        seconds = wait_until(served_after, STUCK_AFTER, step=0.05)
        recovered.append(seconds or STUCK_AFTER)
        stuck += seconds is None
        cases.append("postgres")
        time.sleep(3)
        log(f"fault postgres_restart ({ended - began:.1f} s down): "
            f"{summarize(load, began, ended + 3)}; requests succeed again "
            f"{seconds if seconds is None else round(seconds, 2)} s after")  # fmt: skip

        # 4. SMTP down --------------------------------------------------------------------
        began = time.monotonic()
        sink.stop()
        time.sleep(SMTP_DOWN)
        sink.start()
        ended = time.monotonic()
        seconds = wait_until(delivered_all_before(ended), STUCK_AFTER + 60)
        if seconds is None or seconds > STUCK_AFTER:
            stuck += 1
        recovered.append(seconds or STUCK_AFTER)
        cases.append("smtp")
        log(f"fault smtp_down_{SMTP_DOWN:.0f}s: mail queued meanwhile "
            f"{sum(1 for at in mailer.committed.values() if began <= at < ended)}, all delivered "
            f"{seconds if seconds is None else round(seconds, 1)} s after the server returned; "
            f"{summarize(load, began, ended)}")  # fmt: skip

        time.sleep(5)
        load.stop()
        mailer.stop()
        finished = time.monotonic()
        # "lost" means never sent: give the queues time to drain (stuck is judged above)
        drained = wait_until(delivered_all_before(finished), 300, step=2)
        log(f"all committed e-mails delivered {drained if drained is None else round(drained)} s "
            "after the load stopped")  # fmt: skip

        # --- the accounts ----------------------------------------------------------------
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("SELECT petition_id, user_id FROM petitions_signature")
            stored_signatures = set(cursor.fetchall())
            cursor.execute(
                "SELECT initiative_id, voter_id FROM initiatives_vote v JOIN initiatives_programme"
                " p ON p.id = v.programme_id WHERE p.slug = %s",
                [data["voting_slug"]],
            )
            stored_votes = set(cursor.fetchall())
            cursor.execute(
                "SELECT count(*) FROM (SELECT 1 FROM petitions_signature GROUP BY petition_id, "
                "user_id HAVING count(*) > 1) d"
            )
            duplicate_rows = cursor.fetchone()[0]
        lost_signatures = len(load.signed - stored_signatures)
        lost_votes = len(load.voted - stored_votes)
        sink.reread()
        lost_mail = sum(1 for to in mailer.committed if not sink.received[to])
        # Two different messages to one recipient is a duplicate; the same message (one
        # Message-ID) delivered again after a worker died mid-send is SMTP's at-least-once,
        # which mail servers and clients collapse: counted apart.
        duplicated_mail = sum(1 for ids in sink.message_ids.values() if len(ids) > 1)
        resent_same_id = sum(
            1 for to, n in sink.received.items() if n > 1 and len(sink.message_ids[to]) == 1
        )
        duplicated = duplicate_rows + duplicated_mail + max(snapshots - 1, 0)
        errors5xx = 0
        for at, _kind, status, retry in load.results:
            if isinstance(status, int) and status >= 500:
                during_pg = pg_window[0] <= at <= pg_window[1]
                if not (status == 503 and retry and during_pg):
                    errors5xx += 1
        other_failures = Counter(
            str(r[2]) for r in load.results if not isinstance(r[2], int) or r[2] not in (200, 302)
        )
        sign_latency = _latency_from_results(load)
        log(
            f"requests: {len(load.results)} at "
            f"{len(load.results) / (finished - load_started(load)):.0f}/s; "
            f"acknowledged signatures {len(load.signed)}, votes {len(load.voted)}, e-mails "
            f"{len(mailer.committed)}; answers other than 200/302: {dict(other_failures)}"
        )
        log(
            f"baseline: /healthz p50 {baseline * 1000:.1f} ms; signing/voting p50 "
            f"{sign_latency * 1000:.1f} ms ({sign_latency / baseline:.1f}x the baseline); "
            "machine shared with other helpers"
        )
        log(f"lost: signatures {lost_signatures}, votes {lost_votes}, e-mails {lost_mail}; "
            f"duplicated: signature rows {duplicate_rows}, e-mails {duplicated_mail} (and "
            f"{resent_same_id} resent with the same Message-ID after a worker death), "
            f"tally snapshots {max(snapshots - 1, 0)}")  # fmt: skip
        print(
            f"cases={len(cases)} lost={lost_signatures + lost_votes + lost_mail} "
            f"duplicated={duplicated} errors5xx={errors5xx} stuck={stuck} "
            f"recovered_max_s={max(recovered):.1f}",
            flush=True,
        )
    finally:
        stop_process(web)
        stop_process(worker)
        stop_process(redis_process)
        sink.stop()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)


def load_started(load: Load) -> float:
    return load.results[0][0] if load.results else time.monotonic() - 1


def _latency_from_results(load: Load) -> float:
    samples = sorted(load.latencies)
    return samples[len(samples) // 2] if samples else 0.0


def _get(path: str) -> int:
    connection = http.client.HTTPConnection(HOST, WEB_PORT, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": f"{HOST}:{WEB_PORT}"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _latency(path: str, count: int) -> float:
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        _get(path)
        samples.append(time.perf_counter() - began)
    samples.sort()
    return samples[len(samples) // 2]


if __name__ == "__main__":
    main()
