"""Thin Celery wrappers around academy services; each receives primary keys, idempotent."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_process_init

from academy import reminders, services
from opencity.queue import send_now


@shared_task
def promote_waitlist(session_id: int) -> list[int]:
    return services.waitlist_promote(session_id=session_id)


@shared_task
def promote_missed_waitlists() -> int:
    """Periodic pass: fill seats whose promotion task was lost (broker outage)."""
    promoted = 0
    for session_id in services.sessions_with_free_seats_and_waitlist():
        promoted += len(services.waitlist_promote(session_id=session_id))
    return promoted


@shared_task
def send_reminders() -> int:
    return reminders.send_due_reminders()


@shared_task(
    bind=True, autoretry_for=(OSError,), retry_backoff=10, retry_backoff_max=40, max_retries=5
)
def generate_certificate_pdf(self, certificate_id: int) -> bool:
    return services.certificate_generate_pdf(certificate_id=certificate_id)


@shared_task
def sweep_certificates() -> int:
    """Periodic pass: re-queue certificates whose PDF task was lost."""
    ids = services.certificates_without_pdf()
    for certificate_id in ids:
        send_now(generate_certificate_pdf, certificate_id)
    return len(ids)


@worker_process_init.connect
def _warm_up_certificates(**kwargs) -> None:
    from academy.certificates import warm_up

    warm_up()
