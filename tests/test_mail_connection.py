"""The worker keeps one connection to the mail server and reuses it; a connection the server
dropped costs no failed attempt: the mail goes out once, on a fresh connection."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest
from django.db import transaction

from opencity.core import mail, services
from opencity.core.models import OutboundEmail
from opencity.core.services import deliver_email, queue_email

pytestmark = pytest.mark.django_db


class Smtp:
    """A minimal SMTP server in a thread: counts connections, records each message's
    recipients; `drop()` closes every open connection, as a server does with idle ones."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.quits = 0
        self.refused: set[str] = set()  # recipients answered 550 (no such mailbox)
        self.delivered: list[str] = []
        self.open: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self.open.append(conn)
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        try:
            stream = conn.makefile("rwb")
            stream.write(b"220 test\r\n")
            stream.flush()
            recipients: list[str] = []
            for line in stream:
                verb = line[:4].upper()
                if verb == b"MAIL":
                    recipients = []
                elif verb == b"RCPT":
                    recipient = line.split(b":", 1)[1].strip(b" <>\r\n").decode()
                    if recipient in self.refused:
                        stream.write(b"550 no such mailbox\r\n")
                        stream.flush()
                        continue
                    recipients.append(recipient)
                elif verb == b"DATA":
                    stream.write(b"354 go\r\n")
                    stream.flush()
                    for body_line in stream:
                        if body_line == b".\r\n":
                            break
                    self.delivered.extend(recipients)
                elif verb == b"QUIT":
                    self.quits += 1
                    stream.write(b"221 bye\r\n")
                    stream.flush()
                    break
                stream.write(b"250 queued\r\n" if verb == b"DATA" else b"250 OK\r\n")
                stream.flush()
        except (OSError, ValueError):
            pass  # dropped
        finally:
            conn.close()

    def drop(self):
        for conn in self.open:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self.open.clear()

    def close(self):
        with contextlib.suppress(OSError):  # shutdown wakes the accept(): no more connections
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.drop()


@pytest.fixture
def smtp(settings):
    server = Smtp()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield server
    mail.drop_connection()
    server.close()


def _queued(n: int) -> OutboundEmail:
    with transaction.atomic():
        return queue_email(
            key=f"conn:{n}",
            to=f"reader{n}@example.org",
            template="generic_notice",
            context={"title": "T", "body": "B"},
        )


def test_two_mails_go_out_on_one_connection(smtp):
    first, second = _queued(1), _queued(2)
    assert deliver_email(first.pk) is True
    assert deliver_email(second.pk) is True
    assert smtp.delivered == ["reader1@example.org", "reader2@example.org"]
    assert smtp.connections == 1


def test_a_dropped_connection_costs_no_failed_attempt_and_the_mail_goes_out_once(smtp):
    first, second = _queued(1), _queued(2)
    assert deliver_email(first.pk) is True
    smtp.drop()  # the server closed the idle connection
    assert deliver_email(second.pk) is True
    assert smtp.delivered == ["reader1@example.org", "reader2@example.org"]
    assert smtp.connections == 2
    second.refresh_from_db()
    assert (second.status, second.attempts, second.last_error) == (
        OutboundEmail.Status.SENT, 1, "")  # fmt: skip


def test_a_server_that_is_gone_is_one_failed_attempt(smtp):
    first, second = _queued(1), _queued(2)
    assert deliver_email(first.pk) is True
    smtp.close()  # the server stops: the old connection and a new one both fail
    assert deliver_email(second.pk) is False
    second.refresh_from_db()
    assert second.status == OutboundEmail.Status.PENDING
    assert second.attempts == 1 and second.next_attempt_at is not None
    assert smtp.delivered == ["reader1@example.org"]


