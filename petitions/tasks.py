"""Thin Celery wrappers around petitions.services; idempotent, primary keys only."""

from celery import shared_task

from opencity.queue import send_now
from petitions import services


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=2, max_retries=5)
def tally_petition(self, petition_id: int) -> int | None:
    return services.petition_tally(petition_id=petition_id)


@shared_task
def tally_stale() -> int:
    return services.tally_stale()


@shared_task
def close_expired() -> int:
    return services.close_expired()


@shared_task
def flag_overdue() -> int:
    return services.flag_overdue()


@shared_task(
    bind=True, autoretry_for=(OSError,), retry_backoff=30, retry_backoff_max=40, max_retries=5
)
def notify_signers_answered(self, petition_id: int) -> int:
    return services.notify_signers_answered(petition_id=petition_id)


@shared_task
def resend_signer_notices() -> int:
    """Re-queue signer notices that a broker outage kept from starting."""
    ids = services.answered_without_signer_notice()
    for petition_id in ids:
        send_now(notify_signers_answered, petition_id)
    return len(ids)
