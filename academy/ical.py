"""iCalendar (RFC 5545) text for sessions, written by hand: it is a small format.

CRLF line endings, content lines folded at 75 octets (continuation lines start with a
space, never splitting a UTF-8 character), TEXT values escaped (backslash, semicolon,
comma, newline), times in UTC with a trailing Z.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

PRODID = "-//OpenCity//E-City Academy//UK"


def escape_text(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\r", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """Split a content line into chunks of at most 75 octets, joined by CRLF + space."""
    encoded = line.encode("utf-8")
    if len(encoded) <= 75:
        return line
    parts: list[str] = []
    current = b""
    limit = 75
    for char in line:
        octets = char.encode("utf-8")
        if len(current) + len(octets) > limit:
            parts.append(current.decode("utf-8"))
            current = b""
            limit = 74  # the leading space of a continuation line counts
        current += octets
    parts.append(current.decode("utf-8"))
    return "\r\n ".join(parts)


def format_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _uid(session) -> str:
    host = urlsplit(settings.SITE_URL).hostname or "opencity.localhost"
    return f"academy-session-{session.pk}@{host}"


def session_event(session, *, location: str = "", now: datetime | None = None) -> list[str]:
    now = now or timezone.now()
    url = f"{settings.SITE_URL}{session.get_absolute_url()}"
    lines = [
        "BEGIN:VEVENT",
        f"UID:{_uid(session)}",
        f"DTSTAMP:{format_utc(now)}",
        f"DTSTART:{format_utc(session.starts_at)}",
        f"DTEND:{format_utc(session.ends_at)}",
        f"SUMMARY:{escape_text(session.course.title)}",
        f"DESCRIPTION:{escape_text(session.course.description[:1000] + chr(10) + url)}",
        f"URL:{url}",
    ]
    if location:
        lines.append(f"LOCATION:{escape_text(location)}")
    if session.is_cancelled:
        lines.append("STATUS:CANCELLED")
    lines.append("END:VEVENT")
    return lines


def calendar(events: Iterable[list[str]], *, name: str = "") -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN"]
    if name:
        lines.append(f"X-WR-CALNAME:{escape_text(name)}")
    for event in events:
        lines.extend(event)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
