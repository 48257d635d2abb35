"""Petitions benchmark: a surge of signatures at ONE petition over HTTP, counted by Celery.

    .venv/bin/python bench/sign_surge.py [--users 50000] [--clients 24] [--duration 60]

What it does, bounded in time and cleaning up after itself:
1. creates the PostgreSQL database `bench_petitions` (dropped first if left over), migrates,
   imports the hromadas and bulk-seeds `--users` verified people (INSERT … SELECT), a signed-in
   session for each (COPY into the sessions table) and two collecting petitions;
2. starts gunicorn (gthread) on 127.0.0.1:8101 and the Celery workers as deploy/systemd
   runs them (the main one, and the bulk one at nice 10; `--one-worker`: one), on Redis db 11;
3. for `--duration` seconds, `--clients` threads POST /petitions/<id>/sign/ with http.client
   (one request per connection, as a proxy in front of gunicorn does; `--keep-alive` to
   reuse them), each request as a different person, timing every request; a success is a
   redirect carrying the "signature recorded" message;
4. samples the displayed count (/petitions/<id>/count.json) during the surge and after it
   until it equals the rows: the count lag is the longest time a recorded signature was not
   yet displayed;
5. checks rows = successful responses = displayed count, no duplicates, the threshold
   handled once; then inserts the same signature rows straight into PostgreSQL (other
   petition) with the same concurrency to compare rates;
6. stops gunicorn and the workers, drops the database, flushes Redis db 11.

The last line is `sign_rps=… p50_ms=… p95_ms=… p99_ms=… lost=… duplicates=… count_lag_s=…
raw_insert_rps=… ratio=…`.
"""

from __future__ import annotations

import argparse
import bisect
import http.client
import itertools
import json
import secrets
import string
import sys
import tempfile
import threading
import time
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _addresses as addresses  # noqa: E402
import _petitions_common as common  # noqa: E402

PORT = 8101
ALPHANUM = string.ascii_letters + string.digits


def seed(env: dict, users: int, threshold: int) -> tuple[int, int, list[tuple[int, str, str]]]:
    common.manage(env, "migrate", "-v0")
    common.manage(env, "import_hromadas", "-v0")
    common.seed_petitions(env, "--users", str(users), "--petitions", "0",
                  "--signatures", "0")  # fmt: skip
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection
    from django.utils import timezone

    from opencity.accounts.models import User
    from opencity.cities.models import City
    from petitions.models import Petition, PetitionRules

    city = City.objects.get(katottg="UA07080170000013585")
    PetitionRules.objects.create(city=city, threshold=threshold, collection_days=60)
    author = User.objects.create_user(email="author@bench.opencity.test", full_name="Автор")
    now = timezone.now()
    common_fields = {
        "city": city,
        "author": author,
        "author_name": author.full_name,
        "text": "Просимо раду облаштувати велодоріжку. " * 10,
        "status": Petition.Status.COLLECTING,
        "submitted_at": now,
        "threshold": threshold,
        "collection_days": 60,
        "respond_working_days": 10,
        "published_at": now,
        "collection_ends_at": now + timedelta(days=60),
    }
    surge = Petition.objects.create(title="Велодоріжка: сплеск підписів", **common_fields)
    raw = Petition.objects.create(title="Петиція для прямих вставок", **common_fields)

    ids = list(
        User.objects.filter(email__endswith="@bench.opencity.test")
        .exclude(pk=author.pk)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    auth_hash = User(password="!bench").get_session_auth_hash()
    store = SessionStore()
    expires = now + timedelta(days=1)
    sessions = []
    with (
        connection.cursor() as cursor,
        cursor.copy(
            "COPY django_session (session_key, session_data, expire_date) FROM STDIN"
        ) as copy,
    ):
        for pk in ids:
            key = "".join(secrets.choice(ALPHANUM) for _ in range(32))
            data = store.encode(
                {
                    SESSION_KEY: str(pk),
                    BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0],
                    HASH_SESSION_KEY: auth_hash,
                }
            )
            copy.write_row((key, data, expires))
            csrf = "".join(secrets.choice(ALPHANUM) for _ in range(32))
            sessions.append((pk, key, csrf))
    connection.close()
    return surge.pk, raw.pk, sessions