def test_a_delivery_task_drains_the_backlog_on_its_connection_oldest_first(smtp):
    from opencity.core.tasks import deliver_email as deliver_task

    backlog = [_queued(n) for n in range(1, 5)]
    with transaction.atomic():
        bulk = queue_email(key="conn:bulk", to="bulk@example.org", template="generic_notice",
                           context={"title": "T", "body": "B"}, bulk=True)  # fmt: skip
    assert deliver_task(backlog[2].pk) is True  # its own row, then the others due
    assert smtp.delivered == [f"reader{n}@example.org" for n in (3, 1, 2, 4)]
    assert smtp.connections == 1
    assert set(OutboundEmail.objects.values_list("key", "status", "attempts")) == {
        *((f"conn:{n}", OutboundEmail.Status.SENT, 1) for n in range(1, 5)),
        ("conn:bulk", OutboundEmail.Status.PENDING, 0),  # the bulk keeps its own pace
    }
    # the rows' own tasks find them sent: nothing goes out twice
    assert [deliver_task(e.pk) for e in backlog] == [False] * 4
    assert len(smtp.delivered) == 4 and bulk.pk


def test_a_failing_server_stops_the_drain_and_gives_the_batch_back(smtp):
    from opencity.core.tasks import deliver_email as deliver_task

    backlog = [_queued(n) for n in range(1, 4)]
    smtp.close()
    assert deliver_task(backlog[0].pk) is False
    assert services.drain_outbox() == 0  # one failed attempt for the oldest due, not three
    rows = {e.key: (e.status, e.attempts) for e in OutboundEmail.objects.all()}
    assert rows["conn:1"][1] == 1  # deferred by its own task's failure, not tried again
    assert rows["conn:2"] == (OutboundEmail.Status.PENDING, 1)  # the drain's one attempt
    assert rows["conn:3"] == (OutboundEmail.Status.PENDING, 0)  # given back untried


def test_the_drain_stops_at_its_limit_and_when_its_time_is_up(smtp):
    for n in range(1, 6):
        _queued(n)
    assert services.drain_outbox(limit=2) == 2
    assert smtp.delivered == ["reader1@example.org", "reader2@example.org"]
    assert services.drain_outbox(seconds=0) == 0  # no time left: nothing is claimed
    waiting = OutboundEmail.objects.filter(status=OutboundEmail.Status.PENDING)
    assert sorted(waiting.values_list("key", "attempts")) == [(f"conn:{n}", 0) for n in (3, 4, 5)]


def test_a_worker_thread_that_never_sent_opens_its_connection_on_the_first_mail(smtp):
    for name in ("connection", "settings", "failing"):  # as in a new worker thread
        mail._mail.__dict__.pop(name, None)
    mail.drop_connection()  # nothing to close: harmless
    assert deliver_email(_queued(1).pk) is True
    assert smtp.delivered == ["reader1@example.org"] and smtp.connections == 1


def test_a_mailbox_refused_for_good_costs_no_new_connection(smtp):
    smtp.refused.add("reader2@example.org")
    first, second = _queued(1), _queued(2)
    assert deliver_email(first.pk) is True
    assert deliver_email(second.pk) is False
    second.refresh_from_db()
    assert second.status == OutboundEmail.Status.FAILED and "SMTPRecipientsRefused" in (
        second.last_error
    )
    assert smtp.connections == 1  # a 550 is the mailbox's answer, not a dead connection


def test_a_dropped_connection_is_closed_politely_and_the_next_mail_opens_a_new_one(smtp):
    assert deliver_email(_queued(1).pk) is True
    mail.drop_connection()
    deadline = time.monotonic() + 5
    while smtp.quits < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert smtp.quits == 1
    assert deliver_email(_queued(2).pk) is True and smtp.connections == 2


def test_the_server_counts_as_working_again_after_a_success(smtp, settings):
    first, second = _queued(1), _queued(2)
    smtp.close()
    assert deliver_email(first.pk) is False and mail.mail_server_failing() is True
    server = Smtp()
    settings.EMAIL_PORT = server.port
    try:
        assert deliver_email(second.pk) is True and mail.mail_server_failing() is False
    finally:
        server.close()
