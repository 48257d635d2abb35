"""Signing and the tally through the path a signer takes: the real INSERT on PostgreSQL, the
reason a refused signer is told, the threshold crossing (its time, audit row and e-mails),
and queueing the recount when Redis is down. The clock is frozen with time-machine, which
patches the clock for every module at once (no import path to name in a patch)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone, translation

from opencity.core import Refused
from opencity.core.models import OutboundEmail
from opencity.core.services import audit_trail
from petitions import conf, services, tasks
from petitions.models import Petition, Signature
from tests.factories import make_user
from tests.petitions.factories import make_petition, sign_many

Status = Petition.Status
pytestmark = pytest.mark.django_db

END = timezone.make_aware(timezone.datetime(2027, 3, 31, 18, 0))


def refusal(petition, user) -> Refused:
    with pytest.raises(Refused) as info, translation.override("en"):
        services.petition_sign(petition=petition, user=user)
    with translation.override("en"):
        info.value.text = str(info.value)
    return info.value


def _identified(user):
    user.identity_verified_at = timezone.now()
    user.identity_provider = "idgovua"
    user.save()
    return user


def test_a_signature_one_second_before_the_end_is_recorded(city_a, citizen):
    petition = make_petition(city_a, collection_ends_at=END)
    with time_machine.travel(END - timedelta(seconds=1), tick=False):
        signature = services.petition_sign(petition=petition, user=citizen)
    stored = Signature.objects.get(petition=petition, user=citizen)
    assert stored.pk == signature.pk and stored.created_at == END - timedelta(seconds=1)
    assert stored.notify_on_answer is True and signature.notify_on_answer is True
    assert (signature.petition_id, signature.user_id) == (petition.pk, citizen.pk)
    assert signature.created_at == stored.created_at


def test_signing_at_the_end_instant_before_the_closing_job_says_not_collecting(city_a, citizen):
    petition = make_petition(city_a, collection_ends_at=END)
    with time_machine.travel(END, tick=False):
        exc = refusal(petition, citizen)
    assert exc.code == "not_collecting"  # not "already"
    assert exc.text == "This petition is not collecting signatures."
    assert not Signature.objects.filter(petition=petition).exists()


def test_signing_a_day_after_the_end_says_not_collecting(city_a, citizen):
    petition = make_petition(city_a, collection_ends_at=END)
    with time_machine.travel(END + timedelta(days=1), tick=False):
        exc = refusal(petition, citizen)
    assert exc.text == "This petition is not collecting signatures."


@pytest.mark.parametrize("status", [Status.CLOSED, Status.ANSWERED, Status.SUBMITTED])
def test_signing_a_petition_in_another_status_says_not_collecting(city_a, citizen, status):
    petition = make_petition(city_a, status=status)
    exc = refusal(petition, citizen)
    assert exc.code == "not_collecting"
    assert exc.text == "This petition is not collecting signatures."


def test_a_reached_petition_still_collects(city_a, citizen):
    petition = make_petition(city_a, status=Status.REACHED)
    services.petition_sign(petition=petition, user=citizen)
    assert Signature.objects.filter(petition=petition, user=citizen).exists()


def test_a_signer_without_identity_is_told_to_confirm_it_not_already_signed(city_a, citizen):
    petition = make_petition(city_a, require_identity=True)
    exc = refusal(petition, citizen)
    assert exc.code == "identity"
    assert exc.text == (
        "This council accepts signatures only from people who confirmed their identity "
        "(BankID, ID.gov.ua). Sign in with your identity provider to sign."
    )
    assert not Signature.objects.filter(petition=petition).exists()


def test_an_identified_signer_signs_where_identity_is_required(city_a, citizen):
    petition = make_petition(city_a, require_identity=True)
    services.petition_sign(petition=petition, user=_identified(citizen))
    assert Signature.objects.filter(petition=petition, user=citizen).exists()


def test_an_unverified_address_is_told_to_confirm_it(city_a, unverified_citizen):
    petition = make_petition(city_a, require_identity=True)
    exc = refusal(petition, _identified(unverified_citizen))
    assert exc.text == "Confirm your e-mail address to sign petitions."


def test_a_second_signature_is_told_already_signed(city_a, citizen):
    petition = make_petition(city_a)
    services.petition_sign(petition=petition, user=citizen, notify_on_answer=False)
    exc = refusal(petition, citizen)
    assert exc.code == "already"
    assert exc.text == "You have already signed this petition."
    assert Signature.objects.get(petition=petition, user=citizen).notify_on_answer is False


def test_signing_an_unknown_petition_raises_does_not_exist(citizen):
    with pytest.raises(Petition.DoesNotExist, match="^1000000000$"):
        services.petition_sign(petition=10**9, user=citizen)


def test_the_signature_that_crosses_the_threshold_marks_it_reached_then(
    city_a, responder_a, django_capture_on_commit_callbacks
):
    moment = timezone.make_aware(timezone.datetime(2027, 3, 1, 10, 0))  # a Monday
    petition = make_petition(city_a, threshold=3, collection_ends_at=moment + timedelta(days=9))
    sign_many(petition, 2)
    signer = make_user()
    with (
        time_machine.travel(moment, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.petition_sign(petition=petition.pk, user=signer)  # eager tally in tests
    petition.refresh_from_db()
    assert petition.signature_count == 3 and petition.counted_at == moment
    assert petition.status == Status.REACHED and petition.reached_at == moment
    assert str(petition.response_due) == "2027-03-15"  # 10 working days
    (entry,) = [e for e in audit_trail(petition) if e.action == "petitions.petition.reached"]
    assert (entry.from_state, entry.to_state, entry.reason) == ("collecting", "reached", "3")
    assert entry.actor is None
    keys = set(OutboundEmail.objects.values_list("key", flat=True))
    assert f"petition:{petition.pk}:reached:u{petition.author_id}" in keys
    assert f"petition:{petition.pk}:staff_reached:u{responder_a.pk}" in keys


def test_below_the_threshold_the_count_is_stored_and_nothing_is_reached(city_a):
    petition = make_petition(city_a, threshold=3)
    sign_many(petition, 2)
    assert services.petition_tally(petition_id=petition.pk) == 2
    petition.refresh_from_db()
    assert petition.signature_count == 2 and petition.status == Status.COLLECTING
    assert petition.reached_at is None
    assert not [e for e in audit_trail(petition) if e.action == "petitions.petition.reached"]


def test_a_petition_without_threshold_is_never_reached(city_a):
    petition = make_petition(city_a, threshold=0)
    sign_many(petition, 2)
    services.petition_tally(petition_id=petition.pk)
    petition.refresh_from_db()
    assert petition.signature_count == 2 and petition.status == Status.COLLECTING


def test_reaching_is_claimed_once(city_a):
    petition = make_petition(city_a, threshold=1)
    sign_many(petition, 1)
    Petition.objects.filter(pk=petition.pk).update(signature_count=1)
    assert services.petition_mark_reached(petition_id=petition.pk) is True
    assert services.petition_mark_reached(petition_id=petition.pk) is False
    assert [e.action for e in audit_trail(petition)].count("petitions.petition.reached") == 1


def test_an_older_count_never_overwrites_a_newer_one(city_a):
    petition = make_petition(city_a, threshold=100)
    sign_many(petition, 2)
    later = timezone.now() + timedelta(minutes=5)
    Petition.objects.filter(pk=petition.pk).update(signature_count=2, counted_at=later)
    services.petition_tally(petition_id=petition.pk)
    petition.refresh_from_db()
    assert petition.counted_at == later  # the same count from an earlier-started run
    sign_many(petition, 1)
    services.petition_tally(petition_id=petition.pk)
    petition.refresh_from_db()
    assert petition.signature_count == 3  # a larger count always wins


@pytest.fixture
def queued(monkeypatch):
    """Tasks go to the broker (not eager); the tally tasks published are recorded."""
    sent = []
    monkeypatch.setattr(
        tasks.tally_petition, "apply_async", lambda args=(), **kw: sent.append((args, kw))
    )
    app_conf = tasks.tally_petition.app.conf
    app_conf.task_always_eager = False
    try:
        yield sent
    finally:
        app_conf.task_always_eager = True


def test_the_first_signature_queues_one_delayed_tally_and_the_next_ones_wait(city_a, queued):
    petition = make_petition(city_a)
    services.request_tally(petition.pk)
    services.request_tally(petition.pk)
    assert queued == [((petition.pk,), {"countdown": conf.TALLY_COALESCE_SECONDS})]


def test_a_signature_after_the_coalescing_window_queues_the_next_tally(city_a, queued, monkeypatch):
    """The pending mark lives as long as the queued tally's countdown, no longer: once that
    tally has run, the next signature must queue another or it would never be counted."""
    monkeypatch.setattr(conf, "TALLY_COALESCE_SECONDS", 1)
    petition = make_petition(city_a)
    services.request_tally(petition.pk)
    services.request_tally(petition.pk)
    assert queued == [((petition.pk,), {"countdown": 1})]
    time.sleep(1.2)  # Redis expires the mark on its own clock, which time-machine cannot move
    services.request_tally(petition.pk)
    assert queued == [((petition.pk,), {"countdown": 1})] * 2


def test_with_the_cache_down_a_tally_is_queued_at_once_for_every_signature(
    city_a, queued, settings, caplog
):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    petition = make_petition(city_a)
    services.request_tally(petition.pk)
    services.request_tally(petition.pk)
    assert queued == [((petition.pk,), {"countdown": conf.TALLY_COALESCE_SECONDS})] * 2
    assert "tally coalescing unavailable (ConnectionError)" in caplog.text


def test_a_signature_queues_its_tally_only_after_commit(
    city_a, citizen, queued, django_capture_on_commit_callbacks
):
    petition = make_petition(city_a)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.petition_sign(petition=petition, user=citizen)
    assert queued == [] and len(callbacks) == 1
    callbacks[0]()
    assert queued == [((petition.pk,), {"countdown": conf.TALLY_COALESCE_SECONDS})]


def test_the_beat_pass_recounts_only_petitions_with_new_signatures(city_a):
    fresh = make_petition(city_a, threshold=100)
    counted = make_petition(city_a, threshold=100)
    closed = make_petition(city_a, status=Status.CLOSED, threshold=100)
    sign_many(fresh, 2)
    sign_many(closed, 1)
    long_ago = timezone.now() - timedelta(hours=1)
    Petition.objects.filter(pk=counted.pk).update(counted_at=timezone.now(), signature_count=0)
    Petition.objects.filter(pk=closed.pk).update(counted_at=long_ago)
    assert services.tally_stale() == 1
    fresh.refresh_from_db()
    assert fresh.signature_count == 2
    Signature.objects.create(petition=counted, user=make_user())
    assert services.tally_stale() == 2  # signatures within two minutes of their last count
    counted.refresh_from_db()
    assert counted.signature_count == 1
