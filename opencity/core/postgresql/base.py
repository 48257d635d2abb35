"""Django's PostgreSQL backend with a health check that costs no round trip.

With CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first query of every request
that reuses a connection: on a signed-in page or a signature, one round trip in four, and
PostgreSQL's CPU for it, under a surge. The check here asks the socket instead. A server
that drops a connection (restart, pg_terminate_backend, idle timeout, crash) says so on the
socket: an error message, then end of file. So an idle connection with nothing to read is
alive and is reused as is; anything waiting to be read, an error on the socket or a
connection not idle falls back to Django's `SELECT 1`, which decides. What neither check
sees is a peer that vanished without a word (a host powered off): `SELECT 1` would hang on
it as the request's own query does.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus

__all__ = ["DatabaseWrapper"]

_ATTENTION = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | select.POLLNVAL


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status != TransactionStatus.IDLE:
            return super().is_usable()
        try:
            waiting = select.poll()
            waiting.register(connection.fileno(), _ATTENTION)
            events = waiting.poll(0)
        except (OSError, ValueError):  # the socket is gone
            return False
        return super().is_usable() if events else True
