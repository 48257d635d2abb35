"""The Celery application: Redis broker, JSON only, settings under the CELERY_ namespace."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opencity.settings")

app = Celery("opencity")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _survive_broker_loss() -> None:
    """Keep the worker alive when Redis goes away.

    kombu 5.7's Redis transport, closing a channel after the connection was lost, builds a
    client from connection details that are already gone and raises AttributeError, which
    Celery treats as unrecoverable: the worker exits on every Redis outage (found with
    bench/faults.py). Raised as a connection error instead, Celery ignores it on close and
    reconnects when Redis is back; unacknowledged tasks are redelivered after the
    visibility timeout.
    """
    from kombu.transport import redis as kombu_redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    original = kombu_redis.Channel._connparams
    if getattr(original, "_opencity_guarded", False):
        return

    def _connparams(self, asynchronous=False):
        if self.connection is None or self.connection.client is None:
            raise RedisConnectionError("the broker connection is already closed")
        return original(self, asynchronous=asynchronous)

    _connparams._opencity_guarded = True
    kombu_redis.Channel._connparams = _connparams


_survive_broker_loss()
