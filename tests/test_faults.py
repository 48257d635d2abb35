"""Faults: Redis down, a dead worker's claim, a failing mail server, a database that does not
answer. Citizens' requests go on; nothing is lost; staff see what finally failed."""

from __future__ import annotations

import logging
import smtplib
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.db import OperationalError, connection, transaction
from django.test import Client
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError

from opencity import ratelimit
from opencity.cache import redis_breaker
from opencity.core import services
from opencity.core.models import AuditEntry, OutboundEmail, RateLimitCount
from opencity.core.tasks import sweep_outbox
from petitions.models import Signature
from tests.petitions.factories import make_petition

DEAD_REDIS = "redis://127.0.0.1:9/0"
CONTEXT = {"title": "Тест", "body": "Перевірка доставки."}


@pytest.fixture(autouse=True)
def _closed_breaker():
    redis_breaker.reset()
    yield
    redis_breaker.reset()


@pytest.fixture
def redis_down(settings):
    """The cache's Redis does not answer (connection refused), as in an outage."""
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": DEAD_REDIS,
        }
    }
    assert settings.CACHES["default"]["BACKEND"] == "opencity.cache.ReusingRedisCache"
    yield


# --- Redis is an accelerator -----------------------------------------------------------------
@pytest.mark.django_db
def test_a_signed_in_citizen_signs_while_redis_is_down(redis_down, city_a, citizen):
    petition = make_petition(city_a)
    client = Client(raise_request_exception=False)
    client.force_login(citizen)  # the session is kept in the database as well
    assert client.get(f"/petitions/{petition.pk}/").status_code == 200
    response = client.post(f"/petitions/{petition.pk}/sign/")
    assert response.status_code in (200, 302)
    assert Signature.objects.filter(petition=petition, user=citizen).count() == 1
    # still signed in on the next request: the session came from the database
    assert client.get("/accounts/profile/").status_code == 200


