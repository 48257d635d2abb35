"""The e-mail outbox and Celery: a real worker on Redis, and a broker outage."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.test.signals import template_rendered
from django.utils import timezone

from opencity.core import tasks as core_tasks
from opencity.core.models import OutboundEmail
from opencity.core.services import (
    deliver_email,
    deliver_emails,
    outbound_email,
    queue_bulk_delivery,
    queue_email,
    queue_outbound,
    queue_rendered_email,
    render_email,
    render_email_alike,
    stale_claim,
)
from opencity.core.tasks import sweep_outbox
from tests.helpers import broker_down

CONTEXT = {"title": "Тест", "body": "Перевірка доставки."}


def _queue(key="test:1", to="reader@example.org"):
    with transaction.atomic():
        return queue_email(key=key, to=to, template="generic_notice", context=CONTEXT)


@pytest.mark.django_db
def test_same_key_is_recorded_and_sent_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = _queue()
        second = _queue()
    assert first is not None and second is None
    assert OutboundEmail.objects.count() == 1
    assert len(mail.outbox) == 1
    assert deliver_email(first.pk) is False  # already sent: a second run sends nothing
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_email_is_rendered_in_the_recipients_language():
    ukrainian = queue_email(key="lang:uk", to="a@example.org", template="generic_notice",
                            context=CONTEXT, language="uk")  # fmt: skip
    english = queue_email(key="lang:en", to="b@example.org", template="generic_notice",
                          context=CONTEXT, language="en")  # fmt: skip
    assert "OpenCity" in english.body_text and "Відкрите місто" in ukrainian.body_text
    assert ukrainian.body_html.startswith("<!DOCTYPE html>")


@pytest.mark.worker
def test_real_worker_delivers_the_email_from_redis(real_worker):
    email = _queue(key="worker:1")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        email.refresh_from_db()
        if email.status == OutboundEmail.Status.SENT:
            break
        time.sleep(0.1)
    assert email.status == OutboundEmail.Status.SENT
    assert [m.to for m in mail.outbox] == [["reader@example.org"]]


@pytest.mark.django_db(transaction=True)
def test_broker_outage_loses_no_email_and_the_sweep_delivers_it(settings):
    with broker_down():
        email = _queue(key="outage:1")  # must not raise: the citizen's request goes on
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.PENDING
    assert mail.outbox == []
    OutboundEmail.objects.filter(pk=email.pk).update(
        created_at=email.created_at - timedelta(minutes=5)
    )
    assert sweep_outbox() == 1
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_failed_smtp_is_retried_then_recorded(settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "tests.test_outbox_and_worker.BrokenBackend"
    with django_capture_on_commit_callbacks(execute=True):
        _queue(key="smtp:1")  # the failure stays in the task; the request is not affected
    email = OutboundEmail.objects.get(key="smtp:1")
    # eager mode propagates the first failure; the row is back to pending for a retry
    assert email.status in (OutboundEmail.Status.PENDING, OutboundEmail.Status.FAILED)
    assert "ConnectionRefusedError" in email.last_error


def _outbound(key: str, to: str = "f@example.org") -> OutboundEmail:
    return outbound_email(key=key, to=to, subject="Тема", text="Текст", bulk=True)


@pytest.mark.django_db
def test_a_batch_of_bulk_mail_is_one_task_and_stops_at_a_failing_server(
    settings, django_capture_on_commit_callbacks
):
    """Followers' notices recorded together go out in one deliver_emails task; when the mail
    server fails, the rest of the batch is not tried (the sweep sends it later)."""

    def queue_batch(prefix: str) -> list[int]:
        rows = queue_outbound([_outbound(f"{prefix}:{n}", f"f{n}@example.org") for n in range(3)])
        ids = [email.pk for email in rows]
        queue_bulk_delivery(ids)
        return ids

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        queue_batch("batch")
    assert len(callbacks) == 1  # three mails, one task
    for callback in callbacks:
        callback()
    assert sorted(m.to[0] for m in mail.outbox) == ["f0@example.org", "f1@example.org",
                                                    "f2@example.org"]  # fmt: skip
    assert set(OutboundEmail.objects.values_list("status", flat=True)) == {"sent"}

    settings.EMAIL_BACKEND = "tests.test_outbox_and_worker.BrokenBackend"
    with django_capture_on_commit_callbacks(execute=False):
        ids = queue_batch("down")
    assert deliver_emails(ids) == 0
    rows = {e.key: e for e in OutboundEmail.objects.filter(pk__in=ids)}
    assert "ConnectionRefusedError" in rows["down:0"].last_error
    assert [rows[f"down:{n}"].attempts for n in (1, 2)] == [0, 0]  # not tried
    assert {rows[f"down:{n}"].status for n in (1, 2)} == {OutboundEmail.Status.PENDING}


@pytest.mark.django_db
def test_a_batch_is_recorded_in_one_statement_and_each_key_once(django_assert_num_queries):
    queue_outbound([_outbound("taken")])
    with django_assert_num_queries(1):
        rows = queue_outbound([_outbound("new:1"), _outbound("taken"), _outbound("new:1"),
                               _outbound("new:2")])  # fmt: skip
    assert [email.key for email in rows] == ["new:1", "new:2"]
    assert all(email.pk for email in rows)
    keys = sorted(OutboundEmail.objects.values_list("key", flat=True))
    assert keys == ["new:1", "new:2", "taken"]


@pytest.mark.django_db
def test_a_batch_skips_a_mail_another_worker_is_sending_and_takes_over_a_dead_ones_claim():
    ids = [email.pk for email in queue_outbound([_outbound(f"claim:{n}") for n in range(3)])]
    now = timezone.now()
    live, dead = ids[0], ids[1]
    OutboundEmail.objects.filter(pk=live).update(status="sending", claimed_at=now, attempts=1)
    OutboundEmail.objects.filter(pk=dead).update(
        status="sending", claimed_at=now - stale_claim() - timedelta(seconds=1), attempts=1
    )
    assert deliver_emails(ids) == 2
    rows = {e.pk: e for e in OutboundEmail.objects.filter(pk__in=ids)}
    assert (rows[live].status, rows[live].attempts) == ("sending", 1)  # left to its worker
    assert (rows[dead].status, rows[dead].attempts) == ("sent", 2)
    assert rows[ids[2]].status == "sent"
    assert deliver_emails(ids) == 0  # sent ones are not sent again
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_a_long_batch_records_what_it_sent_before_the_server_failed(settings):
    """Sent rows are recorded every RECORD_SENT_EVERY mails and when the server fails: none
    that went out is left claimed, none that did not is marked sent."""
    settings.EMAIL_BACKEND = "tests.test_outbox_and_worker.FailsAfterTwelve"
    FailsAfterTwelve.sent = 0
    ids = [email.pk for email in queue_outbound([_outbound(f"long:{n:02}") for n in range(15)])]
    assert deliver_emails(ids) == 12
    rows = list(OutboundEmail.objects.filter(pk__in=ids).order_by("key"))
    assert [e.status for e in rows] == ["sent"] * 12 + ["pending"] * 3
    assert all(e.sent_at for e in rows[:12]) and rows[12].last_error
    assert [e.attempts for e in rows[12:]] == [1, 0, 0]


@pytest.mark.django_db
def test_an_outbox_row_keeps_a_one_line_subject_cut_to_fit_and_its_city(city_a):
    email = queue_rendered_email(outbound_email(
        key="k" * 250, to="a@example.org", subject="Рядок один\n  рядок два " + "я" * 400,
        text="Текст", city=city_a))  # fmt: skip
    row = OutboundEmail.objects.get(pk=email.pk)
    assert row.key == "k" * 200
    assert row.subject.startswith("Рядок один рядок два я") and len(row.subject) == 300
    assert (row.city_id, row.body_html, row.headers, row.bulk) == (city_a.pk, "", {}, False)
    assert row.language == "uk"
    by_pk = queue_rendered_email(outbound_email(
        key="by-pk", to="a@example.org", subject="S", text="T", city=city_a.pk, language="en",
        headers={"List-Unsubscribe": "<https://u.example/>"}))  # fmt: skip
    row = OutboundEmail.objects.get(pk=by_pk.pk)
    assert (row.city_id, row.language) == (city_a.pk, "en")
    assert row.headers == {"List-Unsubscribe": "<https://u.example/>"}
    by_pk.validate_unique()  # the returned row is the recorded one, not a new one


@pytest.mark.django_db
def test_bulk_mail_is_delivered_from_the_bulk_queue_and_the_rest_from_the_mail_queue(
    monkeypatch, django_capture_on_commit_callbacks
):
    from opencity import queue

    sent = []
    monkeypatch.setattr(queue, "send_now", lambda task, *args, **kw: sent.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        queue_rendered_email(outbound_email(key="b", to="a@", subject="S", text="T", bulk=True))
        queue_rendered_email(outbound_email(key="m", to="a@", subject="S", text="T"))
    assert sent == [{"queue": "bulk"}, {}]  # {}: the route, the "mail" queue


def test_a_mail_rendered_once_for_many_fills_in_each_readers_part_escaped_where_needed():
    fill = render_email_alike("generic_notice", {"title": "Тема"}, "uk", blanks=["body"])
    subject, text, html = fill(body="https://example.org/a/1/")
    assert "<p>https://example.org/a/1/</p>" in html and "https://example.org/a/1/" in text
    assert subject == "Тема"
    # a value that HTML must escape is rendered in full, escaped in the HTML part only
    _, text, html = fill(body="a <b> & c")
    assert "<p>a &lt;b&gt; &amp; c</p>" in html and "a <b> & c" in text
    assert "Відкрите місто" in text  # rendered again in the reader's language
    rendered = []
    template_rendered.connect(lambda **kw: rendered.append(kw), weak=False, dispatch_uid="t")
    try:
        fill(body="https://example.org/b/2/")
    finally:
        template_rendered.disconnect(dispatch_uid="t")
    assert rendered == []  # a plain value is filled in: no template rendered again
    assert not re.search(r"oc[0-9a-f]{24}", subject + text + html)  # no mark is left
    assert render_email_alike("generic_notice", {"title": "T"}, "en", blanks=["body"])(
        body="x"
    ) == render_email("generic_notice", {"title": "T", "body": "x"}, "en")


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("smtp down")


@pytest.mark.django_db(transaction=True)
def test_broker_outage_costs_a_request_that_queues_many_emails_one_connection_attempt(
    monkeypatch,
):
    attempts = []
    publish = core_tasks.deliver_email.apply_async

    def counting(*args, **kwargs):
        attempts.append(1)
        return publish(*args, **kwargs)

    monkeypatch.setattr(core_tasks.deliver_email, "apply_async", counting)
    with broker_down():
        for n in range(10):
            _queue(key=f"outage-many:{n}", to=f"staff{n}@example.org")
    # The first publish fails; the other nine wait for the sweep instead of each waiting
    # for a dead broker (opencity.queue.BROKER_BACKOFF_SECONDS).
    assert len(attempts) == 1
    assert OutboundEmail.objects.filter(status=OutboundEmail.Status.PENDING).count() == 10


class FailsAfterTwelve:
    sent = 0

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        if FailsAfterTwelve.sent >= 12:
            raise ConnectionRefusedError("smtp down")
        FailsAfterTwelve.sent += len(messages)
        return len(messages)
