"""Audit entries and the e-mail outbox: the shared side-effect plumbing of every app."""

from __future__ import annotations

import logging
import re
import secrets
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMultiAlternatives
from django.db import connection, models, transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation

from opencity.core.mail import is_permanent, send_message
from opencity.core.models import AuditEntry, OutboundEmail
from opencity.queue import enqueue_on_commit, send_now

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from opencity.accounts.models import User

logger = logging.getLogger(__name__)

# Audit action names: `app.object.verb`, e.g. "petitions.petition.published".
ACTION_NAME = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")


def audit(
    *,
    obj: models.Model,
    action: str,
    actor: User | AnonymousUser | None = None,
    city: models.Model | int | None = None,
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    data: dict | None = None,
) -> AuditEntry:
    """Record one audit entry. Call inside the transaction of the change it describes.
    `city` is a City or its primary key; `action` is named `app.object.verb`."""
    if not ACTION_NAME.fullmatch(action):
        raise ValueError(f"audit action {action!r} is not named app.object.verb")
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEntry.objects.create(
        actor=actor,
        city_id=getattr(city, "pk", city),
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=str(obj.pk),
        action=action,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        data=data or {},
    )


def audit_trail(obj: models.Model) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=str(obj.pk),
    ).select_related("actor")


def render_email(template: str, context: dict, language: str) -> tuple[str, str, str]:
    """Render templates/email/<template>_{subject.txt,body.txt,body.html} in a language."""
    context = {"SITE_URL": settings.SITE_URL, **context}
    with translation.override(language):
        subject = render_to_string(f"email/{template}_subject.txt", context)
        text = render_to_string(f"email/{template}_body.txt", context)
        try:
            html = render_to_string(f"email/{template}_body.html", context)
        except Exception:  # an HTML part is optional for plain notices
            html = ""
    subject = " ".join(subject.split())
    return subject, text, html


def queue_email(
    *,
    key: str,
    to: str,
    template: str,
    context: dict,
    language: str | None = None,
    city: models.Model | int | None = None,
    headers: dict[str, str] | None = None,
    bulk: bool = False,
) -> OutboundEmail | None:
    """Record an e-mail in the outbox and deliver it after commit, exactly once per key.

    Idempotent: a second call with the same key returns None and records nothing. Safe to
    call inside the caller's transaction; delivery starts only if that transaction commits.
    `bulk`: one of many alike (followers' notices, digests): delivered from the "bulk"
    queue, so that thousands of them never hold back a receipt or a sign-in link.
    """
    language = language or settings.LANGUAGE_CODE
    subject, text, html = render_email(template, context, language)
    return queue_rendered_email(
        outbound_email(
            key=key,
            to=to,
            subject=subject,
            text=text,
            html=html,
            language=language,
            city=city,
            headers=headers,
            bulk=bulk,
        )  # fmt: skip
    )


#: characters HTML escapes: a value without them reads the same escaped or not
_PLAIN = frozenset("<>&\"'")


def render_email_alike(
    template: str, context: dict, language: str, blanks: Iterable[str]
) -> Callable[..., tuple[str, str, str]]:
    """Render a mail once for many people whose mails differ only in `blanks`: context values
    given per person, shown whole (no filter cuts them) and needing no HTML escaping (an
    unsubscribe link). Each blank renders as a random mark that the returned function
    replaces with a person's values; a value that would need escaping has that person's mail
    rendered in full instead."""
    marks = {name: f"oc{secrets.token_hex(12)}" for name in blanks}
    rendered = render_email(template, {**context, **marks}, language)

    def fill(**values: str) -> tuple[str, str, str]:
        if any(not _PLAIN.isdisjoint(value) for value in values.values()):
            return render_email(template, {**context, **values}, language)
        subject, text, html = rendered
        for name, mark in marks.items():
            subject = subject.replace(mark, values[name])
            text = text.replace(mark, values[name])
            html = html.replace(mark, values[name])
        return subject, text, html

    return fill


