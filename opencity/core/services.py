"""Audit entries and the e-mail outbox: the shared side-effect plumbing of every app."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, models, transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation

from opencity.core.models import AuditEntry, OutboundEmail
from opencity.queue import enqueue_on_commit

if TYPE_CHECKING:
    from opencity.accounts.models import User

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
STALE_CLAIM = timedelta(minutes=10)
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
) -> OutboundEmail | None:
    """Record an e-mail in the outbox and deliver it after commit, exactly once per key.

    Idempotent: a second call with the same key returns None and records nothing. Safe to
    call inside the caller's transaction; delivery starts only if that transaction commits.
    """
    language = language or settings.LANGUAGE_CODE
    subject, text, html = render_email(template, context, language)
    return queue_rendered_email(
        key=key,
        to=to,
        subject=subject,
        text=text,
        html=html,
        language=language,
        city=city,
        headers=headers,
    )


def queue_rendered_email(
    *,
    key: str,
    to: str,
    subject: str,
    text: str,
    html: str = "",
    language: str | None = None,
    city=None,
    headers: dict[str, str] | None = None,
) -> OutboundEmail | None:
    """queue_email for a message rendered elsewhere (allauth's templates): same outbox row,
    same once-per-key guarantee, same delivery after commit."""
    try:
        with transaction.atomic():
            email = OutboundEmail.objects.create(
                key=key[:200],
                to=to,
                language=language or settings.LANGUAGE_CODE,
                subject=" ".join(subject.split())[:300],
                body_text=text,
                body_html=html,
                city=city,
                headers=headers or {},
            )
    except IntegrityError:
        return None
    enqueue_on_commit("opencity.core.tasks.deliver_email", email.pk)
    return email


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


def deliver_email(email_id: int) -> bool:
    """Send one outbox e-mail. Claims the row first, so concurrent runs send it once."""
    now = timezone.now()
    claimed = OutboundEmail.objects.filter(pk=email_id, status=OutboundEmail.Status.PENDING).update(
        status=OutboundEmail.Status.SENDING, claimed_at=now, attempts=models.F("attempts") + 1
    )
    if claimed != 1:
        return False
    email = OutboundEmail.objects.get(pk=email_id)
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        to=[email.to],
        from_email=None,
        headers=email.headers or None,
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    try:
        message.send()
    except Exception as exc:
        final = email.attempts >= MAX_ATTEMPTS
        OutboundEmail.objects.filter(pk=email_id).update(
            status=OutboundEmail.Status.FAILED if final else OutboundEmail.Status.PENDING,
            last_error=f"{type(exc).__name__}: {exc}"[:300],
        )
        logger.warning("e-mail %s not sent (attempt %s): %s", email_id, email.attempts, exc)
        raise
    OutboundEmail.objects.filter(pk=email_id).update(
        status=OutboundEmail.Status.SENT, sent_at=timezone.now(), last_error=""
    )
    return True


def pending_email_ids(now: datetime | None = None) -> list[int]:
    """Outbox rows a broker outage or a dead worker left behind."""
    now = now or timezone.now()
    stale = OutboundEmail.objects.filter(
        status=OutboundEmail.Status.SENDING, claimed_at__lt=now - STALE_CLAIM
    )
    stale.update(status=OutboundEmail.Status.PENDING)
    return list(
        OutboundEmail.objects.filter(
            status=OutboundEmail.Status.PENDING, created_at__lt=now - timedelta(seconds=30)
        ).values_list("pk", flat=True)[:1000]
    )
