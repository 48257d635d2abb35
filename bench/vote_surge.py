"""Benchmark: a surge of concurrent voters over HTTP through gunicorn on PostgreSQL.

Seeds a programme in its voting stage (500 initiatives in 5 categories, max 5 votes per
voter) and signed-in, verified, adult resident voters (sessions written directly). Each voter
confirms a ballot of 1-5 projects through the confirm path (POST /ballot/confirm/, the step
after the review page). Every RACE_EVERY-th voter also sends two more confirmations in the
same burst, so three are in flight at once: another ballot, which must be refused (or, with
BENCH_CHANGEABLE=1, may replace the first), and one with 6 projects, which the limit must
refuse. Each stored ballot queues its receipt e-mail in the outbox; gunicorn hands it to a
Celery worker through Redis as in production (delivered to a locmem backend here). Runs
for DURATION seconds (≥ 60) with stdlib threads over http.client (no extra dependency), then
checks the database: nobody holds more than 5 votes or more than one ballot (over_limit),
and the stored ballot is exactly an acknowledged one: the only one when votes are final,
one of them with BENCH_CHANGEABLE=1 (votes may change until close) (lost).

Last line: vote_rps=… p99_ms=… over_limit=0 lost=0 confirm_rps=… healthz_rps=… ratio=…
(target ≥ 300 votes/s, p99 ≤ 250 ms). vote_rps counts votes stored per second; confirm_rps
the confirmation requests per second, and ratio compares it with a plain-Django request
(GET /healthz) through the same server in the same run.

    .venv/bin/python bench/vote_surge.py
"""

from __future__ import annotations

import http.client
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import _addresses as addresses
from _initiatives_common import (
    ENV,
    ROOT,
    create_database,
    drop_database,
    flush_cache,
    make_programme,
    setup_django,
)

PORT = int(os.environ.get("BENCH_PORT", "8111"))
DURATION = float(os.environ.get("BENCH_DURATION", "62"))  # the issue asks for ≥ 60 s
CLIENT_THREADS = int(os.environ.get("BENCH_CLIENTS", "24"))  # as bench/sign_surge.py
GUNICORN_WORKERS = int(os.environ.get("BENCH_WORKERS", "3"))
GUNICORN_THREADS = int(os.environ.get("BENCH_THREADS", "4"))
VOTERS = int(os.environ.get("BENCH_VOTERS", "15000"))
# One request per connection, as a proxy in front of gunicorn sends them (nginx's default);
# with keep-alive each client connection stays pinned to the worker that accepted it, and
# the workers' load is uneven. BENCH_KEEPALIVE=1 keeps connections open.
KEEP_ALIVE = os.environ.get("BENCH_KEEPALIVE", "0") == "1"
RACE_EVERY = 4  # every 4th voter races three confirmations (one over the limit)
MAX_VOTES = 5
CHANGEABLE = os.environ.get("BENCH_CHANGEABLE", "0") == "1"
CSRF = "benchcsrftokenbenchcsrftoken1234"  # 32 characters: an unmasked CSRF secret


