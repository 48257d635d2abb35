"""A petition reaching its threshold, as its author, the clerks and a visitor see it: only this
petition and only when the count is there, the city's own response time, the audit row in the
city's log, the cached page rebuilt; and the signer following it on the demo's database
(issue 21: found by the mutation run)."""

from __future__ import annotations

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone

from opencity.core.models import AuditEntry
from opencity.notifications.models import Follow
from opencity.workdays import add_working_days
from petitions import conf, services, tasks
from petitions.models import Petition, Signature
from tests.factories import make_user
from tests.petitions.factories import make_petition

Status = Petition.Status
pytestmark = pytest.mark.django_db


def counted(petition, n: int) -> None:
    Petition.objects.filter(pk=petition.pk).update(signature_count=n)


def test_only_this_petition_and_only_at_its_threshold_is_marked_reached(city_a):
    petition = make_petition(city_a, threshold=5)
    other = make_petition(city_a, threshold=5)
    below = make_petition(city_a, threshold=5)
    counted(petition, 5)
    counted(other, 7)
    counted(below, 4)
    assert services.petition_mark_reached(petition_id=below.pk) is False
    assert Petition.objects.get(pk=below.pk).status == Status.COLLECTING
    assert services.petition_mark_reached(petition_id=petition.pk) is True
    assert Petition.objects.get(pk=petition.pk).status == Status.REACHED
    assert Petition.objects.get(pk=other.pk).status == Status.COLLECTING, "its own task marks it"
    (entry,) = AuditEntry.objects.filter(action="petitions.petition.reached")
    assert entry.object_id == str(petition.pk) and entry.city_id == city_a.pk
    assert entry.reason == "5"


def test_the_response_is_due_after_the_petitions_own_working_days(city_a):
    petition = make_petition(city_a, threshold=2, respond_working_days=3)
    assert conf.DEFAULT_RESPOND_WORKING_DAYS != 3
    counted(petition, 2)
    services.petition_mark_reached(petition_id=petition.pk)
    petition.refresh_from_db()
    assert petition.response_due == add_working_days(timezone.localdate(), 3)


def test_the_cached_page_shows_the_petition_reached(city_a, django_capture_on_commit_callbacks):
    petition = make_petition(city_a, threshold=2)
    visitor, url = Client(), petition.get_absolute_url()
    before = visitor.get(url).content.decode()
    counted(petition, 2)
    with django_capture_on_commit_callbacks(execute=True):
        services.petition_mark_reached(petition_id=petition.pk)
    after = visitor.get(url).content.decode()
    assert after != before
    assert str(Status.REACHED.label) in after or "reached" in after


def test_a_signer_follows_the_petition_on_the_demo_database(city_a, monkeypatch):
    petition = make_petition(city_a, threshold=1000)
    signer = make_user()
    monkeypatch.setattr(connections["default"], "vendor", "sqlite")
    services.petition_sign(petition=petition.pk, user=signer)
    assert Follow.objects.filter(user=signer, object_id=petition.pk).exists()


def test_the_signature_returned_is_the_one_recorded(city_a):
    petition = make_petition(city_a, threshold=1000)
    signer = make_user(full_name="Олена Пчілка")
    returned = services.petition_sign(petition=petition.pk, user=signer, notify_on_answer=False)
    stored = Signature.objects.get(pk=returned.pk)
    assert (returned.public_name, returned.notify_on_answer) == ("Олена Пчілка", False)
    assert (stored.user_id, stored.notify_on_answer) == (signer.pk, False)


def test_each_petition_has_its_own_pending_tally(city_a, monkeypatch):
    """Two petitions signed within the same window each get their tally queued."""
    sent = []
    monkeypatch.setattr(
        tasks.tally_petition, "apply_async", lambda args=(), **kw: sent.append(args)
    )
    app_conf = tasks.tally_petition.app.conf
    app_conf.task_always_eager = False
    try:
        first, second = make_petition(city_a), make_petition(city_a)
        services.request_tally(first.pk)
        services.request_tally(second.pk)
        services.request_tally(first.pk)
    finally:
        app_conf.task_always_eager = True
    assert sent == [(first.pk,), (second.pk,)]
