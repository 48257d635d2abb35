import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from opencity.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    parse_database_url,
    redis_url_for_test_worker,
)
from tests import parallel

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("raw,expected", [("1", True), ("yes", True), ("off", False), ("0", False)])
def test_booleans_accept_the_usual_spellings(raw, expected):
    assert env_bool("DEBUG", environ={"DEBUG": raw}) is expected


@pytest.mark.parametrize("raw", ["maybe", "2", "tru"])
def test_a_bad_boolean_raises_a_clear_error(raw):
    with pytest.raises(ImproperlyConfigured, match="DEBUG"):
        env_bool("DEBUG", environ={"DEBUG": raw})


def test_a_bad_number_raises_a_clear_error():
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        env_int("DB_CONN_MAX_AGE", environ={"DB_CONN_MAX_AGE": "sixty"})
    with pytest.raises(ImproperlyConfigured, match="at least 0"):
        env_int("DB_CONN_MAX_AGE", min_value=0, environ={"DB_CONN_MAX_AGE": "-1"})


def test_lists_refuse_empty_items():
    assert env_list("ALLOWED_HOSTS", environ={"ALLOWED_HOSTS": "a.ua, b.ua"}) == ["a.ua", "b.ua"]
    with pytest.raises(ImproperlyConfigured):
        env_list("ALLOWED_HOSTS", environ={"ALLOWED_HOSTS": "a.ua,,b.ua"})


def test_required_variable_without_default_raises():
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is required"):
        env_list("SECRET_KEY", environ={})


def test_choice_lists_the_allowed_values():
    with pytest.raises(ImproperlyConfigured, match="development, production"):
        env_choice("DJANGO_ENV", ("development", "production"), environ={"DJANGO_ENV": "prod"})


def test_database_url_parsing():
    config = parse_database_url("postgres://app:s%40cret@db.local:5433/opencity", base_dir=ROOT)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["USER"], config["PASSWORD"], config["HOST"], config["PORT"]) == (
        "app", "s@cret", "db.local", "5433",
    )  # fmt: skip
    assert config["NAME"] == "opencity"
    with pytest.raises(ImproperlyConfigured, match="not supported"):
        parse_database_url("mysql://x/y", base_dir=ROOT)
    with pytest.raises(ImproperlyConfigured, match="must name a database"):
        parse_database_url("postgres://host/", base_dir=ROOT)


