"""The connection to the mail server: one per worker process (and thread), opened once and
reused, dropped on any error. The outbox (`opencity.core.services`) sends through it."""

from __future__ import annotations

import contextlib
import smtplib
import threading

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

_mail = threading.local()


def mail_server_failing() -> bool:
    """Did this process's last attempt to send an e-mail fail?"""
    return getattr(_mail, "failing", False)


def is_permanent(exc: Exception) -> bool:
    """Every recipient refused with a 5xx code: retrying will not help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return False


def _mail_settings() -> tuple:
    return (settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT,
            settings.EMAIL_HOST_USER, settings.EMAIL_USE_TLS, settings.EMAIL_USE_SSL)  # fmt: skip


def drop_connection() -> None:
    connection_ = getattr(_mail, "connection", None)
    _mail.connection = None
    if connection_ is not None:
        with contextlib.suppress(Exception):  # broken already; a new one is opened next
            connection_.close()


def _mail_connection():
    """This process's open connection to the mail server, opened now if there is none (or
    the mail settings changed). Opened by us, so `send_messages` leaves it open."""
    if getattr(_mail, "connection", None) is not None and _mail.settings != _mail_settings():
        drop_connection()
    if getattr(_mail, "connection", None) is None:
        connection_ = get_connection()
        if hasattr(connection_, "open"):
            connection_.open()
        _mail.connection, _mail.settings = connection_, _mail_settings()
        return connection_, True
    return _mail.connection, False


def send_message(message: EmailMessage) -> None:
    """Send one message on the reused connection. Any error drops the connection; if the
    connection was an old one (a server may close an idle one), the message is tried once
    more on a fresh connection before the error counts (`mail_server_failing`) and is
    raised."""
    try:
        _send(message)
    except Exception:
        _mail.failing = True
        raise
    _mail.failing = False


def _send(message: EmailMessage) -> None:
    while True:
        connection_, fresh = _mail_connection()
        try:
            connection_.send_messages([message])
            return
        except Exception as exc:
            drop_connection()
            if fresh or is_permanent(exc):
                raise
