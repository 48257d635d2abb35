"""Shared by bench/sign_surge.py and bench/browse.py: database, processes, HTTP, figures.

Resources: PostgreSQL database `bench_petitions`, Redis db 11, ports 127.0.0.1:8101-8109.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import _addresses as addresses

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
DB_NAME = "bench_petitions"
PG = "postgres://postgres@127.0.0.1:5432"
# BENCH_REDIS_URL moves it when another run (a test suite) uses this Redis db.
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
HOST = "127.0.0.1"


def configure_environment(tmp: Path) -> dict:
    env = {
        "DJANGO_SETTINGS_MODULE": "opencity.settings",
        "DJANGO_ENV": "development",
        "DEBUG": "0",
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "REDIS_URL": REDIS,
        "CACHE_REDIS_URL": REDIS,
        "CACHE_KEY_PREFIX": "bench-petitions",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "LOG_LEVEL": "WARNING",
        "PYTHONWARNINGS": "ignore:No directory at:UserWarning",
        "MEDIA_ROOT": str(tmp / "media"),
        **addresses.ENV,
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    return {**os.environ, **env}


def psql(sql: str, database: str = "postgres") -> str:
    return subprocess.run(
        ["psql", "-h", HOST, "-U", "postgres", "-d", database, "-qAtc", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def recreate_database() -> None:
    psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql(f"CREATE DATABASE {DB_NAME}")


def drop_database() -> None:
    from django.db import connections

    connections.close_all()
    psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS).flushdb()


def manage(env: dict, *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def seed_petitions(env: dict, *args: str) -> None:
    """Bulk rows for the benchmarks (bench/seed_petitions.py, never part of an installation)."""
    script = str(ROOT / "bench" / "seed_petitions.py")
    subprocess.run([PYTHON, script, *args], cwd=ROOT, env=env, check=True)


def start(env: dict, argv: list[str], log: Path) -> subprocess.Popen:
    """A child process in its own process group (so stopping it stops its children)."""
    return subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_workers(env: dict, tmp: Path, *, split: bool = True) -> list[subprocess.Popen]:
    """The Celery workers as deploy/systemd runs them: the main one (tallies, the mail
    someone waits for) and the one for followers' notices (`bulk`) at a lower CPU priority
    (`nice -n 10`, the unit's Nice=). `split=False`: one worker for all queues."""
    worker = [PYTHON, "-m", "celery", "-A", "opencity", "worker", "-l", "warning", "-P", "solo",
              "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
    if not split:
        return [start(env, worker, tmp / "celery.log")]
    return [
        start(env, [*worker, "-Q", "celery,mail", "-n", "main@%h"], tmp / "celery.log"),
        start(
            env,
            ["nice", "-n", "10", *worker, "-Q", "bulk", "-n", "bulk@%h"],
            tmp / "celery-bulk.log",
        ),
    ]


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def gunicorn(env: dict, port: int, workers: int, threads: int, log: Path) -> subprocess.Popen:
    process = start(
        env,
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "opencity.wsgi",
            "-b",
            f"{HOST}:{port}",
            "-w",
            str(workers),
            "-k",
            "gthread",
            "--threads",
            str(threads),
            "--backlog",
            "2048",
            "--keep-alive",
            "30",
        ],
        log,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.3)
    stop(process)
    raise RuntimeError(f"gunicorn did not start; see {log}")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class RssSampler(threading.Thread):
    """Largest resident set size of any gunicorn worker, sampled every half second."""

    def __init__(self, master_pid: int):
        super().__init__(daemon=True)
        self.master_pid = master_pid
        self.max_mb = 0.0
        self.running = True

    def run(self) -> None:
        while self.running:
            for pid in children(self.master_pid):
                self.max_mb = max(self.max_mb, rss_mb(pid))
            time.sleep(0.5)


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, int(round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def other_load() -> str:
    """What else is running (the machine is shared): top CPU consumers, by command name."""
    out = subprocess.run(
        ["ps", "-eo", "pcpu,comm", "--sort=-pcpu"], capture_output=True, text=True
    ).stdout.splitlines()[1:8]
    return ", ".join(" ".join(line.split()[::-1]) for line in out)
