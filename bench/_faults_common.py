"""bench/faults.py's servers and load: its own PostgreSQL, Redis and SMTP sink, processes,
the signing and voting load and the e-mail producer. Ports 5495, 6395, 9500, 9525."""

from __future__ import annotations

import contextlib
import http.client
import itertools
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from http.cookies import SimpleCookie
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _addresses as addresses  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"
PG_PORT, REDIS_PORT, WEB_PORT, SMTP_PORT = 5495, 6395, 9500, 9525
DB_NAME = "bench_faults"
RATE = float(os.environ.get("BENCH_RATE", "200"))
SMTP_DOWN = float(os.environ.get("BENCH_SMTP_DOWN_S", "300"))
REDIS_DOWN = float(os.environ.get("BENCH_REDIS_DOWN_S", "30"))
TALLY_VOTERS = int(os.environ.get("BENCH_TALLY_VOTERS", "40000"))
# Each petition being signed queues up to one recount a second (petitions.conf): eight of
# them keep the worker's queue short on a shared two-core machine.
PETITIONS = int(os.environ.get("BENCH_PETITIONS", "16"))  # enough acts for ~10 min at 200/s
USERS = int(os.environ.get("BENCH_USERS", "10000"))
MAX_VOTES = 5
STUCK_AFTER = 60.0
CSRF = "benchcsrftokenbenchcsrftoken1234"  # 32 characters: an unmasked CSRF secret


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- servers of our own ----------------------------------------------------------------------
def _pg_bin(name: str) -> str:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not versions:
        sys.exit("PostgreSQL server binaries are missing (apt-get install postgresql)")
    return str(versions[-1] / name)


class Postgres:
    def __init__(self, folder: Path):
        self.data = folder / "pgdata"
        self.socket = folder / "pgsock"
        self.as_postgres = os.geteuid() == 0
        for path in (folder, self.socket):
            path.mkdir(exist_ok=True)
        if self.as_postgres:
            shutil.chown(folder, "postgres")
            shutil.chown(self.socket, "postgres")
        self.log = folder / "postgres.log"
        self.log.touch()
        if self.as_postgres:
            shutil.chown(self.log, "postgres")

    def _run(self, *argv: str) -> None:
        # no pipes: the server pg_ctl starts would hold them open
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        subprocess.run([*prefix, *argv], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)  # fmt: skip

    def init(self) -> None:
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust")

    def start(self) -> None:
        options = (
            f"-p {PG_PORT} -c listen_addresses={HOST} -k {self.socket} "
            "-c max_connections=200 -c shared_buffers=128MB"
        )
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "start")  # fmt: skip

    def restart(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-m", "fast",
                  "-w", "restart")  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")


def start_process(env: dict, argv: list[str], log_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=log_path.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_process(process: subprocess.Popen | None, sig=signal.SIGTERM) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def start_redis(folder: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(REDIS_PORT),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],  # fmt: skip
        stdout=(folder / "redis.log").open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    for _ in range(100):
        if subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "ping"], capture_output=True,
                          text=True).stdout.strip() == "PONG":  # fmt: skip
            return process
        time.sleep(0.1)
    raise RuntimeError("redis-server did not start")


class SmtpSink:
    """The mail server, run as a process of its own (bench/_smtp_sink.py) as a real one is, not
    in this process whose interpreter the load's threads keep busy. It accepts every message
    and records its recipients and Message-IDs in a file this class reads back; stop()
    terminates it (connections are refused), start() launches it again on the same port."""

    def __init__(self, folder: Path | None = None):
        import tempfile

        self.path = (folder or Path(tempfile.mkdtemp(prefix="opencity-sink-"))) / "smtp-sink.tsv"
        self.path.touch()
        self.process: subprocess.Popen | None = None
        self._received: Counter = Counter()
        self._message_ids: dict[str, set[str]] = {}
        self._offset = 0
        self._read_at = 0.0
        self.lock = threading.Lock()

    def _refresh(self) -> None:
        with self.lock:
            if time.monotonic() - self._read_at < 0.2:
                return
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
            complete = chunk.rfind(b"\n") + 1  # a line still being written waits
            for line in chunk[:complete].decode().splitlines():
                recipient, _, message_id = line.partition("\t")
                self._received[recipient] += 1
                self._message_ids.setdefault(recipient, set()).add(message_id)
            self._offset += complete
            self._read_at = time.monotonic()

    def reread(self) -> None:
        """The next look reads the file again (the accounts at the end see every line)."""
        self._read_at = 0.0

    @property
    def received(self) -> Counter:
        self._refresh()
        return self._received

    @property
    def message_ids(self) -> dict[str, set[str]]:
        self._refresh()
        return self._message_ids

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("_smtp_sink.py")), HOST,
             str(SMTP_PORT), str(self.path)],
            stdout=subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        if self.process.stdout.readline().strip() != b"ready":
            raise RuntimeError("the SMTP sink did not start")

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None
        self._read_at = 0.0


