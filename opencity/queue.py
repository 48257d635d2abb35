"""Queueing Celery tasks safely from request code.

`enqueue_on_commit(task, pk, ...)` sends the task only once the surrounding transaction has
committed (so the worker sees the rows), passes primary keys only, and never lets a broker
outage fail the user's request: the failure is logged, and the work is recovered by the
periodic sweeps (outbox rows stay pending; tallies have a periodic pass).
"""

from __future__ import annotations

import logging

from celery import Task
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)


def send_now(task: Task, *args: int | str, **options) -> bool:
    """Publish immediately; return False (and log) when the broker cannot be reached."""
    try:
        task.apply_async(args=args, **options)
    except Exception as exc:  # kombu raises several unrelated types for a dead broker
        logger.warning(
            "could not queue %s: %s (a sweep will retry)", task.name, exc, exc_info=settings.DEBUG
        )
        return False
    return True


def enqueue_on_commit(task: Task, *args: int | str, **options) -> None:
    for arg in args:
        if not isinstance(arg, int | str):
            raise TypeError("pass primary keys or plain strings to tasks, not objects")
    transaction.on_commit(lambda: send_now(task, *args, **options))