def _load_settings(**env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DEBUG"))}
    for key in (
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "DATABASE_URL",
        "REDIS_URL",
        "CELERY_TASK_ALWAYS_EAGER",
    ):
        clean.pop(key, None)
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('loaded')"],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


PRODUCTION = {
    "DJANGO_ENV": "production",
    "DJANGO_SETTINGS_MODULE": "opencity.settings",
    "SECRET_KEY": "x" * 60,
    "ALLOWED_HOSTS": "opencity.example.org",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/opencity",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SITE_URL": "https://opencity.example.org",
    "LEDGER_SIGNING_KEY": "b3BlbmNpdHktdGVzdC1sZWRnZXIta2V5LTMyLWJ5dGU=",
    "IDENTITY_HMAC_KEY": "b3BlbmNpdHktdGVzdC1pZGVudGl0eS1rZXktMzItYnl0ZXM=",
}


def test_production_settings_load_with_the_required_variables():
    result = _load_settings(**PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "loaded" in result.stdout


@pytest.mark.parametrize(
    "override,message",
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is required"),
        ({"SECRET_KEY": "short"}, "at least 50 characters"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS is required"),
        ({"ALLOWED_HOSTS": "*"}, "may not be '\\*'"),
        ({"DEBUG": "1"}, "DEBUG must be off"),
        ({"DEBUG": "perhaps"}, "DEBUG='perhaps' is not a boolean"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL must look like"),
        ({"DATABASE_URL": ""}, "DATABASE_URL \\(PostgreSQL\\) is required"),
        ({"DJANGO_ENV": "staging"}, "must be one of development, test, production"),
        ({"LEDGER_SIGNING_KEY": ""}, "LEDGER_SIGNING_KEY is required"),
        ({"LEDGER_SIGNING_KEY": "c2hvcnQ="}, "LEDGER_SIGNING_KEY must be 32 bytes"),
        ({"IDENTITY_HMAC_KEY": ""}, "IDENTITY_HMAC_KEY is required"),
        ({"IDENTITY_HMAC_KEY": "c2hvcnQ="}, "IDENTITY_HMAC_KEY must be at least 32 bytes"),
        ({"IDENTITY_HMAC_KEY": "not base64!"}, "IDENTITY_HMAC_KEY must be base64"),
    ],
)
def test_production_refuses_unsafe_or_malformed_settings(override, message):
    result = _load_settings(**{**PRODUCTION, **override})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert re.search(message, result.stderr), result.stderr[-500:]


def test_development_defaults_to_sqlite_and_eager_tasks():
    result = subprocess.run(
        [sys.executable, "-c",
         "import django; django.setup(); from django.conf import settings as s; "
         "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, "
         "s.CACHES['default']['BACKEND'], s.LANGUAGE_CODE, s.TIME_ZONE)"],
        cwd=ROOT, env={k: v for k, v in os.environ.items()
                       if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_ENV", "CACHE_REDIS_URL")},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3", "True",
        "django.core.cache.backends.locmem.LocMemCache", "uk", "Europe/Kyiv",
    ]  # fmt: skip


def test_importing_the_app_opens_no_connection_for_preforked_workers():
    """deploy/gunicorn.conf.py preloads the app in the master and forks workers from it: a
    database or Redis socket opened at import time would be shared by every worker."""
    probe = (
        "import os, opencity.wsgi, opencity.celery\n"
        "from django.urls import get_resolver\n"
        "get_resolver().url_patterns\n"  # the URLconf and every view module, as a request would
        "print('templates', opencity.wsgi.warm_up())\n"  # what the master does before forking
        "links = []\n"
        "for fd in os.listdir('/proc/self/fd'):\n"
        "    try: links.append(os.readlink(f'/proc/self/fd/{fd}'))\n"
        "    except FileNotFoundError: pass\n"  # the listing's own descriptor, closed
        "print('sockets', sum(link.startswith('socket:') for link in links))\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DEBUG"))},
        **PRODUCTION,
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/opencity"
        ),
    }
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "sockets 0" in result.stdout, result.stdout
    templates = int(re.search(r"templates (\d+)", result.stdout).group(1))
    assert templates > 200, result.stdout  # the project's, the apps' and the admin's
    config = (ROOT / "deploy" / "gunicorn.conf.py").read_text()
    assert re.search(r"^preload_app = True$", config, re.M)
    assert "warm_up()" in config.split("def when_ready(server)")[1]


@pytest.mark.parametrize(
    ("url", "worker", "expected"),
    [
        ("redis://127.0.0.1:6379/1", "", "redis://127.0.0.1:6379/1"),
        ("redis://127.0.0.1:6379/1", "gw0", "redis://127.0.0.1:6379/1"),
        ("redis://127.0.0.1:6379/1", "gw1", "redis://127.0.0.1:6379/3"),
        ("redis://127.0.0.1:6379/2", "gw1", "redis://127.0.0.1:6379/4"),
        ("redis://127.0.0.1:6379/2", "gw3", "redis://127.0.0.1:6379/8"),
        ("redis://cache.internal:6379", "gw1", "redis://cache.internal:6379/2"),
        (
            "rediss://:pw@cache:6380/0?ssl_cert_reqs=none",
            "gw1",
            "rediss://:pw@cache:6380/2?ssl_cert_reqs=none",
        ),
    ],
)
def test_each_test_process_has_redis_databases_of_its_own(url, worker, expected):
    """bin/test runs two pytest-xdist workers; the second one's broker (db 1) and cache (db
    2) become 3 and 4, never the first one's."""
    assert redis_url_for_test_worker(url, worker) == expected


def test_the_running_test_process_uses_its_own_redis_databases(settings):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("the suite runs without Redis here (bin/test always gives one)")

    def database(url: str) -> int:
        return int(url.rsplit("/", 1)[1])

    moved = 2 * parallel.INDEX
    given_cache = os.environ.get("CACHE_REDIS_URL") or os.environ["REDIS_URL"]
    assert database(settings.CELERY_BROKER_URL) == database(os.environ["REDIS_URL"]) + moved
    assert database(settings.CACHES["default"]["LOCATION"]) == database(given_cache) + moved