@pytest.mark.django_db
def test_an_open_breaker_costs_no_network_and_logs_once(redis_down, caplog):
    from django.core.cache import cache

    caplog.set_level(logging.WARNING, logger="opencity.cache")
    assert cache.get("anything", "fallback") == "fallback"
    started = time.monotonic()
    for n in range(500):
        assert cache.get(f"k{n}") is None
        cache.set(f"k{n}", n, 10)
    assert time.monotonic() - started < 0.5
    assert redis_breaker.is_open
    assert sum("unreachable" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.django_db
def test_writes_missed_during_an_outage_are_undone_when_redis_answers(monkeypatch, caplog):
    from django.core.cache import cache
    from django.core.cache.backends.redis import RedisCacheClient

    cache.set("session-like", "before the outage", 60)

    def refused(*args, **kwargs):
        raise RedisConnectionError("refused")

    with monkeypatch.context() as patch:
        patch.setattr(RedisCacheClient, "delete", refused)
        cache.delete("session-like")  # e.g. a logout while Redis does not answer
    assert redis_breaker.is_open
    redis_breaker._retry_at = 0  # the cool-down has passed
    caplog.set_level(logging.WARNING, logger="opencity.cache")
    assert cache.get("session-like") is None  # the trial call succeeds and undoes the miss
    assert not redis_breaker.is_open
    assert any("answers again" in r.getMessage() for r in caplog.records)


@pytest.fixture
def small_limit(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "sign": (3, 60)}


@pytest.mark.django_db
def test_the_rate_limit_holds_during_a_redis_outage(redis_down, small_limit):
    assert [ratelimit.allow("sign", 7) for _ in range(5)] == [True, True, True, False, False]
    assert RateLimitCount.objects.get(key__startswith="rl:sign:7:").hits == 5
    assert ratelimit.allow("sign", 8)


@pytest.mark.django_db
def test_the_limiter_allows_when_neither_redis_nor_the_database_can_count(
    redis_down, small_limit, monkeypatch, caplog
):
    def no_database(*args, **kwargs):
        raise OperationalError("database down")

    monkeypatch.setattr(ratelimit, "_count_in_database", no_database)
    assert all(ratelimit.allow("sign", 7) for _ in range(5))
    # The operator reads what failed (no key, no person in the line).
    logged = {r.getMessage() for r in caplog.records if r.name == "opencity.ratelimit"}
    assert logged == {"rate limiter unavailable (OperationalError); allowing"}


@pytest.mark.django_db
def test_old_database_windows_are_purged():
    RateLimitCount.objects.create(key="rl:old", hits=3, expires_at=timezone.now())
    RateLimitCount.objects.create(
        key="rl:new", hits=1, expires_at=timezone.now() + timedelta(minutes=1)
    )
    assert ratelimit.purge_expired_counts() == 1
    assert list(RateLimitCount.objects.values_list("key", flat=True)) == ["rl:new"]


# --- workers die -----------------------------------------------------------------------------
def test_a_task_ends_before_the_broker_delivers_it_again(settings):
    from opencity import celery_app

    conf = celery_app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    visibility = conf.broker_transport_options["visibility_timeout"]
    assert conf.task_time_limit < visibility
    # a killed worker's message is restored after the visibility timeout by a live worker's
    # periodic scan (kombu's default scans only every 10 x 10 s)
    options = conf.broker_transport_options
    scan = options["unacked_restore_interval"] * options["unacked_restore_throttle"]
    assert visibility + scan <= 55


@pytest.mark.django_db
def test_a_dead_workers_claim_is_taken_over_and_sent_once():
    email = _queue("claim:1")
    OutboundEmail.objects.filter(pk=email.pk).update(
        status=OutboundEmail.Status.SENDING, claimed_at=timezone.now(), attempts=1
    )
    assert services.deliver_email(email.pk) is False  # a live claim: not sent twice
    OutboundEmail.objects.filter(pk=email.pk).update(
        claimed_at=timezone.now() - services.stale_claim() - timedelta(seconds=1)
    )
    assert services.deliver_email(email.pk) is True  # the redelivered task takes over
    assert services.deliver_email(email.pk) is False
    assert len(mail.outbox) == 1


# --- mail is never lost ----------------------------------------------------------------------
class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("smtp down")


class RefusingBackend(BrokenBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPRecipientsRefused({"reader@example.org": (550, b"no such user")})


def _queue(key: str) -> OutboundEmail:
    with transaction.atomic():
        email = services.queue_email(
            key=key, to="reader@example.org", template="generic_notice", context=CONTEXT
        )
    mail.outbox.clear()
    OutboundEmail.objects.filter(pk=email.pk).update(status=OutboundEmail.Status.PENDING)
    return email


@pytest.mark.django_db
def test_a_failed_email_is_retried_with_backoff_for_a_day(settings):
    settings.EMAIL_BACKEND = "tests.test_faults.BrokenBackend"
    email = _queue("backoff:1")
    delays = []
    for attempt in range(1, 9):
        before = timezone.now()
        assert services.deliver_email(email.pk) is False
        email.refresh_from_db()
        assert email.status == OutboundEmail.Status.PENDING
        assert email.attempts == attempt
        delays.append(round((email.next_attempt_at - before).total_seconds() / 60))
        OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60]
    assert "ConnectionRefusedError" in email.last_error


@pytest.mark.django_db
def test_after_24_hours_the_email_fails_with_an_alert_and_staff_send_it_again(
    settings, caplog, association_staff, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.test_faults.BrokenBackend"
    email = _queue("final:1")
    OutboundEmail.objects.filter(pk=email.pk).update(
        created_at=timezone.now() - timedelta(hours=23, minutes=59)
    )
    assert services.deliver_email(email.pk) is False
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.PENDING  # still inside the 24 hours
    OutboundEmail.objects.filter(pk=email.pk).update(
        created_at=timezone.now() - timedelta(hours=24, minutes=1), next_attempt_at=None
    )
    with caplog.at_level(logging.ERROR, logger="opencity.core.services"):
        assert services.deliver_email(email.pk) is False
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.FAILED
    assert "ALERT outbox" in caplog.text and "reader@example.org" not in caplog.text

    client = Client()
    client.force_login(association_staff)
    listing = client.get("/admin/core/outboundemail/?status__exact=failed")
    assert listing.status_code == 200 and email.subject in listing.content.decode()
    health = client.get("/health/").json()
    assert health["outbox"]["failed"] == 1 and health["status"] == "attention"

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/core/outboundemail/",
            {"action": "send_again", "_selected_action": [email.pk]},
        )
    assert response.status_code == 302
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT
    assert [m.to for m in mail.outbox] == [["reader@example.org"]]
    entry = AuditEntry.objects.get(action="core.email.sent_again")
    assert entry.actor == association_staff and entry.to_state == "pending"
    assert client.get("/health/").json()["outbox"]["failed"] == 0


@pytest.mark.django_db
def test_a_recipient_refused_for_good_fails_at_once(settings):
    settings.EMAIL_BACKEND = "tests.test_faults.RefusingBackend"
    email = _queue("refused:1")
    assert services.deliver_email(email.pk) is False
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.FAILED


@pytest.mark.django_db
def test_when_the_mail_server_is_back_the_backlog_goes_out_without_waiting(settings):
    from opencity import celery_app

    assert celery_app.conf.task_always_eager  # tests: queued tasks run in-process
    settings.EMAIL_BACKEND = "tests.test_faults.BrokenBackend"
    emails = [_queue(f"backlog:{n}") for n in range(3)]
    for email in emails:
        services.deliver_email(email.pk)
    assert OutboundEmail.objects.filter(next_attempt_at__gt=timezone.now()).count() == 3
    # nothing is due, but each sweep tries the first one anyway
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert sweep_outbox() == 1
    # its success released the others, queued at once
    assert OutboundEmail.objects.filter(status=OutboundEmail.Status.SENT).count() == 3
    assert len(mail.outbox) == 3


@pytest.mark.django_db
def test_the_sweep_does_not_queue_a_waiting_email_again_and_again():
    email = _queue("sweep:1")
    OutboundEmail.objects.filter(pk=email.pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    now = timezone.now()
    assert services.pending_email_ids(now) == [email.pk]
    assert services.pending_email_ids(now + timedelta(seconds=20)) == []  # still in the queue
    assert services.pending_email_ids(now + timedelta(seconds=61)) == [email.pk]


@pytest.mark.django_db
def test_after_an_outage_mail_someone_waits_for_goes_before_the_bulk(monkeypatch):
    """A viral petition leaves thousands of followers' notices in the outbox; when the
    broker or the mail server is back, a receipt queued meanwhile is sent first, and the
    notices go to the bulk queue."""
    from opencity import queue

    with transaction.atomic():
        notices = [
            services.queue_email(
                key=f"notice:{n}",
                to="f@example.org",
                template="generic_notice",
                context=CONTEXT,
                bulk=True,
            )  # fmt: skip
            for n in range(3)
        ]
    receipt = _queue("receipt:1")
    OutboundEmail.objects.update(
        status=OutboundEmail.Status.PENDING, created_at=timezone.now() - timedelta(minutes=5)
    )
    sent = []
    monkeypatch.setattr(
        queue, "send_now", lambda task, pk, **options: sent.append((pk, options.get("queue")))
    )
    monkeypatch.setattr(services, "send_now", queue.send_now)
    assert sweep_outbox() == 4
    assert sent[0] == (receipt.pk, None)
    assert sorted(sent[1:]) == [(n.pk, "bulk") for n in notices]


@pytest.mark.django_db
def test_a_mail_sent_again_carries_the_same_message_id(settings):
    """After a failed attempt (or a worker that died mid-send) the retry is the same
    message to the reader's mail server and client, not a second one."""
    settings.EMAIL_BACKEND = "tests.test_faults.BrokenBackend"
    email = _queue("msgid:1")
    other = _queue("msgid:2")
    assert services.deliver_email(email.pk) is False
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=None)
    assert services.deliver_email(email.pk) is True
    assert services.deliver_email(other.pk) is True
    first, second = (m.extra_headers["Message-ID"] for m in mail.outbox)
    email.refresh_from_db()
    assert first == services.message_id(email) and first != second
    assert first.startswith("<outbox.") and first.endswith(">")


# --- the database does not answer ------------------------------------------------------------
@pytest.fixture
def database_down(monkeypatch):
    """Call it to make every query fail as when PostgreSQL restarts."""

    def refused(*args, **kwargs):
        raise OperationalError("connection refused")

    def cut() -> None:
        monkeypatch.setattr(connection, "cursor", refused)
        monkeypatch.setattr(connection, "chunked_cursor", refused)

    return cut


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_database_outage_answers_503_with_retry_after(database_down, citizen, method):
    client = Client(raise_request_exception=False)
    client.force_login(citizen)
    database_down()
    response = getattr(client, method)("/petitions/new/", {"title": "Мій текст"})
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    page = response.content.decode()
    assert "Спробуйте ще раз за мить" in page
    assert "нічого не збережено" in page.lower()
    assert "збережено;" not in page


@pytest.mark.django_db
def test_the_503_page_is_translated(database_down):
    client = Client(raise_request_exception=False)
    client.cookies["opencity_language"] = "en"
    database_down()
    response = client.get("/petitions/")
    assert response.status_code == 503
    assert "Try again in a moment" in response.content.decode()


@pytest.mark.django_db
def test_a_programming_error_is_still_a_500(monkeypatch):
    from opencity import views

    def broken():
        raise ZeroDivisionError

    # The home page is built (and cached) from the services' summaries: break that build.
    monkeypatch.setattr(views, "_home_summaries", broken)
    response = Client(raise_request_exception=False).get("/")
    assert response.status_code == 500


def test_the_database_connection_is_checked_before_reuse(settings):
    assert settings.DATABASES["default"].get("CONN_HEALTH_CHECKS") is True


@pytest.mark.django_db
def test_the_health_page_has_figures_and_no_personal_data(client):
    _queue("health:1")
    body = client.get("/health/").json()
    assert body["database"] == "ok" and body["cache"] == "ok"
    assert body["outbox"]["pending"] == 1
    assert "@" not in str(body)