def outbound_email(
    *,
    key: str,
    to: str,
    subject: str,
    text: str,
    html: str = "",
    language: str | None = None,
    city=None,
    headers: dict[str, str] | None = None,
    bulk: bool = False,
) -> OutboundEmail:
    """An outbox row, not yet saved: `queue_outbound` records many in one statement."""
    return OutboundEmail(
        key=key[:200],
        to=to,
        language=language or settings.LANGUAGE_CODE,
        subject=" ".join(subject.split())[:300],
        body_text=text,
        body_html=html,
        city_id=getattr(city, "pk", city),
        headers=headers or {},
        bulk=bulk,
    )


def queue_rendered_email(email: OutboundEmail) -> OutboundEmail | None:
    """Record one outbox row (`outbound_email`) and deliver it after commit: a message
    rendered elsewhere (allauth's templates) gets the same once-per-key guarantee."""
    if not queue_outbound([email]):
        return None
    enqueue_on_commit("opencity.core.tasks.deliver_email", email.pk, **delivery_queue(email.bulk))
    return email


def queue_outbound(emails: list[OutboundEmail]) -> list[OutboundEmail]:
    """Record these outbox rows (`outbound_email`), each at most once per key; return those
    recorded now, with their pk. The caller queues their delivery (`queue_bulk_delivery`);
    the sweep sends a row if that task is lost.

    One `INSERT … ON CONFLICT (key) DO NOTHING RETURNING id, key` for them all (PostgreSQL,
    and SQLite since 3.35): a queued mail costs no round trip of its own, where a savepoint,
    the insert and the release cost three.
    """
    if not emails:
        return []
    meta = OutboundEmail._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    values = [
        f.get_db_prep_save(f.pre_save(email, add=True), connection)
        for email in emails
        for f in fields
    ]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    table = connection.ops.quote_name(meta.db_table)
    # Names come from the model's own metadata; every value is a parameter.
    sql = f"INSERT INTO {table} ({columns}) VALUES " + ", ".join([row] * len(emails))  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql + " ON CONFLICT (key) DO NOTHING RETURNING id, key", values)
        ids = {key: pk for pk, key in cursor.fetchall()}
    inserted = []
    for email in emails:
        if email.key in ids:
            email.pk = ids.pop(email.key)  # pop: a key twice in one call is inserted once
            email._state.adding = False
            inserted.append(email)
    return inserted


def notify_user(
    *, user: User, key: str, template: str, context: dict, city: models.Model | int | None = None
) -> OutboundEmail | None:
    """queue_email to a user, in their preferred language, keyed per user.

    Notices to citizens carry a one-click unsubscribe link (RFC 8058) for their template and
    are not sent to someone who used it; notices to staff (templates naming "staff") are part
    of the job and carry none."""
    from opencity.notifications import services as notifications

    headers = None
    if "staff" not in template:
        kind = notifications.MAIL_KIND_PREFIX + template
        if notifications.stopped(user, kind):
            return None
        headers = notifications.unsubscribe_headers(user, kind)
    return queue_email(
        key=f"{key}:u{user.pk}",
        to=user.email,
        template=template,
        context={"recipient": user, **context},
        language=user.preferred_language,
        city=city,
        headers=headers,
    )


#: a new row's own on-commit delivery is under way; the sweep leaves it alone this long
FRESH = timedelta(seconds=15)
#: a row the sweep queued is not queued again before this (it may be behind a long queue)
REQUEUE_AFTER = timedelta(seconds=60)


def retry_delay(attempts: int) -> timedelta:
    """Wait after the `attempts`-th failed attempt: 1, 2, 4 ... minutes, at most an hour."""
    seconds = 60 * 2 ** min(max(attempts - 1, 0), 12)
    return timedelta(seconds=min(seconds, settings.OUTBOX_BACKOFF_MAX_SECONDS))


def stale_claim() -> timedelta:
    """A SENDING claim older than this belongs to a dead worker: no task outlives the hard
    time limit, so the row may be claimed again."""
    return timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 1)


def _due(now: datetime) -> models.Q:
    """Rows not waiting out a backoff at `now`."""
    return models.Q(next_attempt_at__isnull=True) | models.Q(next_attempt_at__lte=now)


