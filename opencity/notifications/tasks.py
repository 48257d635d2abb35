"""Thin Celery wrappers; idempotent, primary keys only."""

from celery import shared_task

from opencity.notifications import data, services
from opencity.queue import send_now


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=30, max_retries=5)
def fan_out(self, event_id: int, after: int = 0) -> int:
    return services.fan_out(event_id, after)


@shared_task
def sweep_events() -> int:
    """Fan out events a broker outage kept from starting."""
    ids = services.events_not_fanned_out()
    for event_id in ids:
        send_now(fan_out, event_id)
    return len(ids)


@shared_task
def auto_follow(user_id: int, model: str, object_id: int) -> bool:
    return services.auto_follow_by_ids(user_id, model, object_id)


@shared_task
def send_digests() -> int:
    return services.send_digests()


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=30, max_retries=5)
def prepare_export(self, export_id: int) -> bool:
    return data.prepare_export(export_id)
