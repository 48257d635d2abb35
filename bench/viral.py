"""Petitions benchmark: a viral petition, far more people reloading its page than signing.

    flock /tmp/opencity-bench.lock .venv/bin/python bench/viral.py [--duration 60]

What it does, bounded in time and cleaning up after itself:
1. creates the PostgreSQL database `bench_viral` (dropped first if left over), migrates,
   imports the hromadas, bulk-seeds people and 100 other petitions, and a collecting
   petition with `--signatures` (100,000) signatures, tallied; signed-in sessions for the
   signers to come and for the signed-in readers (COPY into the sessions table, and into
   the session cache as signing in leaves them);
2. starts gunicorn as the README deploys it (deploy/gunicorn.conf.py: 4 sync workers,
   recycled every ~20,000 requests, app preloaded and warmed up) on
   127.0.0.1:8131 and the Celery workers as deploy/systemd runs them (the main one for
   tallies, the bulk one at nice 10), on Redis db 10 of 127.0.0.1:6379;
3. baseline (`--static-duration` s): the same 24 readers load one static file through the
   same server (WhiteNoise) while the signers sign;
4. surge (`--duration` s): 24 readers with `wrk` (C, one thread per group, one request per
   connection as a proxy in front of gunicorn sends them; 80 % anonymous
   with a CSRF cookie as a reloading browser has, 20 % signed in, each request as one of
   200 people) reload the petition page and the first page of the petition list, while
   signers POST /petitions/<id>/sign/ at `--sign-rate` per second (paced threads, each
   request as a different person); a sampler reads the count shown on the petition page
   (as an anonymous visitor) every 0.25 s;
5. waits until the page shows the count of rows, checks lost signatures, stops everything,
   drops the database and flushes Redis db 10.

count_staleness_max_s is the longest time a confirmed signature was not yet shown on the
anonymous petition page. The last line is
`read_rps=… read_p95_ms=… signed_in_rps=… sign_rps=… sign_p99_ms=… count_staleness_max_s=…
lost=… ratio_read_to_static=…` (read_* = anonymous readers; ratio = anonymous reads per
second over static-file reads per second by the same number of readers).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import string
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _addresses as addresses  # noqa: E402
import _petitions_common as common  # noqa: E402
from sign_surge import count_lag  # noqa: E402

common.DB_NAME = "bench_viral"
common.REDIS = "redis://127.0.0.1:6379/10"
PORT = 8131
ALPHANUM = string.ascii_letters + string.digits
CSRF = "viralcsrfviralcsrfviralcsrf12345"  # 32 characters: an unmasked CSRF secret
READER_PEOPLE = 200

WRK_SCRIPT = r"""
local paths = {}
for p in string.gmatch(os.getenv("VIRAL_PATHS"), "[^ ]+") do table.insert(paths, p) end
local cookies = {}
for line in io.lines(os.getenv("VIRAL_COOKIES")) do table.insert(cookies, line) end
local i = 0
request = function()
  i = i + 1
  local headers = {["Accept-Encoding"] = "gzip", ["Cookie"] = cookies[math.random(#cookies)],
                   ["Connection"] = "close"}
  return wrk.format("GET", paths[(i % #paths) + 1], headers)
end
done = function(summary, latency, requests)
  io.write(string.format(
    "WRK requests=%d duration_us=%d p50_us=%d p95_us=%d p99_us=%d status=%d connect=%d "
    .. "read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout))
  io.flush()
end
"""


def seed(env: dict, signatures: int, signers: int) -> dict:
    common.manage(env, "migrate", "-v0")
    common.manage(env, "import_hromadas", "-v0")
    users = signatures + signers + READER_PEOPLE
    common.seed_petitions(env, "--users", str(users), "--petitions", "100",
                  "--signatures", "0")  # fmt: skip
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.cached_db import KEY_PREFIX
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.cache import caches
    from django.db import connection
    from django.utils import timezone

    from opencity.accounts.models import User
    from opencity.cities.models import City
    from petitions import services
    from petitions.models import Petition, PetitionRules

    city = City.objects.get(katottg="UA07080170000013585")
    PetitionRules.objects.get_or_create(city=city, defaults={"threshold": 10_000_000})
    author = User.objects.create_user(email="author@viral.opencity.test", full_name="Авторка")
    now = timezone.now()
    petition = Petition.objects.create(
        city=city,
        author=author,
        author_name=author.full_name,
        title="Зберегти старий парк: петиція, що облетіла всю країну",
        text="Просимо раду зберегти старий парк і не віддавати його під забудову. " * 12,
        status=Petition.Status.COLLECTING,
        submitted_at=now,
        threshold=10_000_000,  # never reached here: the surge measures reading, not reaching
        collection_days=60,
        respond_working_days=10,
        published_at=now,
        collection_ends_at=now + timedelta(days=60),
    )
    ids = list(
        User.objects.filter(email__endswith="@bench.opencity.test")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    signed, to_sign = ids[:signatures], ids[signatures : signatures + signers]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO petitions_signature (petition_id, user_id, created_at, notify_on_answer,"
            " public_name) SELECT %s, u, now() - (%s - u) * interval '10 millisecond', false, ''"
            " FROM unnest(%s::bigint[]) u",
            [petition.pk, signed[-1], signed],
        )
        cursor.execute("VACUUM ANALYZE petitions_signature")
    services.petition_tally(petition_id=petition.pk)
    # Readers signed in: half of them among the signatories, half not.
    readers = signed[: READER_PEOPLE // 2] + ids[signatures + signers :]
    auth_hash = User(password="!bench").get_session_auth_hash()
    store = SessionStore()
    expires = now + timedelta(days=1)
    sessions: dict[int, str] = {}
    cached: dict[str, dict] = {}
    with (
        connection.cursor() as cursor,
        cursor.copy(
            "COPY django_session (session_key, session_data, expire_date) FROM STDIN"
        ) as copy,
    ):
        for pk in [*to_sign, *readers]:
            key = "".join(secrets.choice(ALPHANUM) for _ in range(32))
            data = {
                SESSION_KEY: str(pk),
                BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0],
                HASH_SESSION_KEY: auth_hash,
            }
            copy.write_row((key, store.encode(data), expires))
            sessions[pk] = key
            cached[KEY_PREFIX + key] = data
    connection.close()
    # In the cache too, as signing in leaves a session (SESSION_ENGINE cached_db): people
    # sign from the page they were reading, not with a session unread since sign-in.
    session_cache = caches[settings.SESSION_CACHE_ALIAS]
    items = list(cached.items())
    for start in range(0, len(items), 5000):
        session_cache.set_many(dict(items[start : start + 5000]), 86400)
    return {
        "petition": petition.pk,
        "signer_sessions": [sessions[pk] for pk in to_sign],
        "reader_sessions": [sessions[pk] for pk in readers],
    }


class Signers:
    """Signatures at a fixed rate: request k is due at start + k / rate, each as another
    person; a pool of threads takes the next due request (late ones go at once)."""

    def __init__(self, petition_id: int, sessions: list[str], rate: float, threads: int = 24):
        self.path = f"/petitions/{petition_id}/sign/"
        self.sessions = sessions
        self.rate = rate
        self.threads = threads
        self.lock = threading.Lock()
        self.next_index = 0
        self.latencies: list[float] = []
        self.ok_times: list[float] = []
        self.failures: dict[str, int] = {}
        self.running = False
        self.started = 0.0
        self.measure_from = 0.0
        self.measure_to = 0.0

    def worker(self) -> None:
        while self.running:
            with self.lock:
                index = self.next_index
                self.next_index += 1
            if index >= len(self.sessions):
                return
            due = self.started + index / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if not self.running:
                return
            session_key = self.sessions[index]
            headers = {
                "Cookie": f"sessionid={session_key}; csrftoken={CSRF}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Host": f"{common.HOST}:{PORT}",
                "Connection": "close",
                "X-Forwarded-For": addresses.address(index),
            }
            began = time.monotonic()
            try:
                connection = http.client.HTTPConnection(common.HOST, PORT, timeout=30)
                connection.request(
                    "POST", self.path, body=f"csrfmiddlewaretoken={CSRF}", headers=headers
                )
                response = connection.getresponse()
                response.read()
                connection.close()
                status, location = response.status, response.getheader("Location", "")
            except (OSError, http.client.HTTPException) as exc:
                status, location = type(exc).__name__, ""
            ended = time.monotonic()
            with self.lock:
                if status == 302 and location.endswith(self.path[: -len("sign/")]):
                    self.ok_times.append(ended)
                    if self.measure_from <= began and (
                        not self.measure_to or began < self.measure_to
                    ):
                        self.latencies.append(ended - began)
                else:
                    self.failures[str(status)] = self.failures.get(str(status), 0) + 1

    def start(self) -> None:
        self.running = True
        self.started = time.monotonic()
        self.pool = [threading.Thread(target=self.worker, daemon=True) for _ in range(self.threads)]
        for thread in self.pool:
            thread.start()

    def stop(self) -> None:
        self.running = False
        for thread in self.pool:
            thread.join(35)

    def ok_between(self, start: float, end: float) -> int:
        with self.lock:
            return sum(1 for t in self.ok_times if start <= t < end)


COUNT_RE = re.compile(r"data-count>([^<]+)<")


def shown_count(connection: http.client.HTTPConnection, petition_id: int) -> int:
    connection.request("GET", f"/petitions/{petition_id}/", headers={"Connection": "close"})
    response = connection.getresponse()
    body = response.read().decode()
    connection.close()
    match = COUNT_RE.search(body)
    if response.status != 200 or not match:
        raise ValueError(f"no count on the page (status {response.status})")
    return int(re.sub(r"\D", "", match.group(1)))


class CountSampler(threading.Thread):
    """The count an anonymous visitor sees on the petition page, every 0.25 s."""

    def __init__(self, petition_id: int):
        super().__init__(daemon=True)
        self.petition_id = petition_id
        self.samples: list[tuple[float, int]] = []
        self.errors = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                connection = http.client.HTTPConnection(common.HOST, PORT, timeout=10)
                self.samples.append((time.monotonic(), shown_count(connection, self.petition_id)))
            except (OSError, http.client.HTTPException, ValueError):
                self.errors += 1
            time.sleep(0.25)


def run_wrk(tmp: Path, name: str, connections: int, paths: list[str], cookies: list[str],
            duration: float) -> subprocess.Popen:  # fmt: skip
    # One script file per run: rewriting a file another wrk is still loading would leave
    # that one without its `done` (no summary).
    script = tmp / f"viral-{name}-{time.monotonic_ns()}.lua"
    script.write_text(WRK_SCRIPT)
    cookie_file = tmp / f"{name}.cookies"
    cookie_file.write_text("\n".join(cookies) + "\n")
    return subprocess.Popen(
        ["wrk", "-t1", f"-c{connections}", f"-d{int(duration)}s", "--timeout", "10s",
         "-s", str(script), f"http://{common.HOST}:{PORT}"],
        env={"VIRAL_PATHS": " ".join(paths), "VIRAL_COOKIES": str(cookie_file), "PATH": "/usr/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def wrk_result(process: subprocess.Popen) -> dict:
    out, _ = process.communicate(timeout=600)
    line = next((x for x in out.splitlines() if x.startswith("WRK ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no summary (exit {process.returncode}):\n{out}")
    figures = {k: int(v) for k, v in (item.split("=") for item in line.split()[1:])}
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["errors"] = sum(figures[k] for k in ("status", "connect", "read", "write", "timeout"))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--signatures", type=int, default=100_000)
    parser.add_argument("--readers", type=int, default=24)
    parser.add_argument("--signed-in-share", type=float, default=0.2)
    parser.add_argument("--sign-rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--static-duration", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (README: 4)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (1 = sync)")
    parser.add_argument("--one-worker", action="store_true",
                        help="one Celery worker for all queues (default: the main worker and "
                        "the bulk one at nice 10, as deploy/systemd runs them)")  # fmt: skip
    args = parser.parse_args()

    total_seconds = args.static_duration + args.duration + 30
    signers_needed = int(args.sign_rate * total_seconds * 1.1)
    tmp = Path(tempfile.mkdtemp(prefix="bench-viral-"))
    env = common.configure_environment(tmp)
    env["CACHE_KEY_PREFIX"] = os.environ["CACHE_KEY_PREFIX"] = "bench-viral"  # seed and server
    workers = []
    server = signers = sampler = None
    try:
        common.recreate_database()
        common.flush_redis()
        t0 = time.monotonic()
        data = seed(env, args.signatures, signers_needed)
        # Settle what seeding left behind, so neither phase below pays for it: statistics
        # for the copied tables and the checkpoint of the seed's writes.
        common.psql("VACUUM ANALYZE accounts_user, django_session", common.DB_NAME)
        common.psql("CHECKPOINT", common.DB_NAME)
        petition_id = data["petition"]
        print(f"seeded {args.signatures} signatures, {signers_needed} signers to come, "
              f"{READER_PEOPLE} signed-in readers in {time.monotonic() - t0:.0f}s")  # fmt: skip
        workers = common.start_workers(env, tmp, split=not args.one_worker)
        gunicorn_argv = [
            str(common.ROOT / ".venv" / "bin" / "gunicorn"), "-c", "deploy/gunicorn.conf.py",
            "opencity.wsgi", "-w", str(args.workers), "-b", f"{common.HOST}:{PORT}",
        ]  # fmt: skip
        if args.threads > 1:
            gunicorn_argv += ["-k", "gthread", "--threads", str(args.threads)]
        server = common.start(env, gunicorn_argv, tmp / "gunicorn.log")
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection(common.HOST, PORT, timeout=5)
                shown_count(connection, petition_id)
                break
            except (OSError, http.client.HTTPException, ValueError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

        signed_in = max(1, round(args.readers * args.signed_in_share))
        anonymous = args.readers - signed_in
        anon_cookies = [f"csrftoken={CSRF}"]
        signed_cookies = [f"sessionid={k}; csrftoken={CSRF}" for k in data["reader_sessions"]]
        page_paths = [f"/petitions/{petition_id}/", "/petitions/"]
        static_path = ["/static/css/site.css"]
        mode = "sync" if args.threads == 1 else f"gthread x{args.threads}"
        print(f"gunicorn {args.workers} workers ({mode}, deploy/gunicorn.conf.py) + "
              f"{len(workers)} celery worker(s); readers: {anonymous} anonymous + "
              f"{signed_in} signed in (wrk); "
              f"signers {args.sign_rate:.0f}/s; load {common.load_average()}")  # fmt: skip

        signers = Signers(petition_id, data["signer_sessions"], args.sign_rate)
        signers.start()
        # Baseline: the same readers on one static file, through the same server.
        static_anon = run_wrk(tmp, "anon", anonymous, static_path, anon_cookies,
                              args.static_duration)  # fmt: skip
        static_signed = run_wrk(tmp, "signed", signed_in, static_path, signed_cookies,
                                args.static_duration)  # fmt: skip
        static_a, static_s = wrk_result(static_anon), wrk_result(static_signed)
        static_rps = static_a["rps"] + static_s["rps"]
        print(f"static baseline: {static_rps:.0f} req/s (anonymous {static_a['rps']:.0f}, "
              f"p95 {static_a['p95_us'] / 1000:.0f} ms), errors "
              f"{static_a['errors'] + static_s['errors']}")  # fmt: skip

        sampler = CountSampler(petition_id)
        sampler.start()
        surge_started = time.monotonic()
        signers.measure_from = surge_started
        anon_run = run_wrk(tmp, "anon", anonymous, page_paths, anon_cookies, args.duration)
        signed_run = run_wrk(tmp, "signed", signed_in, page_paths, signed_cookies, args.duration)
        anon, signed = wrk_result(anon_run), wrk_result(signed_run)
        surge_ended = time.monotonic()
        signers.measure_to = surge_ended
        load_after = common.load_average()
        busy = common.other_load()
        signers.stop()

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
        shown = shown_count(http_connection, petition_id)
        while shown != final_rows and time.monotonic() < deadline:
            time.sleep(0.1)
            http_connection = http.client.HTTPConnection(common.HOST, PORT, timeout=10)
            shown = shown_count(http_connection, petition_id)
        caught_up = time.monotonic()
        sampler.running = False
        sampler.join(2)
        samples = [*sampler.samples, (caught_up, shown)]

        ok = len(signers.ok_times)
        lost = max(0, ok - (final_rows - args.signatures))
        staleness = count_lag(signers.ok_times, samples, args.signatures)
        sign_rps = signers.ok_between(surge_started, surge_ended) / (surge_ended - surge_started)
        latencies = sorted(signers.latencies)
        sign_p99 = 1000 * common.percentile(latencies, 0.99)
        print(f"surge {surge_ended - surge_started:.1f}s: anonymous {anon['requests']} requests "
              f"(p50 {anon['p50_us'] / 1000:.0f} ms, p99 {anon['p99_us'] / 1000:.0f} ms, "
              f"errors {anon['errors']}); signed in {signed['requests']} requests "
              f"(p95 {signed['p95_us'] / 1000:.0f} ms, errors {signed['errors']})")  # fmt: skip
        print(f"signatures: ok={ok} failures={signers.failures or 0} rows={final_rows} "
              f"(base {args.signatures}) shown={shown} count samples={len(samples)} "
              f"sampler errors={sampler.errors}")  # fmt: skip
        print(f"load average after: {load_after}; busiest processes (ps, % CPU over their "
              f"lifetime): {busy}")  # fmt: skip
        print(
            f"read_rps={anon['rps']:.0f} read_p95_ms={anon['p95_us'] / 1000:.0f} "
            f"signed_in_rps={signed['rps']:.0f} sign_rps={sign_rps:.0f} "
            f"sign_p99_ms={sign_p99:.0f} count_staleness_max_s={staleness:.1f} lost={lost} "
            f"ratio_read_to_static={(anon['rps'] + signed['rps']) / static_rps:.2f}"
        )
    finally:
        if signers is not None:
            signers.running = False
        if sampler is not None:
            sampler.running = False
        common.stop(server)
        for worker in workers:
            common.stop(worker)
        try:
            common.drop_database()
        finally:
            common.flush_redis()


if __name__ == "__main__":
    main()
