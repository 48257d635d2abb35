"""A worker killed while it sends an e-mail: another worker picks the task up within a
minute and the e-mail goes out once. A real Celery worker process on Redis, SIGKILLed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction

from opencity import celery_app
from opencity.core.models import OutboundEmail
from opencity.core.services import queue_email

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


class HangingThenWorkingSmtp:
    """At first accepts connections and never greets (a send hangs); after `work()` it is
    a minimal SMTP server that records each message's recipients."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.working = False
        self.connections = 0
        self.delivered: list[str] = []
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def work(self):
        self.working = True

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            if not self.working:
                self.held.append(conn)  # never answers
                continue
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        stream = conn.makefile("rwb")
        stream.write(b"220 test\r\n")
        stream.flush()
        recipients = []
        for line in stream:
            verb = line[:4].upper()
            if verb == b"RCPT":
                recipients.append(line.split(b":", 1)[1].strip(b" <>\r\n").decode())
            if verb == b"DATA":
                stream.write(b"354 go\r\n")
                stream.flush()
                for body_line in stream:
                    if body_line == b".\r\n":
                        break
                self.delivered.extend(recipients)
            if verb == b"QUIT":
                stream.write(b"221 bye\r\n")
                stream.flush()
                break
            if verb != b"DATA":
                stream.write(b"250 OK\r\n")
            else:
                stream.write(b"250 queued\r\n")
            stream.flush()
        conn.close()

    def close(self):
        self.listener.close()
        for conn in self.held:
            conn.close()


def _worker(smtp_port: int, log: Path) -> subprocess.Popen:
    database = connection.settings_dict
    # The worker gets this test process's own Redis databases from settings; without
    # PYTEST_XDIST_WORKER, or its settings would move them up once more (tests/parallel.py).
    inherited = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
    env = {
        **inherited,
        "DJANGO_ENV": "test",
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT'] or 5432}"
            f"/{database['NAME']}"
        ),
        "REDIS_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_USE_TLS": "0",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "opencity", "worker", "-P", "solo", "-l", "info",
         "-Q", "celery,mail", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log.open("a"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def _stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        process.wait(30)


@pytest.fixture
def broker():
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs the Redis broker")
    celery_app.conf.task_always_eager = False
    celery_app.connection_for_write().ensure_connection(max_retries=1)
    _forget_queued_tasks()
    yield
    _forget_queued_tasks()  # nothing of this test is left for another worker
    celery_app.conf.task_always_eager = True


def _forget_queued_tasks() -> None:
    with celery_app.connection_for_write() as conn:
        conn.default_channel.client.delete("celery", "mail", "unacked", "unacked_index")


def test_a_mail_task_killed_with_its_worker_is_sent_once_within_a_minute(broker, tmp_path):
    smtp = HangingThenWorkingSmtp()
    log = tmp_path / "worker.log"
    first = _worker(smtp.port, log)
    second = None
    try:
        with transaction.atomic():
            email = queue_email(
                key="death:1",
                to="reader@example.org",
                template="generic_notice",
                context={"title": "T", "body": "B"},
            )
        deadline = time.monotonic() + 60
        while smtp.connections == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert smtp.connections == 1, log.read_text()[-2000:]  # the task is mid-send
        _stop(first, signal.SIGKILL)
        killed = time.monotonic()
        email.refresh_from_db()
        assert email.status == OutboundEmail.Status.SENDING
        smtp.work()
        second = _worker(smtp.port, log)
        while time.monotonic() - killed < 75:
            email.refresh_from_db()
            if email.status == OutboundEmail.Status.SENT:
                break
            time.sleep(0.5)
        took = time.monotonic() - killed
        assert email.status == OutboundEmail.Status.SENT, log.read_text()[-3000:]
        assert took < 60, f"picked up again {took:.0f} s after the worker died"
        time.sleep(1)
        assert smtp.delivered == ["reader@example.org"]
    finally:
        _stop(first, signal.SIGKILL)
        if second is not None:
            _stop(second)
        smtp.close()
