"""Thin Celery wrappers around initiatives.services; they receive primary keys only."""

from __future__ import annotations

import contextlib

from celery import shared_task
from django.core.cache import cache

from initiatives import services
from opencity.queue import send_now


def tally_progress_key(programme_id: int) -> str:
    return f"initiatives:tally-progress:{programme_id}"


@shared_task(acks_late=True)
def tally(programme_id: int) -> int:
    """Tally one programme (idempotent: the same votes give the same, single snapshot).
    Equal shares reports each add-one step to the cache; staff see it in the admin."""

    def progress(step: int) -> None:
        # Progress is a courtesy: a cache outage never stops the tally.
        with contextlib.suppress(Exception):
            cache.set(tally_progress_key(programme_id), step, 3600)

    snapshot = services.tally_programme(programme_id=programme_id, progress=progress)
    with contextlib.suppress(Exception):
        cache.delete(tally_progress_key(programme_id))
    return snapshot.pk


@shared_task
def tally_due() -> int:
    """Beat: tally every programme whose voting has closed and that has no result yet."""
    due = services.programmes_due_for_tally()
    for programme_id in due:
        send_now(tally, programme_id)
    return len(due)


@shared_task
def announce_stages() -> int:
    """Beat: tell staff about programmes that entered a new stage (once per stage)."""
    from initiatives.models import Programme

    announced = 0
    for programme_id in Programme.objects.values_list("pk", flat=True):
        announced += services.programme_announce_stage(programme_id=programme_id)
    return announced


@shared_task
def notify_voters_of_results(snapshot_id: int) -> int:
    return services.notify_voters_of_results(snapshot_id=snapshot_id)


@shared_task
def notify_voters_of_completion(update_id: int) -> int:
    return services.notify_voters_of_completion(update_id=update_id)


@shared_task
def sweep_voter_notifications() -> int:
    """Beat: re-queue voter e-mails that a broker outage kept from starting."""
    snapshots, updates = services.pending_voter_notifications()
    for snapshot_id in snapshots:
        send_now(notify_voters_of_results, snapshot_id)
    for update_id in updates:
        send_now(notify_voters_of_completion, update_id)
    return len(snapshots) + len(updates)


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=2, max_retries=5)
def process_photo(self, photo_id: int) -> bool:
    """Publish one project photo without its camera data (idempotent)."""
    return services.photo_process(photo_id)


@shared_task
def process_pending_photos() -> int:
    """Beat: re-queue photos whose task a broker outage lost."""
    ids = services.pending_photo_ids()
    for photo_id in ids:
        send_now(process_photo, photo_id)
    return len(ids)
