"""Delivering the outbox: what is sent is what was recorded, a worker killed mid-batch loses
nothing and its claims are taken over, two workers never wait on each other."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection, connections, transaction
from django.utils import timezone

from opencity.core import services
from opencity.core.models import OutboundEmail
from opencity.core.services import (
    deliver_email,
    deliver_emails,
    outbound_email,
    queue_email,
    queue_outbound,
    stale_claim,
)

Status = OutboundEmail.Status


class WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside: nothing after it runs."""


class DiesAtMail:
    """Sends until the `at`-th message, where the worker is killed."""

    at = 0
    seen = 0

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        DiesAtMail.seen += 1
        if DiesAtMail.seen == DiesAtMail.at:
            raise WorkerKilled
        mail.outbox.extend(messages)
        return len(messages)


def _rows(n: int, prefix: str = "n") -> list[int]:
    emails = [outbound_email(key=f"{prefix}:{i:02}", to=f"r{i}@example.org", subject="S",
                             text="T", bulk=True) for i in range(n)]  # fmt: skip
    return [email.pk for email in queue_outbound(emails)]


def _dies_at(settings, at: int) -> None:
    settings.EMAIL_BACKEND = "tests.test_outbox_delivery.DiesAtMail"
    DiesAtMail.at, DiesAtMail.seen = at, 0


def _claims_go_stale(ids: list[int]) -> None:
    OutboundEmail.objects.filter(pk__in=ids, status=Status.SENDING).update(
        claimed_at=timezone.now() - stale_claim() - timedelta(seconds=1)
    )


@pytest.mark.django_db
def test_the_message_sent_is_the_one_recorded():
    email = queue_email(key="sent:1", to="reader@example.org", template="generic_notice",
                        context={"title": "Тема листа", "body": "Текст листа."},
                        headers={"List-Unsubscribe": "<https://u.example/1/>"})  # fmt: skip
    mail.outbox.clear()
    assert deliver_email(email.pk) is True
    [message] = mail.outbox
    assert (message.subject, message.body, message.to) == (email.subject, email.body_text,
                                                           ["reader@example.org"])  # fmt: skip
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert message.extra_headers["List-Unsubscribe"] == "<https://u.example/1/>"
    assert message.extra_headers["Message-ID"] == services.message_id(email)
    assert message.alternatives == [(email.body_html, "text/html")]
    row = OutboundEmail.objects.get(pk=email.pk)
    assert (row.status, row.attempts, row.next_attempt_at) == (Status.SENT, 1, None)


@pytest.mark.django_db
def test_a_worker_killed_mid_batch_loses_nothing_and_its_claims_are_taken_over(settings):
    _dies_at(settings, 12)
    ids = _rows(13)
    with pytest.raises(WorkerKilled):
        deliver_emails(ids)
    rows = list(OutboundEmail.objects.filter(pk__in=ids).order_by("key"))
    # ten recorded as sent; the 11th went out but was not recorded yet; the rest claimed
    assert [row.status for row in rows] == [Status.SENT] * 10 + [Status.SENDING] * 3
    assert all(row.claimed_at for row in rows)
    assert deliver_emails(ids) == 0 and deliver_email(ids[12]) is False  # live claims
    _claims_go_stale(ids)
    DiesAtMail.at = 0
    assert deliver_emails(ids) == 3
    assert set(OutboundEmail.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        Status.SENT
    }
    # the 11th went out twice, with one Message-ID: the reader's mail client shows it once
    again = [m for m in mail.outbox if m.to == ["r10@example.org"]]
    assert (
        len(again) == 2
        and again[0].extra_headers["Message-ID"] == (again[1].extra_headers["Message-ID"])
    )


@pytest.mark.django_db
def test_a_worker_killed_while_sending_one_mail_leaves_a_claim_the_next_run_takes_over(settings):
    _dies_at(settings, 1)
    [pk] = _rows(1, "one")
    with pytest.raises(WorkerKilled):
        deliver_email(pk)
    row = OutboundEmail.objects.get(pk=pk)
    assert (row.status, row.attempts) == (Status.SENDING, 1) and row.claimed_at
    assert deliver_email(pk) is False  # a live claim: perhaps it is still being sent
    _claims_go_stale([pk])
    assert deliver_email(pk) is True
    assert OutboundEmail.objects.get(pk=pk).attempts == 2