# --- load ------------------------------------------------------------------------------------
def _acknowledged(kind: str, response) -> bool:
    """Did the portal tell the person their act was stored? A vote: the redirect to the
    receipt. A signature: the redirect to the petition with the success message (a refusal
    redirects there too, with another message; a lost session redirects to sign-in)."""
    location = response.getheader("Location", "")
    if kind != "sign":
        return location.endswith("/ballot/receipt/")
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.http import HttpRequest

    storage = CookieStorage(HttpRequest())
    for header in response.headers.get_all("Set-Cookie") or []:
        cookie = SimpleCookie()
        cookie.load(header)
        if "messages" in cookie:
            messages = storage._decode(cookie["messages"].value) or []
            return any(m.level == 25 for m in messages)
    return False


class Load:
    """Signing (70 %) and voting (30 %) at RATE requests/s from a few threads; every answer
    is recorded with its time, so 5xx can be matched against the fault windows."""

    def __init__(self, data: dict):
        self.data = data
        self.jobs = self._jobs()
        self.lock = threading.Lock()
        self.results: list[tuple[float, str, object, bool]] = []  # time, kind, status, retry
        self.signed: set[tuple[int, int]] = set()
        self.voted: set[tuple[int, int]] = set()
        self.latencies: list[float] = []
        self.running = False

    def _jobs(self):
        people = self.data["people"]
        signings = [(pk, uid, key) for pk in self.data["petitions"] for uid, key in people]
        random.shuffle(signings)
        # A voter confirms one ballot (review → confirm, as the ballot page posts it).
        votes = [
            (tuple(random.sample(self.data["initiatives"], MAX_VOTES)), uid, key)
            for uid, key in people
        ]
        random.shuffle(votes)
        sign_iter, vote_iter = iter(signings), iter(votes)
        for n in itertools.count():
            vote = next(vote_iter, None) if n % 10 >= 7 else None
            if vote is not None:
                yield ("vote", *vote)
                continue
            sign = next(sign_iter, None)
            if sign is None:
                return
            yield ("sign", *sign)

    def _request(self, connection, kind, pk, uid, key):
        if kind == "sign":
            path, body = f"/petitions/{pk}/sign/", f"csrfmiddlewaretoken={CSRF}"
        else:
            path = f"/initiatives/{self.data['voting_slug']}/ballot/confirm/"
            body = "&".join(f"project={project}" for project in pk)
        connection.request("POST", path, body, {
            "Cookie": f"sessionid={key}; csrftoken={CSRF}",
            "X-CSRFToken": CSRF,
            "Content-Type": "application/x-www-form-urlencoded",
            "Host": f"{HOST}:{WEB_PORT}",
            "Connection": "close",
            # Each person from an address of their own, as through the deployed nginx.
            "X-Forwarded-For": addresses.address(uid),
        })  # fmt: skip
        response = connection.getresponse()
        response.read()
        status = response.status
        if status == 302 and not _acknowledged(kind, response):
            status = "302-refused"  # a refusal or a login redirect: nothing was promised
        return status, response.getheader("Retry-After") is not None

    def _client(self, schedule):
        while self.running:
            with self.lock:
                at = next(schedule)
                job = next(self.jobs, None)
            if job is None:
                return  # every person has signed every petition and voted
            kind, pk, uid, key = job
            delay = at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            connection = http.client.HTTPConnection(HOST, WEB_PORT, timeout=30)
            sent = time.monotonic()
            try:
                status, retry = self._request(connection, kind, pk, uid, key)
            except (OSError, http.client.HTTPException) as exc:
                status, retry = type(exc).__name__, False
            finally:
                connection.close()
            with self.lock:
                now = time.monotonic()
                self.results.append((now, kind, status, retry))
                self.latencies.append(now - sent)
                if status == 302 and kind == "sign":
                    self.signed.add((pk, uid))
                elif status == 302:
                    self.voted.update((project, uid) for project in pk)

    def start(self, threads: int = 32) -> None:
        self.running = True
        begin = time.monotonic()
        schedule = (begin + n / RATE for n in itertools.count())
        self.threads = [threading.Thread(target=self._client, args=(schedule,), daemon=True)
                        for _ in range(threads)]  # fmt: skip
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.running = False
        for thread in self.threads:
            thread.join(60)

    def between(self, start: float, end: float) -> list:
        with self.lock:
            return [r for r in self.results if start <= r[0] < end]


class Mailer:
    """Queues one outbox e-mail every half second, as a service would; remembers the ones
    whose transaction committed (the acknowledged ones)."""

    def __init__(self):
        self.committed: dict[str, float] = {}
        self.running = False
        self.counter = itertools.count(1)

    def _run(self):
        from django.db import close_old_connections, transaction

        from opencity.core.services import queue_email

        while self.running:
            n = next(self.counter)
            to = f"m{n}@bench.local"
            try:
                with transaction.atomic():
                    queue_email(key=f"bench:faults:{n}", to=to, template="generic_notice",
                                context={"title": "Bench", "body": f"Лист {n}"})  # fmt: skip
                self.committed[to] = time.monotonic()
            except Exception:  # the database is down: nothing was acknowledged
                close_old_connections()
                from django.db import connection

                connection.close()
            time.sleep(0.5)

    def start(self):
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def stop(self):
        self.running = False
        self.thread.join(30)
