"""Strict parsing of environment variables for settings.

Every parser raises ImproperlyConfigured with the variable's name and the
accepted forms, so a typo in deployment fails at start-up, not at 3 a.m.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_UNSET = object()


def _raw(name: str, environ) -> str | None:
    value = (environ if environ is not None else os.environ).get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def _missing(name: str, default):
    if default is _UNSET:
        raise ImproperlyConfigured(f"Environment variable {name} is required.")
    return default


def env_str(name: str, default=_UNSET, *, environ=None) -> str:
    value = _raw(name, environ)
    return _missing(name, default) if value is None else value


def env_bool(name: str, default=_UNSET, *, environ=None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return _missing(name, default)
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"Environment variable {name}={value!r} is not a boolean; use one of "
        f"{sorted(_TRUE | _FALSE)}."
    )


def env_int(name: str, default=_UNSET, *, min_value: int | None = None, environ=None) -> int:
    value = _raw(name, environ)
    if value is None:
        return _missing(name, default)
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"Environment variable {name}={value!r} is not a whole number."
        ) from None
    if min_value is not None and number < min_value:
        raise ImproperlyConfigured(f"Environment variable {name} must be at least {min_value}.")
    return number


def env_list(name: str, default=_UNSET, *, environ=None) -> list[str]:
    value = _raw(name, environ)
    if value is None:
        return _missing(name, default)
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise ImproperlyConfigured(
            f"Environment variable {name}={value!r} has an empty item; "
            "separate values with single commas."
        )
    return items


def env_choice(name: str, choices: tuple[str, ...], default=_UNSET, *, environ=None) -> str:
    value = _raw(name, environ)
    if value is None:
        return _missing(name, default)
    if value not in choices:
        raise ImproperlyConfigured(
            f"Environment variable {name}={value!r} must be one of {', '.join(choices)}."
        )
    return value


def parse_database_url(url: str, *, base_dir: Path) -> dict:
    """postgres://user:pass@host:port/name?opt=val or sqlite:///path → DATABASES entry."""
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme in ("postgres", "postgresql", "pgsql"):
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured("DATABASE_URL must name a database: postgres://host/NAME.")
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured("DATABASE_URL has an invalid port.") from None
        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(port or ""),
            "OPTIONS": options,
        }
    if scheme == "sqlite":
        path = unquote(parts.path)
        if path.startswith("/") and url.startswith("sqlite:////"):
            db_path = Path(path)
        else:
            db_path = base_dir / path.lstrip("/")
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(db_path)}
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {scheme!r} is not supported; use postgres:// or sqlite:///."
    )


def check_redis_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ImproperlyConfigured(
            "REDIS_URL must look like redis://host:6379/0 (or rediss:// for TLS)."
        )
    return url


def xdist_worker_number(worker: str) -> int:
    """N for pytest-xdist worker "gwN" (its PYTEST_XDIST_WORKER); 0 outside xdist."""
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0


def redis_url_for_test_worker(url: str, worker: str) -> str:
    """`url` for pytest-xdist worker `worker` ("gw0", "gw1", …, or "" outside xdist): the
    Redis database number moved up by two per worker (gw1: /1 → /3), so workers running the
    suite side by side never share a database. A URL without a database number is /0."""
    number = xdist_worker_number(worker)
    if not number:
        return url
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) + 2 * number
    return parts._replace(path=f"/{database}").geturl()


def check_site_url(url: str, *, require_https: bool) -> str:
    """SITE_URL: an absolute http(s) address without a trailing slash; https in production."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(
            f"SITE_URL={url!r} must be an absolute address such as https://opencity.org.ua."
        )
    if require_https and parts.scheme != "https":
        raise ImproperlyConfigured(
            f"SITE_URL={url!r} must start with https:// in production: it is put into e-mails, "
            "share links and certificate QR codes."
        )
    return url.rstrip("/")


def parse_networks(name: str, values: list[str]) -> tuple:
    """Addresses or networks (10.0.0.5, 10.0.0.0/24, ::1) → ip_network objects."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"Environment variable {name} has {value!r}, which is not an IP address or "
                "network (10.0.0.5, 10.0.0.0/24)."
            ) from None
    return tuple(networks)