def seed():
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection
    from django.utils import timezone

    from initiatives.models import Initiative
    from opencity.accounts.models import User

    today = timezone.localdate()
    now = timezone.now()
    programme, categories, author = make_programme(
        slug="surge",
        voting_opens=today - timedelta(days=1),
        voting_closes=today + timedelta(days=10),
        implementation_starts=today + timedelta(days=40),
        max_votes=MAX_VOTES,
        min_voter_age=16,
        residents_only=True,
        votes_changeable=CHANGEABLE,
    )
    initiatives = Initiative.objects.bulk_create(
        Initiative(
            programme=programme,
            category=categories[n % 5],
            author=author,
            title=f"Проєкт {n}",
            summary="s",
            description="d",
            address="a",
            total_cost=Decimal("100000"),
            status=Initiative.Status.ACCEPTED,
        )
        for n in range(500)
    )
    password = make_password("bench")
    probe = User(password=password)
    auth_hash = probe.get_session_auth_hash()
    store = SessionStore()
    expire = now + timedelta(days=1)
    first = User.objects.order_by("-pk").values_list("pk", flat=True).first() + 1
    sessions = []
    raw = connection.connection
    with raw.cursor() as cur:
        with cur.copy(
            "COPY accounts_user (id, password, is_superuser, email, full_name, "
            "preferred_language, home_city_id, date_of_birth, identity_provider, "
            "is_staff, is_active, date_joined) FROM STDIN"
        ) as copy:
            for uid in range(first, first + VOTERS):
                copy.write_row(
                    (
                        uid,
                        password,
                        False,
                        f"v{uid}@bench.local",
                        f"Виборець {uid}",
                        "uk",
                        programme.city_id,
                        today - timedelta(days=30 * 365),
                        "",
                        False,
                        True,
                        now,
                    )
                )
        with cur.copy(
            'COPY account_emailaddress (id, user_id, email, verified, "primary") FROM STDIN'
        ) as copy:
            for n, uid in enumerate(range(first, first + VOTERS), start=1):
                copy.write_row((n, uid, f"v{uid}@bench.local", True, True))
        with cur.copy(
            "COPY django_session (session_key, session_data, expire_date) FROM STDIN"
        ) as copy:
            for uid in range(first, first + VOTERS):
                key = f"bench{uid:035d}"
                data = store.encode(
                    {
                        "_auth_user_id": str(uid),
                        "_auth_user_backend": settings.AUTHENTICATION_BACKENDS[0],
                        "_auth_user_hash": auth_hash,
                    }
                )
                copy.write_row((key, data, expire))
                sessions.append(key)
    raw.commit()
    with connection.cursor() as cursor:
        for table in ("accounts_user", "account_emailaddress"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT MAX(id) FROM {table}))"
            )
        cursor.execute("ANALYZE")
    voters = list(range(first, first + VOTERS))
    return programme, [i.pk for i in initiatives], list(zip(voters, sessions, strict=True))


#: the web processes and the worker queue tasks through Redis, as deployed
QUEUED = {"CELERY_TASK_ALWAYS_EAGER": "0", "LOG_LEVEL": "WARNING"}


def start_worker() -> subprocess.Popen:
    return subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "celery"), "-A", "opencity", "worker", "-l", "warning",
         "-P", "solo", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env={**os.environ, **ENV, **QUEUED}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def start_gunicorn() -> subprocess.Popen:
    env = {**os.environ, **ENV, **QUEUED}
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "opencity.wsgi",
            "-b",
            f"127.0.0.1:{PORT}",
            "-w",
            str(GUNICORN_WORKERS),
            "-k",
            "gthread",
            "--threads",
            str(GUNICORN_THREADS),
            "--keep-alive",
            "5",
            "--log-level",
            "warning",
            "--timeout",
            "30",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("gunicorn did not start")


def surge(programme, initiative_ids, voters):
    work: queue.Queue = queue.Queue()
    for voter_id, session in voters:
        sizes = [random.randint(1, MAX_VOTES)]
        if voter_id % RACE_EVERY == 0:  # queued together: they overlap
            sizes += [random.randint(1, MAX_VOTES), MAX_VOTES + 1]
        for size in sizes:
            work.put((voter_id, session, tuple(sorted(random.sample(initiative_ids, size)))))
    latencies: list[float] = []
    statuses: Counter = Counter()
    acknowledged: dict[int, list[tuple]] = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + DURATION

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=15)
        local_lat, local_status, local_ok = [], Counter(), []
        while time.monotonic() < stop_at:
            try:
                voter_id, session, picks = work.get_nowait()
            except queue.Empty:
                break
            body = "&".join(f"project={pk}" for pk in picks)
            headers = {
                "Cookie": f"sessionid={session}; csrftoken={CSRF}",
                "X-CSRFToken": CSRF,
                "Content-Type": "application/x-www-form-urlencoded",
                "Host": f"127.0.0.1:{PORT}",
                "X-Forwarded-For": addresses.address(voter_id),
            }
            if not KEEP_ALIVE:
                headers["Connection"] = "close"
            started = time.perf_counter()
            try:
                conn.request(
                    "POST", f"/initiatives/{programme.slug}/ballot/confirm/", body, headers
                )
                response = conn.getresponse()
                response.read()
                status = response.status
                # Stored: redirected to the receipt; refused: back to the ballot page.
                if status == 302 and not response.getheader("Location", "").endswith(
                    "/ballot/receipt/"
                ):
                    status = "302-refused"
                if not KEEP_ALIVE or response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=15)
            local_lat.append(time.perf_counter() - started)
            local_status[status] += 1
            if status == 302:
                local_ok.append((voter_id, picks))
        with lock:
            latencies.extend(local_lat)
            statuses.update(local_status)
            for voter_id, picks in local_ok:
                acknowledged.setdefault(voter_id, []).append(picks)

    started = time.monotonic()
    cpu_before = time.process_time()
    threads = [threading.Thread(target=client) for _ in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    print(f"load generator CPU: {(time.process_time() - cpu_before) / elapsed:.0%} of one core")
    return latencies, statuses, acknowledged, elapsed


def baseline_rps(seconds: float = 10.0) -> float:
    """Plain-Django baseline in the same run: GET /healthz (one SELECT 1, a JSON answer)
    through the same gunicorn, clients and connection mode as the surge."""
    stop_at = time.monotonic() + seconds
    done = []

    def client():
        n = 0
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=15)
        while time.monotonic() < stop_at:
            headers = {} if KEEP_ALIVE else {"Connection": "close"}
            conn.request("GET", "/healthz", headers=headers)
            conn.getresponse().read()
            n += 1
            if not KEEP_ALIVE:
                conn.close()
        done.append(n)

    began = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.monotonic() - began)


