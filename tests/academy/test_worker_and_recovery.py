"""Through the real Redis broker and worker, and recovery after a broker outage."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse

from academy import services, tasks
from academy.models import Certificate, Registration
from tests.academy.factories import make_past_session, make_session, seat
from tests.factories import make_user
from tests.helpers import broker_down

Status = Registration.Status


def _wait_until(check, timeout=20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.worker
def test_real_worker_promotes_the_next_person_and_emails_them(real_worker):
    session = make_session(capacity=1)
    leaving = seat(session, make_user())
    waiting = services.register(session_id=session.pk, user=make_user())
    services.registration_cancel(registration_id=leaving.pk, user=leaving.user)
    assert _wait_until(lambda: Registration.objects.get(pk=waiting.pk).status == Status.SEATED), (
        "the worker did not promote"
    )
    assert _wait_until(lambda: len(mail.outbox) == 1), "the promotion e-mail was not delivered"
    assert mail.outbox[0].to == [waiting.user.email]


@pytest.mark.django_db(transaction=True)
def test_broker_outage_loses_no_certificate_and_the_sweep_generates_it(citizen):
    registration = seat(make_past_session(), citizen)
    with broker_down():
        services.attendance_set(registration=registration, attended=True, actor=None)
    certificate = Certificate.objects.get(registration=registration)
    assert not certificate.pdf
    assert tasks.sweep_certificates() == 0  # too recent: the task may still be on its way
    Certificate.objects.filter(pk=certificate.pk).update(
        issued_at=certificate.issued_at - timedelta(minutes=5)
    )
    assert tasks.sweep_certificates() == 1
    certificate.refresh_from_db()
    assert certificate.pdf
    assert tasks.sweep_certificates() == 0


@pytest.mark.django_db
def test_my_registrations_are_private_to_me(client, citizen):
    session = make_session()
    seat(session, citizen)
    other = seat(make_session(), make_user())
    url = reverse("academy:my")
    assert client.get(url).status_code == 302
    client.force_login(citizen)
    body = client.get(url).content.decode()
    assert session.course.title in body and other.session.course.title not in body
