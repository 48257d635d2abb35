"""Queueing Celery tasks safely from request code.

`enqueue_on_commit(task, pk, ...)` sends the task only once the surrounding transaction has
committed (so the worker sees the rows), passes primary keys only, and never lets a broker
outage fail or stall the user's request: the failure is logged, and the work is recovered by
the periodic sweeps (outbox rows stay pending; tallies have a periodic pass).

Publishing goes through a circuit breaker (opencity/cache.py): after a failed publish the
process stops trying for BROKER_BACKOFF_SECONDS, then one publish tries again, so a request
that queues several tasks during an outage pays for one failed connection at most (the
connection and socket timeouts are short, see CELERY_BROKER_TRANSPORT_OPTIONS).
"""

from __future__ import annotations

import logging

from celery import Task
from django.conf import settings
from django.db import transaction

from opencity.cache import CircuitBreaker

logger = logging.getLogger(__name__)

BROKER_BACKOFF_SECONDS = 5.0
broker_breaker = CircuitBreaker("Celery broker", cool_down=BROKER_BACKOFF_SECONDS)


def send_now(task: Task, *args: int | str, **options) -> bool:
    """Publish immediately; return False (and log) when the broker cannot be reached."""
    eager = task.app.conf.task_always_eager
    if not eager and not broker_breaker.allow():
        logger.info("broker marked down; %s left for the sweep", task.name)
        return False
    try:
        task.apply_async(args=args, **options)
    except Exception as exc:  # kombu raises several unrelated types for a dead broker
        if eager:
            logger.warning("task %s failed in-process: %s", task.name, exc, exc_info=settings.DEBUG)
            return False
        broker_breaker.failure(exc)
        logger.warning(
            "could not queue %s: %s (a sweep will retry)", task.name, exc, exc_info=settings.DEBUG
        )
        return False
    if not eager:
        broker_breaker.success()
    return True


def reset_broker_backoff() -> None:
    broker_breaker.reset()


def enqueue_on_commit(task: Task, *args: int | str, **options) -> None:
    for arg in args:
        if not isinstance(arg, int | str):
            raise TypeError("pass primary keys or plain strings to tasks, not objects")
    transaction.on_commit(lambda: send_now(task, *args, **options))
