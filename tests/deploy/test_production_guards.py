"""Production cannot start half-configured, and demo or benchmark data never reach it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from opencity.accounts.models import User

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_ENV": "production",
    "DJANGO_SETTINGS_MODULE": "opencity.settings",
    "SECRET_KEY": "k7#Qp2@vLm9!zR4$wT8^yU1&nB6*cX3(eF5)gH0-jD2+sA7%" * 2,
    "ALLOWED_HOSTS": "opencity.example.org",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/opencity",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SITE_URL": "https://opencity.example.org",
    "LEDGER_SIGNING_KEY": "b3BlbmNpdHktdGVzdC1sZWRnZXIta2V5LTMyLWJ5dGU=",
    "IDENTITY_HMAC_KEY": "b3BlbmNpdHktdGVzdC1pZGVudGl0eS1rZXktMzItYnl0ZXM=",
}


def _run(code: str, env: dict, *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DEBUG"))}
    for key in ("SITE_URL", "TRUST_X_FORWARDED_PROTO", "TRUSTED_PROXIES", "SECURE_SSL_REDIRECT"):
        clean.pop(key, None)
    return subprocess.run(
        [sys.executable, *(["-c", code] if code else []), *args],
        cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


SETUP = "import django; django.setup(); from django.conf import settings; print(settings.SITE_URL)"


@pytest.mark.parametrize(
    "site_url,message",
    [
        (None, "SITE_URL is required in production"),
        ("http://opencity.example.org", "must start with https://"),
        ("opencity.example.org", "must be an absolute address"),
    ],
)
def test_production_refuses_to_start_without_an_https_site_url(site_url, message):
    env = {k: v for k, v in PRODUCTION.items() if k != "SITE_URL"}
    if site_url:
        env["SITE_URL"] = site_url
    result = _run(SETUP, env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert re.search(message, result.stderr), result.stderr[-500:]


def test_production_starts_with_an_https_site_url():
    result = _run(SETUP, {**PRODUCTION, "SITE_URL": "https://opencity.example.org/"})
    assert result.returncode == 0, result.stderr[-800:]
    assert result.stdout.strip() == "https://opencity.example.org"


def test_deploy_check_warns_when_https_redirect_runs_behind_an_untrusted_proxy():
    behind_nginx = {**PRODUCTION, "TRUST_X_FORWARDED_PROTO": "1", "TRUSTED_PROXIES": "127.0.0.1"}
    good = _run("", behind_nginx, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert good.returncode == 0, good.stderr[-1500:]
    loop = _run("", PRODUCTION, "manage.py", "check", "--deploy")
    assert "opencity.W001" in loop.stderr + loop.stdout
    no_proxies = {**PRODUCTION, "TRUST_X_FORWARDED_PROTO": "1"}
    shared = _run("", no_proxies, "manage.py", "check", "--deploy")
    assert "opencity.W002" in shared.stderr + shared.stdout


def test_trusted_proxies_refuse_a_malformed_address():
    result = _run(SETUP, {**PRODUCTION, "TRUSTED_PROXIES": "127.0.0.1,nginx.local"})
    assert result.returncode != 0
    assert "TRUSTED_PROXIES has 'nginx.local'" in result.stderr


@pytest.mark.django_db
def test_seed_demo_refuses_under_production_settings(settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="refuses to run with DJANGO_ENV=production"):
        call_command("seed_demo")
    assert not User.objects.filter(email__endswith="@demo.opencity.ua").exists()


def test_benchmark_seeder_is_not_an_app_command_and_refuses_production():
    from django.core.management import get_commands

    assert not [name for name in get_commands() if "bench" in name]
    result = _run("", PRODUCTION, "bench/seed_petitions.py", "--users", "1")
    assert result.returncode != 0
    assert "refuses to run with DJANGO_ENV=production" in result.stderr


ENV_EXAMPLE = ROOT / ".env.example"


def _env_file_values() -> dict[str, str]:
    """The file read as docker --env-file and systemd EnvironmentFile= read it: literally."""
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", key), f"not KEY=value: {line!r}"
        # A quote would be kept by docker and dropped by a shell: the two would differ.
        assert not re.search(r"[\"'`$\\ <>;&|]", value), f"needs quoting in a shell: {line!r}"
        values[key] = value
    return values


def test_env_example_loads_in_a_shell_and_as_an_env_file_alike():
    file_values = _env_file_values()
    script = "set -euo pipefail; set -a; . ./.env.example; set +a; env -0"
    result = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env={"PATH": os.environ["PATH"]},
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    shell = dict(item.split("=", 1) for item in result.stdout.split("\0") if "=" in item)
    assert {key: shell.get(key) for key in file_values} == file_values
    assert shell["DEFAULT_FROM_EMAIL"] == "no-reply@opencity.org.ua"


def test_env_example_as_an_env_file_gives_working_settings():
    env = {k: v for k, v in _env_file_values().items() if v}
    env.pop("DATABASE_URL")  # the example server need not exist for settings to load
    env.pop("REDIS_URL")
    result = _run(SETUP, {**env, "DJANGO_SETTINGS_MODULE": "opencity.settings"})
    assert result.returncode == 0, result.stderr[-800:]
    assert result.stdout.strip() == "http://127.0.0.1:8000"


def test_bin_demo_sets_site_url_from_the_address_it_serves(tmp_path):
    """bin/demo run for real, with a stand-in interpreter that records what it is asked."""
    import hashlib
    import shutil

    (tmp_path / "bin").mkdir()
    (tmp_path / "requirements").mkdir()
    for name in ("bin/demo", "bin/_common.sh", "pyproject.toml", "requirements/constraints.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    digest = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes()
        + (ROOT / "requirements/constraints.txt").read_bytes()
    ).hexdigest()
    (venv / ".installed-demo").write_text(digest + "\n")
    calls = tmp_path / "calls.log"
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\necho "SITE_URL=$SITE_URL $*" >> {calls}\n')
    python.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "PORT": "9791", "HOME": str(tmp_path)}
    result = subprocess.run(
        ["bash", str(tmp_path / "bin" / "demo")], env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "open http://127.0.0.1:9791/ in your browser" in result.stdout
    served = calls.read_text().splitlines()[-1]
    assert served == "SITE_URL=http://127.0.0.1:9791 manage.py runserver 127.0.0.1:9791"
    assert all(
        line.startswith("SITE_URL=http://127.0.0.1:9791 ")
        for line in calls.read_text().splitlines()
    )