class Surge:
    def __init__(self, petition_id: int, sessions, clients: int, duration: float, keep_alive: bool):
        self.keep_alive = keep_alive
        self.path = f"/petitions/{petition_id}/sign/"
        self.sessions = sessions
        self.clients = clients
        self.duration = duration
        self.next_index = itertools.count()
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.ok_times: list[float] = []  # monotonic time of each success response
        self.message_cookies: list[str] = []
        self.failures: dict[str, int] = {}
        self.started = 0.0

    def worker(self) -> None:
        connection = http.client.HTTPConnection(common.HOST, PORT, timeout=30)
        deadline = self.started + self.duration
        while time.monotonic() < deadline:
            index = next(self.next_index)
            if index >= len(self.sessions):
                break
            _pk, session_key, csrf = self.sessions[index]
            body = f"csrfmiddlewaretoken={csrf}&notify_on_answer=on"
            headers = {
                "Cookie": f"sessionid={session_key}; csrftoken={csrf}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Host": f"{common.HOST}:{PORT}",
                "X-Forwarded-For": addresses.address(index),
            }
            if not self.keep_alive:
                headers["Connection"] = "close"
            began = time.monotonic()
            try:
                connection.request("POST", self.path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                if not self.keep_alive:
                    connection.close()
                status = response.status
                location = response.getheader("Location", "")
                cookies = response.headers.get_all("Set-Cookie") or []
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                connection = http.client.HTTPConnection(common.HOST, PORT, timeout=30)
                status, location, cookies = type(exc).__name__, "", []
            ended = time.monotonic()
            with self.lock:
                self.latencies.append(ended - began)
                if status == 302 and location.endswith(self.path[: -len("sign/")]):
                    self.ok_times.append(ended)
                    self.message_cookies.append(_messages_cookie(cookies))
                else:
                    self.failures[str(status)] = self.failures.get(str(status), 0) + 1
        connection.close()

    def run(self) -> float:
        threads = [threading.Thread(target=self.worker) for _ in range(self.clients)]
        self.started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.monotonic() - self.started


def _messages_cookie(set_cookies: list[str]) -> str:
    for header in set_cookies:
        cookie = SimpleCookie()
        cookie.load(header)
        if "messages" in cookie:
            return cookie["messages"].value
    return ""


def displayed_count(connection: http.client.HTTPConnection, petition_id: int) -> int:
    connection.request("GET", f"/petitions/{petition_id}/count.json")
    return json.loads(connection.getresponse().read())["count"]


class CountSampler(threading.Thread):
    """Samples the displayed count every 0.25 s: (time, count)."""

    def __init__(self, petition_id: int):
        super().__init__(daemon=True)
        self.petition_id = petition_id
        self.samples: list[tuple[float, int]] = []
        self.running = True

    def run(self) -> None:
        connection = http.client.HTTPConnection(common.HOST, PORT, timeout=10)
        while self.running:
            try:
                self.samples.append(
                    (time.monotonic(), displayed_count(connection, self.petition_id))
                )
            except (OSError, http.client.HTTPException, ValueError):
                connection.close()
                connection = http.client.HTTPConnection(common.HOST, PORT, timeout=10)
            time.sleep(0.25)


def count_lag(ok_times: list[float], samples: list[tuple[float, int]], author_rows: int) -> float:
    """Longest time any recorded signature waited to be displayed.

    At a sample (t, shown), signatures beyond `shown` were recorded but not displayed; the
    oldest of them was confirmed at ok_times[shown - author_rows]."""
    ok_times = sorted(ok_times)
    worst = 0.0
    for t, shown in samples:
        confirmed_by_t = bisect.bisect_right(ok_times, t)
        pending_index = shown - author_rows
        if 0 <= pending_index < confirmed_by_t:
            worst = max(worst, t - ok_times[pending_index])
    return worst


def raw_insert_rate(petition_id: int, user_ids: list[int], clients: int) -> float:
    """The same rows straight into PostgreSQL, one autocommit INSERT each, same concurrency."""
    import psycopg

    dsn = f"host={common.HOST} user=postgres dbname={common.DB_NAME}"
    counter = itertools.count()

    def worker() -> None:
        with psycopg.connect(dsn, autocommit=True) as connection:
            cursor = connection.cursor()
            while True:
                index = next(counter)
                if index >= len(user_ids):
                    return
                cursor.execute(
                    "INSERT INTO petitions_signature (petition_id, user_id, created_at, "
                    "notify_on_answer, public_name) VALUES (%s, %s, now(), true, '')",
                    (petition_id, user_ids[index]),
                )

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(user_ids) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--one-worker", action="store_true",
                        help="one Celery worker for all queues (default: the main worker and "
                        "the bulk one at nice 10, as deploy/systemd runs them)")  # fmt: skip
    parser.add_argument("--threshold", type=int, default=5000)
    parser.add_argument(
        "--keep-alive",
        action="store_true",
        help="reuse connections (by default one request per connection, as nginx proxies; "
        "with keep-alive gunicorn may pin every connection to one worker)",
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-petitions-"))
    env = common.configure_environment(tmp)
    workers = []
    server = None
    try:
        common.recreate_database()
        common.flush_redis()
        t0 = time.monotonic()
        petition_id, raw_petition_id, sessions = seed(env, args.users, args.threshold)
        print(f"seeded {len(sessions)} signed-in people in {time.monotonic() - t0:.0f}s")
        workers = common.start_workers(env, tmp, split=not args.one_worker)
        server = common.gunicorn(env, PORT, args.workers, args.threads, tmp / "gunicorn.log")
        rss = common.RssSampler(server.pid)
        rss.start()
        sampler = CountSampler(petition_id)
        sampler.start()
        print(f"surge: {args.clients} clients for {args.duration:.0f}s against "
              f"gunicorn {args.workers}x{args.threads} (gthread) + {len(workers)} celery "
              f"worker(s); "
              f"load {common.load_average()}")  # fmt: skip
        surge = Surge(petition_id, sessions, args.clients, args.duration, args.keep_alive)
        elapsed = surge.run()
        load_after = common.load_average()
        busy = common.other_load()

        from django.db import connection

        def rows() -> int:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM petitions_signature WHERE petition_id = %s",
                    [petition_id],
                )
                return cursor.fetchone()[0]

        final_rows = rows()
        http_connection = http.client.HTTPConnection(common.HOST, PORT, timeout=10)
        deadline = time.monotonic() + 60
        shown = displayed_count(http_connection, petition_id)
        while shown != final_rows and time.monotonic() < deadline:
            time.sleep(0.1)
            shown = displayed_count(http_connection, petition_id)
        caught_up = time.monotonic()
        sampler.running = False
        sampler.join(2)
        samples = [*sampler.samples, (caught_up, shown)]
        rss.running = False

        ok = len(surge.ok_times)
        author_rows = 0  # the surge petition was seeded without the author's signature
        lag = count_lag(surge.ok_times, samples, author_rows)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) - count(DISTINCT user_id) FROM petitions_signature "
                "WHERE petition_id = %s",
                [petition_id],
            )
            duplicates = cursor.fetchone()[0]
            cursor.execute(
                "SELECT count(*) FROM core_auditentry WHERE action = 'petitions.petition.reached' "
                "AND object_id = %s",
                [str(petition_id)],
            )
            reached_audits = cursor.fetchone()[0]
            cursor.execute(
                "SELECT count(*) FROM core_outboundemail WHERE key LIKE %s",
                [f"petition:{petition_id}:reached:%"],
            )
            reached_mails = cursor.fetchone()[0]
        from django.contrib.messages.storage.cookie import CookieStorage
        from django.http import HttpRequest

        storage = CookieStorage(HttpRequest())
        confirmed = sum(
            1
            for raw in surge.message_cookies
            if any(m.level == 25 for m in (storage._decode(raw) or []))
        )
        latencies = sorted(surge.latencies)
        ms = [1000 * common.percentile(latencies, f) for f in (0.5, 0.95, 0.99)]
        sign_rps = ok / elapsed
        lost = max(0, ok - final_rows)

        signed_ids = [pk for pk, _k, _c in sessions[: max(1, min(final_rows, 20_000))]]
        raw_rps = raw_insert_rate(raw_petition_id, signed_ids, args.clients)

        print(f"requests={len(latencies)} ok={ok} confirmed_by_message={confirmed} "
              f"failures={surge.failures or 0} rows={final_rows} displayed={shown} "
              f"in {elapsed:.1f}s")  # fmt: skip
        print(f"threshold {args.threshold}: reached audit entries={reached_audits}, "
              f"author e-mails={reached_mails}")  # fmt: skip
        print(f"gunicorn worker max RSS: {rss.max_mb:.0f} MB; load average after: {load_after}")
        print(f"busiest processes (ps, % CPU over their lifetime): {busy}")
        print(
            f"sign_rps={sign_rps:.0f} p50_ms={ms[0]:.0f} p95_ms={ms[1]:.0f} p99_ms={ms[2]:.0f} "
            f"lost={lost} duplicates={duplicates} count_lag_s={lag:.1f} "
            f"raw_insert_rps={raw_rps:.0f} ratio={sign_rps / raw_rps:.2f}"
        )
    finally:
        common.stop(server)
        for worker in workers:
            common.stop(worker)
        try:
            common.drop_database()
        finally:
            common.flush_redis()


if __name__ == "__main__":
    main()