@pytest.mark.django_db
def test_a_sent_mail_is_never_claimed_again_however_old_its_claim():
    ids = _rows(2, "old")
    assert deliver_emails(ids) == 2
    OutboundEmail.objects.filter(pk__in=ids).update(claimed_at=timezone.now() - timedelta(days=2))
    assert deliver_emails(ids) == 0 and deliver_email(ids[0]) is False
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_a_failing_batch_gives_back_its_own_rows_and_leaves_another_workers_claim(settings):
    settings.EMAIL_BACKEND = "tests.test_outbox_and_worker.BrokenBackend"
    other = _rows(1, "other")
    OutboundEmail.objects.filter(pk__in=other).update(
        status=Status.SENDING, claimed_at=timezone.now(), attempts=1
    )
    ids = _rows(3, "mine")
    OutboundEmail.objects.filter(pk=ids[0]).update(attempts=2)  # failed twice before
    assert deliver_emails(ids) == 0
    row = OutboundEmail.objects.get(pk=ids[0])
    # its third failure: the next attempt in 4 minutes (1, 2, 4 ...)
    wait = row.next_attempt_at - timezone.now()
    assert (row.attempts, row.status) == (3, Status.PENDING)
    assert timedelta(minutes=3, seconds=50) < wait <= timedelta(minutes=4)
    assert OutboundEmail.objects.get(pk=other[0]).status == Status.SENDING


@pytest.mark.django_db
def test_a_batch_that_goes_out_releases_mail_waiting_out_a_backoff(settings):
    [waiting] = _rows(1, "waiting")
    OutboundEmail.objects.filter(pk=waiting).update(
        attempts=1, next_attempt_at=timezone.now() + timedelta(minutes=30)
    )
    assert deliver_emails(_rows(2, "batch")) == 2
    # the server works again: the waiting mail was released and (tasks run eagerly) sent
    row = OutboundEmail.objects.get(pk=waiting)
    assert (row.status, row.next_attempt_at) == (Status.SENT, None)


@pytest.mark.django_db(transaction=True)
def test_a_batch_skips_a_row_another_worker_holds_instead_of_waiting_for_it():
    ids = _rows(3, "held")
    locked, release = threading.Event(), threading.Event()

    def other_worker():
        try:
            with transaction.atomic():
                list(OutboundEmail.objects.select_for_update().filter(pk=ids[0]))
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")  # waiting would fail the test
        assert deliver_emails(ids) == 2
    finally:
        release.set()
        thread.join()
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
    assert OutboundEmail.objects.get(pk=ids[0]).status == Status.PENDING


class ClosesBadly:
    """The first connection sends one mail, then fails (the server closed it while idle) and
    cannot even be closed; the next one works."""

    made = 0

    def __init__(self, *args, **kwargs):
        ClosesBadly.made += 1
        self.number, self.sent = ClosesBadly.made, 0

    def send_messages(self, messages):
        if self.number == 1 and self.sent:
            raise ConnectionResetError("closed by the server")
        self.sent += 1
        mail.outbox.extend(messages)
        return len(messages)

    def close(self):
        raise OSError("already closed")


@pytest.mark.django_db
def test_an_old_connection_that_cannot_be_closed_does_not_cost_the_mail(settings):
    settings.EMAIL_BACKEND = "tests.test_outbox_delivery.ClosesBadly"
    ClosesBadly.made = 0
    first, second = _rows(2, "close")
    assert deliver_email(first) is True
    assert deliver_email(second) is True  # on a new connection, the first attempt
    assert OutboundEmail.objects.get(pk=second).attempts == 1 and ClosesBadly.made == 2


@pytest.mark.django_db
def test_a_batch_sends_its_own_rows_only():
    someone_elses = _rows(1, "receipt")
    assert deliver_emails(_rows(2, "batch")) == 2
    assert OutboundEmail.objects.get(pk=someone_elses[0]).status == Status.PENDING


@pytest.mark.django_db
def test_the_drain_counts_across_batches_and_stops_at_its_limit():
    emails = [outbound_email(key=f"d:{i:02}", to=f"d{i}@example.org", subject="S", text="T")
              for i in range(30)]  # fmt: skip
    queue_outbound(emails)
    assert services.drain_outbox(limit=25) == 25  # a batch of 20, then 5
    assert OutboundEmail.objects.filter(status=Status.PENDING).count() == 5


@pytest.mark.django_db
def test_a_worker_killed_while_draining_leaves_claims_the_next_run_takes_over(settings):
    _dies_at(settings, 2)
    emails = [outbound_email(key=f"k:{i}", to=f"k{i}@example.org", subject="S", text="T")
              for i in range(3)]  # fmt: skip
    ids = [email.pk for email in queue_outbound(emails)]
    with pytest.raises(WorkerKilled):
        services.drain_outbox()
    assert services.drain_outbox() == 0  # the claims are live
    claimed = OutboundEmail.objects.filter(pk__in=ids, status=Status.SENDING)
    assert claimed.count() == 3 and all(claimed.values_list("claimed_at", flat=True))
    DiesAtMail.at = 0
    later = timezone.now() + stale_claim() + timedelta(seconds=1)
    services.pending_email_ids(now=later)  # the sweep gives a dead worker's claims back
    assert services.drain_outbox() == 3  # the 1st went out unrecorded: again, same Message-ID
    assert set(OutboundEmail.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        Status.SENT
    }
