"""The e-mail outbox and Celery: a real worker on Redis, and a broker outage."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction

from opencity.core import tasks as core_tasks
from opencity.core.models import OutboundEmail
from opencity.core.services import deliver_email, queue_email
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


@pytest.mark.django_db
def test_a_batch_of_bulk_mail_is_one_task_and_stops_at_a_failing_server(
    settings, django_capture_on_commit_callbacks
):
    """Followers' notices queued with deliver=False go out in one deliver_emails task; when
    the mail server fails, the rest of the batch is not tried (the sweep sends it later)."""
    from opencity.core.services import deliver_emails, queue_bulk_delivery

    def queue_batch(prefix: str) -> list[int]:
        ids = []
        for n in range(3):
            email = queue_email(key=f"{prefix}:{n}", to=f"f{n}@example.org",
                                template="generic_notice", context=CONTEXT, bulk=True,
                                deliver=False)  # fmt: skip
            ids.append(email.pk)
        queue_bulk_delivery(ids)
        return ids

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        queue_batch("batch")
    assert len(callbacks) == 1  # three mails, one task
    for callback in callbacks:
        callback()
    assert sorted(m.to[0] for m in mail.outbox) == ["f0@example.org", "f1@example.org",
                                                    "f2@example.org"]  # fmt: skip

    settings.EMAIL_BACKEND = "tests.test_outbox_and_worker.BrokenBackend"
    with django_capture_on_commit_callbacks(execute=False):
        ids = queue_batch("down")
    assert deliver_emails(ids) == 0
    rows = {e.key: e for e in OutboundEmail.objects.filter(pk__in=ids)}
    assert "ConnectionRefusedError" in rows["down:0"].last_error
    assert [rows[f"down:{n}"].attempts for n in (1, 2)] == [0, 0]  # not tried
    assert {rows[f"down:{n}"].status for n in (1, 2)} == {OutboundEmail.Status.PENDING}


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