def _claimable(now: datetime) -> models.Q:
    """Rows a delivery may claim at `now`: pending and due, or claimed by a worker that died
    (a SENDING claim older than `stale_claim`)."""
    waiting = models.Q(status=OutboundEmail.Status.PENDING) | models.Q(
        status=OutboundEmail.Status.SENDING, claimed_at__lt=now - stale_claim()
    )
    return waiting & _due(now)


def deliver_email(email_id: int) -> bool:
    """Send one outbox e-mail; True if this run sent it.

    Claims the row first (a conditional UPDATE), so concurrent runs send it once; a claim
    left by a killed worker is taken over once it is stale. A failure is retried with
    backoff (see `retry_delay`; the sweep re-queues due rows) until `retry_until`, by
    default 24 hours; then the row is FAILED, an alert is logged, and staff can send it
    again from admin. Never raises for a delivery failure.
    """
    now = timezone.now()
    claimed = _claim(OutboundEmail.objects.filter(_claimable(now), pk=email_id), now)
    if not claimed or not _send_claimed(claimed[0]):
        return False
    _record_sent([email_id])
    _release_deferred()
    return True


def _send_claimed(email: OutboundEmail) -> bool:
    """Send an outbox row this run has claimed (SENDING); record a failure. The caller
    records a success (`_record_sent`), for several rows at once where it sends several."""
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        to=[email.to],
        from_email=None,
        headers={**(email.headers or {}), "Message-ID": message_id(email)},
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    try:
        send_message(message)
    except Exception as exc:
        _record_failure(email, exc)
        return False
    return True


def _record_sent(ids: list[int]) -> None:
    if ids:
        OutboundEmail.objects.filter(pk__in=ids).update(
            status=OutboundEmail.Status.SENT, sent_at=timezone.now(), next_attempt_at=None
        )


def _claim(rows: QuerySet[OutboundEmail], now: datetime) -> list[OutboundEmail]:
    """Claim these rows for this run (SENDING, one more attempt), skipping rows another
    worker holds (FOR UPDATE SKIP LOCKED): two claims never take the same row."""
    with transaction.atomic():
        batch = list(rows.select_for_update(skip_locked=True))
        OutboundEmail.objects.filter(pk__in=[e.pk for e in batch]).update(
            status=OutboundEmail.Status.SENDING,
            claimed_at=now,
            attempts=models.F("attempts") + 1,
        )
    for email in batch:
        email.status, email.claimed_at, email.attempts = (
            OutboundEmail.Status.SENDING, now, email.attempts + 1)  # fmt: skip
    return batch


#: sent rows are recorded this many at a time: a worker killed mid-batch sends at most these
#: again (with the same Message-ID, see `message_id`), for one UPDATE instead of ten
RECORD_SENT_EVERY = 10


def _send_batch(batch: list[OutboundEmail]) -> tuple[int, bool]:
    """Send claimed rows in turn on the open connection; when the server fails, the rest are
    given back untried. Returns (how many were sent, whether all were tried)."""
    sent: list[int] = []  # sent, not yet recorded
    for n, email in enumerate(batch):
        if not _send_claimed(email):
            _record_sent(sent)
            rest = [e.pk for e in batch[n + 1 :]]
            OutboundEmail.objects.filter(pk__in=rest, status=OutboundEmail.Status.SENDING).update(
                status=OutboundEmail.Status.PENDING, attempts=models.F("attempts") - 1
            )
            return n, False
        sent.append(email.pk)
        if len(sent) == RECORD_SENT_EVERY:
            _record_sent(sent)
            sent = []
    _record_sent(sent)
    return len(batch), True


#: A delivery task goes on with other due e-mails on its open connection, so that a backlog
#: (a burst of receipts, mail queued while the broker or the mail server was down) drains at
#: the mail server's pace instead of one Celery task per e-mail behind a long queue.
DRAIN_BATCH = 20
DRAIN_MAX = 200
DRAIN_SECONDS = 10.0


