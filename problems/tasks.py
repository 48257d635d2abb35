"""Thin Celery wrappers around problems.services; idempotent, primary keys only."""

from celery import shared_task

from opencity.queue import send_now
from problems import services


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=2, max_retries=5)
def process_photo(self, photo_id: int) -> bool:
    return services.photo_process(photo_id)


@shared_task
def process_pending_photos() -> int:
    """Re-queue photos whose task a broker outage lost."""
    ids = services.pending_photo_ids()
    for photo_id in ids:
        send_now(process_photo, photo_id)
    return len(ids)


@shared_task
def ask_if_fixed() -> int:
    return services.ask_if_fixed()
