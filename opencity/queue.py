"""Queueing Celery tasks safely from request code.

`enqueue_on_commit(task, pk, ...)` sends the task only once the surrounding transaction has
committed (so the worker sees the rows), passes primary keys only, and never lets a broker
outage fail or stall the user's request: the failure is logged, and the work is recovered by
the periodic sweeps (outbox rows stay pending; tallies have a periodic pass).

A service names the task it queues (`enqueue_on_commit("initiatives.tasks.tally", pk)`)
rather than importing its app's tasks module, which imports the service: the dependency
runs one way, tasks → services.

Publishing goes through a circuit breaker (opencity/cache.py): after a failed publish the
process stops trying for BROKER_BACKOFF_SECONDS, then one publish tries again, so a request
that queues several tasks during an outage pays for one failed connection at most (the
connection and socket timeouts are short, see CELERY_BROKER_TRANSPORT_OPTIONS).
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Any

from celery import Task, current_app
from django.conf import settings
from django.db import transaction

from opencity.cache import CircuitBreaker

logger = logging.getLogger(__name__)

BROKER_BACKOFF_SECONDS = 5.0
broker_breaker = CircuitBreaker("Celery broker", cool_down=BROKER_BACKOFF_SECONDS)


def task_named(name: str) -> Task:
    """The registered task `name` ("app.tasks.function"), importing its module if needed."""
    try:
        return current_app.tasks[name]
    except KeyError:
        import_module(name.rpartition(".")[0])
        return current_app.tasks[name]


def send_now(task: Task | str, *args: int | str, **options: Any) -> bool:
    """Publish immediately; return False (and log) when the broker cannot be reached."""
    if isinstance(task, str):
        task = task_named(task)
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


def enqueue_on_commit(task: Task | str, *args: int | str, **options: Any) -> None:
    for arg in args:
        if not isinstance(arg, int | str):
            raise TypeError("pass primary keys or plain strings to tasks, not objects")
    transaction.on_commit(lambda: send_now(task, *args, **options))