def drain_outbox(*, limit: int = DRAIN_MAX, seconds: float = DRAIN_SECONDS) -> int:
    """Send due e-mails (oldest first; not the bulk, which keeps its own pace) until none is
    due, `limit` were sent, `seconds` passed, or one fails; returns how many were sent.

    Rows are claimed a batch at a time with FOR UPDATE SKIP LOCKED, so workers draining at
    once take different rows, and the claim is the same as `deliver_email`'s (SENDING, one
    more attempt): a row's own task finds it taken and does nothing."""
    deadline = time.monotonic() + seconds
    sent = 0
    while sent < limit and time.monotonic() < deadline:
        now = timezone.now()
        pending = OutboundEmail.objects.filter(_due(now), status=OutboundEmail.Status.PENDING)
        batch = _claim(
            pending.filter(bulk=False).order_by("created_at")[: min(DRAIN_BATCH, limit - sent)],
            now,
        )
        if not batch:
            return sent
        count, whole = _send_batch(batch)
        sent += count
        if not whole:
            return sent
    return sent


def _record_failure(email: OutboundEmail, exc: Exception) -> None:
    now = timezone.now()
    retry_until = email.retry_until or email.created_at + timedelta(
        hours=settings.OUTBOX_RETRY_HOURS
    )
    error = f"{type(exc).__name__}: {exc}"[:300]
    if is_permanent(exc) or now >= retry_until:
        OutboundEmail.objects.filter(pk=email.pk).update(
            status=OutboundEmail.Status.FAILED, last_error=error, next_attempt_at=None
        )
        # The alert: monitoring greps for this line; the health page counts FAILED rows.
        logger.error(
            "ALERT outbox: e-mail %s failed for good after %s attempts (%s); "
            "staff can send it again in admin",
            email.pk,
            email.attempts,
            type(exc).__name__,
        )
        return
    OutboundEmail.objects.filter(pk=email.pk).update(
        status=OutboundEmail.Status.PENDING,
        last_error=error,
        next_attempt_at=now + retry_delay(email.attempts),
    )
    logger.warning(
        "e-mail %s not sent (attempt %s, %s); retrying later",
        email.pk,
        email.attempts,
        type(exc).__name__,
    )


def message_id(email: OutboundEmail) -> str:
    """The same Message-ID on every attempt at one outbox row. SMTP cannot promise exactly
    once: a worker that dies after the server accepted a message and before recording it
    sends it again; with the same Message-ID, mail servers and clients see one message."""
    domain = urlsplit(settings.SITE_URL).hostname or "opencity.invalid"
    return f"<outbox.{email.pk}.{email.created_at:%Y%m%d%H%M%S}@{domain}>"


def delivery_queue(bulk: bool) -> dict:
    """Where a delivery task goes: bulk mail to the "bulk" queue, the rest to "mail"."""
    return {"queue": "bulk"} if bulk else {}


def queue_bulk_delivery(ids: list[int]) -> None:
    """One task on the bulk queue delivers these outbox rows, after commit: a batch of
    followers' notices costs one task, not one each."""
    if ids:
        enqueue_on_commit("opencity.core.tasks.deliver_emails", *ids, **delivery_queue(True))


def deliver_emails(ids: Iterable[int]) -> int:
    """Send these outbox rows (a batch of followers' notices): claimed in one statement, sent
    in turn on the open connection, recorded a few at a time; when the mail server fails,
    the rest stay pending for the sweep. Returns how many this run sent."""
    now = timezone.now()
    batch = _claim(
        OutboundEmail.objects.filter(_claimable(now), pk__in=list(ids)).order_by("pk"), now
    )
    sent, whole = _send_batch(batch)
    if sent and whole:  # the mail server works: mail waiting out a backoff goes now
        _release_deferred()
    return sent


def queue_deliveries(ids: list[int]) -> None:
    """Queue delivery of these outbox rows, each to its queue (see `delivery_queue`)."""
    from opencity.core.tasks import deliver_email as deliver_task

    bulk = set(OutboundEmail.objects.filter(pk__in=ids, bulk=True).values_list("pk", flat=True))
    for email_id in ids:
        send_now(deliver_task, email_id, **delivery_queue(email_id in bulk))


