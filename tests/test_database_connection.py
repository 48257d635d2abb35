"""A reused database connection: checked without a round trip, replaced when the server
dropped it (opencity/core/postgresql/base.py)."""

import io
import select
import sys
import time

import psycopg
import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection, transaction

pytestmark = [
    pytest.mark.skipif(not settings.USING_POSTGRES, reason="the PostgreSQL backend"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def kept_connection(monkeypatch):
    """The connection as a production request finds it: kept between requests, checked."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", True)
    connection.close()
    connection.ensure_connection()
    yield connection
    connection.close()


@pytest.fixture
def health_queries(monkeypatch):
    """Django's health check as it reaches psycopg: `SELECT 1` on a cursor of its own."""
    sent = []
    original = psycopg.Cursor.execute

    def execute(self, query, *args, **kwargs):
        if str(query) == "SELECT 1":
            sent.append(str(query))
        return original(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", execute)
    return sent


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def terminate(pid: int) -> None:
    """What a PostgreSQL restart does to an idle connection, from another session."""
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
    waiting = select.poll()
    waiting.register(connection.connection.fileno(), select.POLLIN)
    deadline = time.monotonic() + 5
    while not waiting.poll(50) and time.monotonic() < deadline:
        pass


def get(path: str) -> tuple[str, bytes]:
    """A request through the WSGI handler as gunicorn makes it: the request_started signal
    checks the connection first (Django's test client skips that)."""
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "HTTP_HOST": "testserver",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
        "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1",
    }  # fmt: skip
    status = []
    body = WSGIHandler()(environ, lambda s, headers, exc_info=None: status.append(s))
    try:
        return status[0], b"".join(body)
    finally:
        body.close()


def test_the_portal_uses_the_socket_checking_backend():
    assert settings.DATABASES["default"]["ENGINE"] == "opencity.core.postgresql"
    assert connection.vendor == "postgresql"


def test_a_live_connection_is_reused_without_a_round_trip(kept_connection, health_queries):
    before = backend_pid()
    status, _ = get("/petitions/")
    assert status.startswith("200")
    assert backend_pid() == before
    assert health_queries == []


def test_a_connection_the_server_dropped_is_replaced_before_the_request_uses_it(
    kept_connection, health_queries
):
    dropped = backend_pid()
    terminate(dropped)
    status, body = get("/petitions/")
    assert status.startswith("200"), body[:300]
    assert backend_pid() != dropped
    assert health_queries == ["SELECT 1"]  # the socket had something to say: Django decides


def test_a_connection_inside_a_transaction_is_asked_as_django_asks(kept_connection, health_queries):
    with transaction.atomic():
        backend_pid()
        assert connection.is_usable()
    assert health_queries == ["SELECT 1"]


def test_a_closed_connection_is_not_usable(kept_connection, health_queries):
    kept_connection.connection.close()
    assert not connection.is_usable()
    connection.close()  # no connection at all
    assert connection.connection is None and not connection.is_usable()
    assert health_queries == []


def test_a_socket_that_cannot_be_polled_is_not_usable(kept_connection, health_queries, monkeypatch):
    class Gone:
        def register(self, *args):
            raise OSError("bad file descriptor")

    monkeypatch.setattr(select, "poll", Gone)
    assert not connection.is_usable()
    assert health_queries == []
