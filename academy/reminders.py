"""Reminders a day before a training session: one e-mail per seated registration, ever."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from academy import conf
from academy.models import Registration
from opencity.core.services import notify_user

Status = Registration.Status


def due_reminder_ids(now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        Registration.objects.filter(
            status=Status.SEATED,
            reminder_sent_at__isnull=True,
            session__is_cancelled=False,
            session__starts_at__gt=now,
            session__starts_at__lte=now + conf.REMINDER_BEFORE,
        ).values_list("pk", flat=True)
    )


def reminder_send(*, registration_id: int, now: datetime | None = None) -> bool:
    """Record the reminder e-mail for one seated registration, once ever.

    Idempotent: `reminder_sent_at` is claimed with a conditional update in the same
    transaction as the outbox row (whose key is per registration), so a beat run that
    overlaps another, or a retried task, sends nothing twice.
    """
    now = now or timezone.now()
    with transaction.atomic():
        claimed = Registration.objects.filter(
            pk=registration_id, status=Status.SEATED, reminder_sent_at__isnull=True
        ).update(reminder_sent_at=now)
        if claimed != 1:
            return False
        registration = Registration.objects.select_related("user", "session__course", "city").get(
            pk=registration_id
        )
        session = registration.session
        notify_user(
            user=registration.user,
            key=f"academy:reminder:r{registration.pk}",
            template="academy_reminder",
            context={"session": session, "course": session.course},
            city=registration.city,
        )
    return True


def send_due_reminders(now: datetime | None = None) -> int:
    return sum(reminder_send(registration_id=pk, now=now) for pk in due_reminder_ids(now))