def _release_deferred() -> None:
    """The mail server works: e-mails waiting out a backoff are sent now, not in an hour."""
    now = timezone.now()
    deferred = OutboundEmail.objects.filter(
        status=OutboundEmail.Status.PENDING, next_attempt_at__gt=now
    )
    # Mail someone waits for first, then the bulk.
    ids = list(deferred.order_by("bulk", "next_attempt_at").values_list("pk", flat=True)[:1000])
    if not ids:
        return
    released = OutboundEmail.objects.filter(pk__in=ids, next_attempt_at__gt=now).update(
        next_attempt_at=now
    )
    if released:
        logger.info("mail server answers again: %s deferred e-mails released", released)
        queue_deliveries(ids)


def email_send_again(*, email: OutboundEmail, actor) -> bool:
    """Staff: retry a FAILED e-mail now, with a fresh 24-hour retry window. Audited."""
    now = timezone.now()
    with transaction.atomic():
        changed = OutboundEmail.objects.filter(
            pk=email.pk, status=OutboundEmail.Status.FAILED
        ).update(
            status=OutboundEmail.Status.PENDING,
            next_attempt_at=None,
            retry_until=now + timedelta(hours=settings.OUTBOX_RETRY_HOURS),
        )
        if not changed:
            return False
        audit(
            obj=email,
            action="core.email.sent_again",
            actor=actor,
            city=email.city_id,
            from_state=OutboundEmail.Status.FAILED,
            to_state=OutboundEmail.Status.PENDING,
        )
        from opencity.core.tasks import deliver_email as deliver_task

        enqueue_on_commit(deliver_task, email.pk)
    return True


def pending_email_ids(now: datetime | None = None) -> list[int]:
    """Outbox rows due for an attempt: never queued (broker outage), left by a dead worker,
    or past their backoff; marked as queued, so that a row still waiting in a long queue is
    not queued again before REQUEUE_AFTER. While all others wait out a backoff, the one due
    first is tried anyway, once per sweep, so that the backlog goes out soon after the mail
    server is back (its success releases the rest)."""
    now = now or timezone.now()
    OutboundEmail.objects.filter(
        status=OutboundEmail.Status.SENDING, claimed_at__lt=now - stale_claim()
    ).update(status=OutboundEmail.Status.PENDING)
    pending = OutboundEmail.objects.filter(status=OutboundEmail.Status.PENDING).exclude(
        queued_at__gte=now - REQUEUE_AFTER
    )
    due = list(
        pending.filter(
            models.Q(next_attempt_at__isnull=True, created_at__lt=now - FRESH)
            | models.Q(next_attempt_at__lte=now)
        )
        .order_by("bulk", "created_at")  # mail someone waits for first
        .values_list("pk", flat=True)[:1000]
    )
    if not due:
        probe = pending.filter(next_attempt_at__gt=now).order_by("next_attempt_at").first()
        if probe is None:
            return []
        OutboundEmail.objects.filter(pk=probe.pk, next_attempt_at__gt=now).update(
            next_attempt_at=now
        )
        due = [probe.pk]
    OutboundEmail.objects.filter(pk__in=due).update(queued_at=now)
    return due


def outbox_health(now=None) -> dict[str, int]:
    """Figures for the health page (no addresses, no subjects)."""
    now = now or timezone.now()
    counts = dict(
        OutboundEmail.objects.exclude(status=OutboundEmail.Status.SENT)
        .values_list("status")
        .annotate(n=models.Count("pk"))
        .values_list("status", "n")
    )
    oldest = (
        OutboundEmail.objects.filter(status=OutboundEmail.Status.PENDING)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return {
        "failed": counts.get(OutboundEmail.Status.FAILED, 0),
        "pending": counts.get(OutboundEmail.Status.PENDING, 0),
        "sending": counts.get(OutboundEmail.Status.SENDING, 0),
        "oldest_pending_seconds": int((now - oldest).total_seconds()) if oldest else 0,
    }
