"""E-City Academy benchmark: N users race for a small session over HTTP, then certificates.

    .venv/bin/python bench/enrol_surge.py [--users 2000] [--seats 100] [--clients 48]

What it does, bounded in time and cleaning up after itself:
1. creates the PostgreSQL database `bench_academy` (dropped first if left over) and migrates;
2. creates the users, a signed-in session for each (rows in the sessions table) and one
   session of a course with `--seats` seats;
3. starts gunicorn (4 sync workers, as in the README) on 127.0.0.1:8121 against that
   database and Redis db 14, and warms each worker up with a few page views;
4. fires one POST /academy/sessions/<id>/register/ per user from `--clients` threads over
   http.client, all released at the same moment, timing each request;
5. checks the rows: seated, waitlisted, overbooked (seated beyond capacity), duplicates;
6. times certificate PDF generation (render + store + outbox e-mail) for `--certificates`;
7. stops gunicorn, drops the database, flushes Redis db 14.

The last line is `enrol_rps=… p99_ms=… seated=… waitlisted=… overbooked=…`.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _addresses as addresses  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "bench_academy"
PG = "postgres://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/14"
HOST, PORT = "127.0.0.1", 8121


def configure_environment(tmp: Path) -> dict:
    env = {
        "DJANGO_SETTINGS_MODULE": "opencity.settings",
        "DJANGO_ENV": "development",
        "DEBUG": "0",
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "REDIS_URL": REDIS,
        "CACHE_REDIS_URL": REDIS,
        "CACHE_KEY_PREFIX": "bench-academy",
        "LOG_LEVEL": "WARNING",
        "PYTHONWARNINGS": "ignore:No directory at:UserWarning",
        "MEDIA_ROOT": str(tmp / "media"),
        "PRIVATE_FILES_ROOT": str(tmp / "private"),
        **addresses.ENV,
    }
    os.environ.update(env)
    return {**os.environ, **env}


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def drop_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def seed(users: int, seats: int) -> tuple[int, list[tuple[str, str]]]:
    """Users, their signed-in sessions and one session; returns (session id, cookies)."""
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.cached_db import SessionStore
    from django.contrib.sessions.models import Session as DjangoSession
    from django.utils import timezone

    from academy.models import Course, Session
    from opencity.accounts.models import User

    password = make_password(None)
    User.objects.bulk_create(
        [
            User(email=f"racer{i}@bench.example.org", full_name=f"Учасник {i}", password=password)
            for i in range(users)
        ],
        batch_size=1000,
    )
    store = SessionStore()
    expiry = timezone.now() + timedelta(days=1)
    rows, cookies = [], []
    backend = settings.AUTHENTICATION_BACKENDS[0]
    for user in User.objects.filter(email__endswith="@bench.example.org").order_by("pk"):
        key = secrets.token_hex(16)
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: backend,
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        rows.append(
            DjangoSession(session_key=key, session_data=store.encode(data), expire_date=expiry)
        )
        cookies.append((key, secrets.token_hex(16)))  # session key, CSRF secret
    DjangoSession.objects.bulk_create(rows, batch_size=1000)
    course = Course.objects.create(
        title="Кібергігієна для працівників ради",
        slug="bench-cyber",
        description="Навчання для бенчмарку.",
        audience="Працівники рад",
        format=Course.Format.ONLINE,
    )
    starts = timezone.now() + timedelta(days=7)
    session = Session.objects.create(
        course=course,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        registration_deadline=starts - timedelta(days=1),
        capacity=seats,
        meeting_url="https://meet.example.org/bench",
    )
    return session.pk, cookies


def start_gunicorn(env: dict, worker_class: str, workers: int, threads: int) -> subprocess.Popen:
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "opencity.wsgi",
        "-b",
        f"{HOST}:{PORT}",
        "-k",
        worker_class,
        "-w",
        str(workers),
        "--threads",
        str(threads),
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
        "--keep-alive",
        "5",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(HOST, PORT, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return process
        except OSError:
            time.sleep(0.3)
    stop(process)
    raise SystemExit("gunicorn did not start within 30 s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def warm_up(session_id: int, requests: int = 30) -> None:
    """A running site is warm: let every worker load its code before the race."""
    for _ in range(requests):
        conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
        conn.request("GET", f"/academy/sessions/{session_id}/")
        conn.getresponse().read()
        conn.close()


def race(session_id: int, cookies: list[tuple[str, str]], clients: int) -> tuple[list, dict]:
    """One POST per user from `clients` threads released together; (latencies, statuses)."""
    path = f"/academy/sessions/{session_id}/register/"
    work = list(cookies)
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int | str, int] = {}
    barrier = threading.Barrier(clients + 1)

    def client() -> None:
        conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
        barrier.wait()
        while True:
            with lock:
                if not work:
                    break
                person = len(work)
                session_key, csrf = work.pop()
            headers = {
                "Cookie": f"sessionid={session_key}; csrftoken={csrf}",
                "X-CSRFToken": csrf,
                "Content-Type": "application/x-www-form-urlencoded",
                "Content-Length": "0",
                "X-Forwarded-For": addresses.address(person),
            }
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=b"", headers=headers)
                response = conn.getresponse()
                response.read()
                status: int | str = response.status
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join(300)
    wall = time.perf_counter() - started
    return latencies, {"statuses": statuses, "wall": wall}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))
    return ordered[index]


def count_rows(session_id: int, seats: int) -> dict:
    from django.db.models import Count

    from academy.models import Registration

    Status = Registration.Status
    rows = Registration.objects.filter(session_id=session_id)
    seated = rows.filter(status=Status.SEATED).count()
    waitlisted = rows.filter(status=Status.WAITLISTED).count()
    positions = rows.filter(status=Status.WAITLISTED).values_list("waitlist_position", flat=True)
    duplicates = rows.values("user").annotate(n=Count("pk")).filter(n__gt=1).count()
    return {
        "seated": seated,
        "waitlisted": waitlisted,
        "overbooked": max(0, seated - seats),
        "duplicates": duplicates,
        "positions_ok": sorted(positions) == list(range(1, waitlisted + 1)),
    }


def time_certificates(session_id: int, how_many: int) -> list[float]:
    """Issue certificates to seated attendees and time the PDF step of each."""
    from datetime import timedelta

    from django.utils import timezone

    from academy import services
    from academy.models import Certificate, Registration, Session

    now = timezone.now()
    Session.objects.filter(pk=session_id).update(
        registration_deadline=now - timedelta(hours=3),
        starts_at=now - timedelta(hours=2),
        ends_at=now - timedelta(minutes=1),
    )
    seated = Registration.objects.filter(
        session_id=session_id, status=Registration.Status.SEATED
    ).select_related("user", "session__course")[:how_many]
    Registration.objects.filter(pk__in=[r.pk for r in seated]).update(attended=True)
    certificates = Certificate.objects.bulk_create(
        [
            Certificate(
                registration=r,
                code=services.new_certificate_code(),
                holder_name=r.user.full_name,
                course_title=r.session.course.title,
                hours=r.session.hours,
                session_date=timezone.localdate(),
            )
            for r in seated
        ]
    )
    timings = []
    for certificate in certificates:
        started = time.perf_counter()
        services.certificate_generate_pdf(certificate_id=certificate.pk)
        timings.append(time.perf_counter() - started)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--seats", type=int, default=100)
    parser.add_argument("--clients", type=int, default=16)
    # The README's production line: `gunicorn opencity.wsgi -w 4` (sync workers).
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--certificates", type=int, default=50)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    tmp = Path(tempfile.mkdtemp(prefix="bench-academy-"))
    env = configure_environment(tmp)
    gunicorn = None
    try:
        recreate_database()
        import django
        from django.core.management import call_command

        django.setup()
        # Tasks go to Redis db 14 (nobody consumes them here); registration queues none.
        from opencity import celery_app

        celery_app.conf.task_always_eager = False
        t0 = time.perf_counter()
        call_command("migrate", verbosity=0)
        session_id, cookies = seed(args.users, args.seats)
        print(
            f"setup: migrate + {args.users} users and sessions in {time.perf_counter() - t0:.1f} s"
        )
        from django.db import connections

        connections.close_all()

        gunicorn = start_gunicorn(env, args.worker_class, args.workers, args.threads)
        print(
            f"gunicorn {args.worker_class} {args.workers} workers x {args.threads} threads on "
            f"{HOST}:{PORT}; "
            f"{args.clients} client threads; {os.cpu_count()} CPUs (shared)"
        )
        warm_up(session_id)
        latencies, info = race(session_id, cookies, args.clients)
        stop(gunicorn)
        gunicorn = None

        rows = count_rows(session_id, args.seats)
        ms = [x * 1000 for x in latencies]
        print(f"responses: {info['statuses']} in {info['wall']:.2f} s")
        print(
            f"latency ms: p50={percentile(ms, 0.50):.0f} p95={percentile(ms, 0.95):.0f} "
            f"p99={percentile(ms, 0.99):.0f} max={max(ms):.0f}"
        )
        print(f"rows: duplicates={rows['duplicates']} waitlist_positions_ok={rows['positions_ok']}")
        from academy.certificates import warm_up as warm_up_certificates

        t0 = time.perf_counter()
        warm_up_certificates()  # as a Celery worker does once at start (worker_process_init)
        print(
            f"certificate worker warm-up (once per worker process): "
            f"{(time.perf_counter() - t0) * 1000:.0f} ms"
        )
        pdf = [x * 1000 for x in time_certificates(session_id, args.certificates)]
        print(
            f"certificate_pdf_ms: n={len(pdf)} first={pdf[0]:.0f} "
            f"mean={statistics.mean(pdf):.0f} p95={percentile(pdf, 0.95):.0f} max={max(pdf):.0f}"
        )
        connections.close_all()
        rps = len(latencies) / info["wall"]
        print(
            f"enrol_rps={rps:.0f} p99_ms={percentile(ms, 0.99):.0f} seated={rows['seated']} "
            f"waitlisted={rows['waitlisted']} overbooked={rows['overbooked']}"
        )
    finally:
        if gunicorn is not None:
            stop(gunicorn)
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110 - Django may not be set up yet
            pass
        drop_database()
        import redis

        redis.Redis.from_url(REDIS).flushdb()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
