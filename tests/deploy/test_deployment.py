"""The README's deployment (deploy/): nginx with TLS → gunicorn, Celery worker and beat, all
started from the files in deploy/ with only ports and paths replaced, on production settings.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from opencity.core.models import OutboundEmail
from tests.deploy.conftest import SERVER_NAME, _wait_for_port, spare_port
from tests.factories import make_user
from tests.petitions.factories import make_petition

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
VENV_BIN = Path(sys.executable).parent
QUEUES = re.compile(r"\.> (\w+) +exchange=")  # the queues in a Celery worker's banner
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

pytestmark = pytest.mark.django_db(transaction=True)


def unit_command(unit: str, *, port: int, var: Path) -> list[str]:
    """The unit's ExecStart with the install paths and the port replaced."""
    text = (UNITS / unit).read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("ExecStart="))
    command = line.removeprefix("ExecStart=")
    command = command.replace("/srv/opencity/venv/bin/", f"{VENV_BIN}/")
    command = command.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    command = command.replace("/srv/opencity/var/", f"{var}/")
    command = command.replace("%%", "%")  # systemd's escape for a literal % (celery's %h)
    return shlex.split(command)


@pytest.fixture
def production_env(tmp_path):
    db = connection.settings_dict
    # This test process's Redis databases (moved per worker when the suite runs in parallel).
    redis = settings.CELERY_BROKER_URL
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO", "DEBUG", "PYTEST", "CELERY"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="opencity.settings",
        DJANGO_ENV="production",
        SECRET_KEY="d3pl0y-t3st-" + "Zq8#mX2!vR7$kL4^" * 4,
        ALLOWED_HOSTS=SERVER_NAME,
        SITE_URL=f"https://{SERVER_NAME}",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}",
        REDIS_URL=redis,
        CACHE_REDIS_URL=settings.CACHES["default"]["LOCATION"],
        TRUST_X_FORWARDED_PROTO="1",
        TRUSTED_PROXIES="127.0.0.1",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        MEDIA_ROOT=str(tmp_path / "media"),
        PRIVATE_FILES_ROOT=str(tmp_path / "private"),
        LEDGER_SIGNING_KEY="b3BlbmNpdHktdGVzdC1sZWRnZXIta2V5LTMyLWJ5dGU=",
        IDENTITY_HMAC_KEY="b3BlbmNpdHktdGVzdC1pZGVudGl0eS1rZXktMzItYnl0ZXM=",
        LOG_LEVEL="WARNING",
    )
    return env


class Processes:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.running: list[subprocess.Popen] = []

    def start(self, name: str, argv: list[str], env: dict) -> tuple[subprocess.Popen, Path]:
        log = self.tmp / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.running.append(process)
        return process, log

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def processes(tmp_path):
    running = Processes(tmp_path)
    yield running
    running.stop_all()


def test_deployment_example_serves_through_nginx_with_tls_and_delivers_mail(
    tmp_path, nginx, production_env, processes, city_a
):
    petition = make_petition(city_a)
    make_user(email="resident@example.org", full_name="Ірина Мешканка")
    web_port = spare_port()
    proxy = nginx(web_port)
    env = {**production_env, "STATIC_ROOT": str(proxy.static_root)}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT, env=env, check=True, timeout=120,
    )  # fmt: skip
    (tmp_path / "var").mkdir()
    web, web_log = processes.start(
        "web", unit_command("opencity-web.service", port=web_port, var=tmp_path / "var"), env
    )
    _wait_for_port(web_port, web, web_log, timeout=60)

    # https through nginx: answered, not redirected again (TRUST_X_FORWARDED_PROTO).
    home = proxy.request("GET", "/")
    assert home.status == 200, home.text[:500]
    assert "Strict-Transport-Security" in home.headers
    # Plain http is moved to https by nginx; the health check answers on http for probes.
    moved = proxy.plain_request("GET", "/petitions/?page=2")
    assert moved.status == 301
    assert moved.headers["Location"] == f"https://{SERVER_NAME}/petitions/?page=2"
    assert proxy.plain_request("GET", "/healthz").status == 200

    # Static files come from collectstatic's output, served by nginx with a long lifetime.
    stylesheet = re.search(r'href="(/static/css/site\.[0-9a-f]+\.css)"', home.text).group(1)
    css = proxy.request("GET", stylesheet)
    assert css.status == 200
    assert "max-age=31536000" in ", ".join(css.headers.get_all("Cache-Control"))
    assert "--blue" in css.text

    # Share links name SITE_URL, not the address gunicorn listens on.
    page = proxy.request("GET", f"/petitions/{petition.pk}/")
    assert page.status == 200
    assert f"https://{SERVER_NAME}/petitions/{petition.pk}/" in page.text
    assert f"127.0.0.1:{web_port}" not in page.text

    # A form posted over https passes CSRF (the origin is https) and its mail goes out through
    # the Celery worker started from its unit; beat starts from its unit too.
    worker, worker_log = processes.start(
        "worker", unit_command("opencity-worker.service", port=web_port, var=tmp_path / "var"),
        env,
    )  # fmt: skip
    beat, beat_log = processes.start(
        "beat", unit_command("opencity-beat.service", port=web_port, var=tmp_path / "var"), env
    )
    # Followers' notices have a worker of their own, at a lower CPU priority (the unit's
    # Nice= and CPUWeight=, which systemd applies; here it is started as it is written).
    bulk_unit = (UNITS / "opencity-bulk.service").read_text()
    assert "\nNice=10\n" in bulk_unit and "\nCPUWeight=20\n" in bulk_unit
    bulk, bulk_log = processes.start(
        "bulk", unit_command("opencity-bulk.service", port=web_port, var=tmp_path / "var"), env
    )
    form = proxy.request("GET", "/accounts/password/reset/")
    assert "Secure" in form.headers["Set-Cookie"]
    answer = proxy.request(
        "POST", "/accounts/password/reset/",
        headers={"Origin": f"https://{SERVER_NAME}",
                 "Referer": f"https://{SERVER_NAME}/accounts/password/reset/"},
        cookies={"csrftoken": form.cookies()["csrftoken"]},
        form={"csrfmiddlewaretoken": CSRF_INPUT.search(form.text).group(1),
              "email": "resident@example.org"},
    )  # fmt: skip
    assert answer.status == 302, answer.text[:800]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        mail = OutboundEmail.objects.filter(to="resident@example.org").first()
        if mail and mail.status == OutboundEmail.Status.SENT:
            break
        assert worker.poll() is None, worker_log.read_text()[-2000:]
        time.sleep(0.5)
    else:
        pytest.fail(f"mail not delivered by the worker:\n{worker_log.read_text()[-2000:]}")
    assert f"https://{SERVER_NAME}/accounts/password/reset/key/" in mail.body_text
    assert (tmp_path / "var" / "celerybeat-schedule").exists() or "Starting" in (
        beat_log.read_text()
    )
    assert beat.poll() is None, beat_log.read_text()[-2000:]
    # Each worker consumes its own queues: the bulk one only `bulk`, the main one the rest.
    deadline = time.monotonic() + 30
    while "ready." not in bulk_log.read_text() and time.monotonic() < deadline:
        assert bulk.poll() is None, bulk_log.read_text()[-2000:]
        time.sleep(0.5)
    banner = bulk_log.read_text()
    assert "bulk@" in banner and "ready." in banner, banner[-2000:]
    assert QUEUES.findall(banner) == ["bulk"], banner[-2000:]
    assert QUEUES.findall(worker_log.read_text()) == ["celery", "mail"]
