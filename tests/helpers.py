"""Helpers shared by the apps' tests."""

from __future__ import annotations

from contextlib import contextmanager

from django.utils import translation

from opencity import celery_app


def message_of(exc_info, code: str) -> str:
    """The refusal's English wording, after checking that it is the refusal `code`."""
    assert exc_info.value.code == code, repr(exc_info.value)
    with translation.override("en"):
        return str(exc_info.value)


def _reset_broker_pools() -> None:
    from kombu import pools

    from opencity.queue import reset_broker_backoff

    reset_broker_backoff()
    celery_app.pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    pools.reset()


@contextmanager
def broker_down():
    """Point Celery at a port where nothing listens, as in a Redis outage (not eager)."""
    saved = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    celery_app.conf.broker_url = "redis://127.0.0.1:9/0"
    _reset_broker_pools()
    try:
        yield
    finally:
        celery_app.conf.broker_url, celery_app.conf.task_always_eager = saved
        _reset_broker_pools()