def main() -> None:
    random.seed(7)
    create_database()
    gunicorn = worker = None
    try:
        setup_django()
        flush_cache()
        programme, initiative_ids, voters = seed()
        from django.db import connection

        connection.close()
        # Receipts are delivered by the worker to memory, not the console.
        os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
        worker = start_worker()
        gunicorn = start_gunicorn()
        print(
            f"seeded {len(voters):,} voters, 500 initiatives; gunicorn {GUNICORN_WORKERS}x"
            f"{GUNICORN_THREADS} gthread on 127.0.0.1:{PORT}; {CLIENT_THREADS} client threads"
            f"{' (keep-alive)' if KEEP_ALIVE else ', one request per connection'}; {DURATION:.0f} s"
        )
        latencies, statuses, acknowledged, elapsed = surge(programme, initiative_ids, voters)

        from django.db.models import Count

        from initiatives.models import Ballot, Vote

        stored: dict[int, list[int]] = {}
        for voter_id, initiative_id in Vote.objects.values_list("voter_id", "initiative_id"):
            stored.setdefault(voter_id, []).append(initiative_id)
        ballots = dict(
            Ballot.objects.values("voter_id").annotate(n=Count("*")).values_list("voter_id", "n")
        )
        over_limit = sum(1 for v in stored.values() if len(v) > MAX_VOTES) + sum(
            1 for n in ballots.values() if n > 1
        )
        # Final votes: exactly one acknowledged ballot per voter, and it is the one stored.
        # Changeable: the stored ballot is one of the acknowledged ones (the last to commit).
        lost = 0
        for voter, sets in acknowledged.items():
            mine = tuple(sorted(stored.get(voter, [])))
            if (not CHANGEABLE and (len(sets) != 1 or sets[0] != mine)) or mine not in sets:
                lost += 1
        lost += sum(1 for voter in stored if voter not in acknowledged)
        total_votes = sum(len(v) for v in stored.values())
        print(
            f"ballots stored: {len(ballots):,} = {len(ballots) / elapsed:.0f}/s; "
            f"votes may change until close: {CHANGEABLE}"
        )
        latencies.sort()
        p50 = latencies[len(latencies) // 2] * 1000
        p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
        print(
            f"requests: {len(latencies):,} in {elapsed:.1f} s = {len(latencies) / elapsed:.0f}/s;"
            f" statuses: {dict(statuses)}"
        )
        print(
            f"votes stored: {total_votes:,}; voters with a full ballot: "
            f"{sum(1 for v in stored.values() if len(v) == MAX_VOTES):,}; p50_ms={p50:.0f}"
        )
        baseline = baseline_rps()
        request_rps = len(latencies) / elapsed
        print(f"baseline: GET /healthz through the same server = {baseline:.0f}/s")
        print(
            f"vote_rps={total_votes / elapsed:.0f} p99_ms={p99:.0f} over_limit={over_limit} "
            f"lost={lost} confirm_rps={request_rps:.0f} healthz_rps={baseline:.0f} "
            f"ratio={request_rps / baseline:.2f}"
        )
    finally:
        for process in (gunicorn, worker):
            if process is None:
                continue
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        from django.db import connections

        connections.close_all()
        drop_database()


if __name__ == "__main__":
    sys.exit(main())
