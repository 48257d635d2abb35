"""Signing: one per person (database constraint), refused when not collecting, never locks
the petition; the tally under concurrency; a Redis outage loses nothing."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from opencity.core import Refused
from opencity.core.models import OutboundEmail
from opencity.core.services import audit_trail
from petitions import conf, services
from petitions.models import Petition, Signature
from tests.factories import make_user
from tests.helpers import broker_down
from tests.petitions.factories import make_petition, sign_many

Status = Petition.Status


def run_threads(target, count):
    barrier = threading.Barrier(count)
    errors = []

    def wrapper(i):
        try:
            barrier.wait(timeout=30)
            target(i)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrapper, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


@pytest.mark.django_db
def test_second_signature_is_refused_and_changes_nothing(city_a, citizen):
    petition = make_petition(city_a, status=Status.COLLECTING)
    services.petition_sign(petition=petition, user=citizen)
    with pytest.raises(Refused) as refused:
        services.petition_sign(petition=petition, user=citizen)
    assert refused.value.code == "already"
    assert Signature.objects.filter(petition=petition, user=citizen).count() == 1


@pytest.mark.django_db
def test_the_database_refuses_a_duplicate_signature(city_a, citizen):
    petition = make_petition(city_a, status=Status.COLLECTING)
    Signature.objects.create(petition=petition, user=citizen)
    with pytest.raises(IntegrityError), transaction.atomic():
        Signature.objects.create(petition=petition, user=citizen)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "status", [s for s in Status.values if s not in (Status.COLLECTING, Status.REACHED)]
)
def test_signing_a_petition_that_is_not_collecting_is_refused(city_a, citizen, status):
    petition = make_petition(city_a, status=status)
    with pytest.raises(Refused) as refused:
        services.petition_sign(petition=petition, user=citizen)
    assert refused.value.code == "not_collecting"
    assert not Signature.objects.filter(petition=petition).exists()


@pytest.mark.django_db
def test_a_petition_that_reached_its_threshold_keeps_collecting_until_the_end(city_a, citizen):
    petition = make_petition(city_a, status=Status.REACHED)
    services.petition_sign(petition=petition, user=citizen)
    assert Signature.objects.filter(petition=petition, user=citizen).exists()


@pytest.mark.django_db
def test_signing_after_the_period_ended_is_refused(city_a, citizen):
    petition = make_petition(
        city_a, status=Status.COLLECTING, collection_ends_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(Refused) as refused:
        services.petition_sign(petition=petition, user=citizen)
    assert refused.value.code == "not_collecting"


@pytest.mark.django_db
def test_unverified_email_cannot_sign(city_a, unverified_citizen):
    petition = make_petition(city_a, status=Status.COLLECTING)
    with pytest.raises(Refused) as refused:
        services.petition_sign(petition=petition, user=unverified_citizen)
    assert refused.value.code == "unverified"
    assert not Signature.objects.filter(petition=petition).exists()


@pytest.mark.django_db
def test_the_sign_statement_is_planned_once_per_connection(city_a):
    """PostgreSQL keeps the sign statement prepared on the connection (opencity/core/sql.py):
    from the second signature on, the surge skips the planner."""
    petition = make_petition(city_a, status=Status.COLLECTING)
    for _ in range(3):
        services.petition_sign(petition=petition, user=make_user())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements "
            "WHERE statement LIKE 'WITH signed AS (%%INSERT INTO petitions_signature%%'"
        )
        assert cursor.fetchone()[0] == 1
    assert Signature.objects.filter(petition=petition).count() == 3


@pytest.mark.django_db
def test_signing_never_writes_the_petition_row(city_a, citizen, django_assert_num_queries):
    petition = make_petition(city_a, status=Status.COLLECTING)
    services.has_verified_email(citizen)
    with django_assert_num_queries(1) as captured:  # INSERT … ON CONFLICT DO NOTHING
        services.petition_sign(petition=petition, user=citizen)
    sql = " ".join(q["sql"] for q in captured.captured_queries).upper()
    assert sql.strip().startswith("WITH SIGNED AS (\nINSERT INTO PETITIONS_SIGNATURE")
    assert 'PETITIONS_PETITION" SET' not in sql and "FOR UPDATE" not in sql


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_attempts_by_one_person_make_one_signature(city_a):
    petition = make_petition(city_a, status=Status.COLLECTING, threshold=1000)
    user = make_user()
    outcomes = []

    def attempt(_i):
        try:
            services.petition_sign(petition=petition, user=user)
            outcomes.append("signed")
        except Refused as exc:
            outcomes.append(exc.code)

    assert run_threads(attempt, 50) == []
    assert outcomes.count("signed") == 1 and outcomes.count("already") == 49
    assert Signature.objects.filter(petition=petition, user=user).count() == 1


@pytest.mark.django_db(transaction=True)
def test_fifty_different_people_signing_at_once_are_all_counted(city_a):
    petition = make_petition(city_a, status=Status.COLLECTING, threshold=1000)
    users = [make_user() for _ in range(50)]

    def attempt(i):
        services.petition_sign(petition=petition, user=users[i])

    assert run_threads(attempt, 50) == []
    assert Signature.objects.filter(petition=petition).count() == 50
    services.petition_tally(petition_id=petition.pk)
    petition.refresh_from_db()
    assert petition.signature_count == 50


@pytest.mark.django_db(transaction=True)
def test_overlapping_tallies_mark_the_threshold_and_notify_exactly_once(city_a, responder_a):
    petition = make_petition(city_a, status=Status.COLLECTING, threshold=5)
    sign_many(petition, 6)

    assert run_threads(lambda _i: services.petition_tally(petition_id=petition.pk), 12) == []
    petition.refresh_from_db()
    assert (petition.status, petition.signature_count) == (Status.REACHED, 6)
    reached = [e for e in audit_trail(petition) if e.action == "petitions.petition.reached"]
    assert len(reached) == 1
    assert (
        OutboundEmail.objects.filter(key__startswith=f"petition:{petition.pk}:reached").count() == 1
    )
    assert (
        OutboundEmail.objects.filter(
            key__startswith=f"petition:{petition.pk}:staff_reached"
        ).count()
        == 1
    )


@pytest.mark.django_db(transaction=True)
def test_a_tally_that_dies_mid_way_leaves_nothing_and_the_retry_does_it_once(
    city_a, responder_a, monkeypatch
):
    petition = make_petition(city_a, status=Status.COLLECTING, threshold=2)
    sign_many(petition, 2)
    real_notify = services._notify_staff
    calls = {"n": 0}

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise SystemExit("worker killed")
        return real_notify(*args, **kwargs)

    monkeypatch.setattr(services, "_notify_staff", dying)
    with pytest.raises(SystemExit):
        services.petition_tally(petition_id=petition.pk)
    petition.refresh_from_db()
    assert petition.status == Status.COLLECTING  # rolled back: no audit, no e-mail
    assert not OutboundEmail.objects.filter(key__contains=f"petition:{petition.pk}:").exists()
    services.petition_tally(petition_id=petition.pk)  # the retry
    services.petition_tally(petition_id=petition.pk)
    petition.refresh_from_db()
    assert petition.status == Status.REACHED
    assert (
        OutboundEmail.objects.filter(key__startswith=f"petition:{petition.pk}:reached").count() == 1
    )


@pytest.mark.django_db(transaction=True)
def test_signing_while_redis_is_down_records_the_signature_and_the_beat_pass_counts_it(
    city_a, citizen, settings
):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    petition = make_petition(city_a, status=Status.COLLECTING, threshold=100)
    with broker_down():
        services.petition_sign(petition=petition, user=citizen)
    assert Signature.objects.filter(petition=petition, user=citizen).exists()
    petition.refresh_from_db()
    assert petition.signature_count == 0  # no tally ran
    assert services.tally_stale() >= 1
    petition.refresh_from_db()
    assert petition.signature_count == 1


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_surge_queues_one_tally_per_window_and_the_real_worker_counts_every_signature(
    city_a, real_worker, monkeypatch
):
    # A window far longer than 30 one-row inserts take: every signature after the first
    # finds the tally pending and queues nothing.
    monkeypatch.setattr(conf, "TALLY_COALESCE_SECONDS", 3)
    petition = make_petition(city_a, status=Status.COLLECTING, threshold=10_000)
    users = [make_user() for _ in range(30)]
    from petitions import tasks

    sent = []
    original = tasks.tally_petition.apply_async

    def counting(*args, **kwargs):
        sent.append(1)
        return original(*args, **kwargs)

    tasks.tally_petition.apply_async = counting
    try:
        for user in users:
            services.petition_sign(petition=petition, user=user)
    finally:
        tasks.tally_petition.apply_async = original
    assert len(sent) == 1
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        petition.refresh_from_db()
        if petition.signature_count == 30:
            break
        time.sleep(0.2)
    assert petition.signature_count == 30


@pytest.mark.django_db
def test_a_city_that_requires_identity_refuses_email_only_signers(city_a, citizen, moderator_a):
    from tests.petitions.factories import make_rules

    make_rules(city_a, require_identity=True)
    petition = make_petition(city_a, status=Status.SUBMITTED)
    services.petition_publish(petition=petition, actor=moderator_a)
    petition.refresh_from_db()
    assert petition.require_identity is True
    with pytest.raises(Refused) as refused:
        services.petition_sign(petition=petition, user=citizen)
    assert refused.value.code == "identity"
    identified = make_user()
    identified.identity_verified_at = timezone.now()
    identified.identity_provider = "idgovua"
    identified.save()
    services.petition_sign(petition=petition, user=identified)
    assert Signature.objects.filter(petition=petition, user=identified).exists()
    assert not Signature.objects.filter(petition=petition, user=citizen).exists()


@pytest.mark.django_db(transaction=True)
def test_pages_and_signing_work_through_a_redis_outage(client, city_a, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    petition = make_petition(city_a, threshold=100)
    signer = make_user()
    client.force_login(signer)
    with broker_down():
        assert client.get("/petitions/").status_code == 200
        assert client.get(petition.get_absolute_url()).status_code == 200
        response = client.post(f"/petitions/{petition.pk}/sign/")
    assert response.status_code == 302
    assert Signature.objects.filter(petition=petition, user=signer).exists()


@pytest.mark.django_db
def test_the_database_decides_so_a_stale_petition_object_cannot_sign_a_closed_petition(
    city_a, citizen
):
    petition = make_petition(city_a, status=Status.COLLECTING)
    Petition.objects.filter(pk=petition.pk).update(status=Status.CLOSED)
    assert petition.status == Status.COLLECTING  # the caller's copy is stale
    with pytest.raises(Refused) as refused:
        services.petition_sign(petition=petition, user=citizen)
    assert refused.value.code == "not_collecting"
    assert not Signature.objects.exists()


@pytest.mark.django_db
def test_signing_an_unknown_petition_is_404(citizen_client):
    assert citizen_client.post("/petitions/999999/sign/").status_code == 404
