"""The Nu Html Checker (npm `vnu-jar`) on every HTML page the browser tests are served.

Every text/html response the live server sends while a `browser` test runs is recorded as
served (POST results included), and checked after the test by one long-running vnu server
(`java -cp vnu.jar nu.validator.servlet.Main`, started once per session in the background:
its start-up costs ~15 s, a page then ~50 ms). Any error fails the test.
"""

from __future__ import annotations

import gzip
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests import parallel

ROOT = Path(__file__).resolve().parents[2]
VNU_JAR = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


class _Checker:
    def __init__(self, log: Path) -> None:
        java = shutil.which("java")
        if not java:
            pytest.fail("Java is missing: bin/test installs it with apt-get")
        if not VNU_JAR.exists():
            pytest.fail("vnu.jar is missing: bin/test installs it with npm ci")
        self.port = _spare_port()
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [java, "-Xss16m", "-Dnu.validator.servlet.bind-address=127.0.0.1",
                 "-cp", str(VNU_JAR), "nu.validator.servlet.Main", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.ready = False

    def _wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready:
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"vnu did not start:\n{self.log.read_text(errors='replace')[-2000:]}")
            self.ready = "Checker service started" in self.log.read_text(errors="replace")
            if not self.ready:
                time.sleep(0.2)

    def errors(self, html: bytes) -> list[str]:
        self._wait_ready()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/?out=json",
            data=html,
            headers={"Content-Type": "text/html; charset=utf-8"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (local)
            messages = json.load(response)["messages"]
        return [
            f"line {m.get('lastLine')}: {m['message']} [{m.get('extract', '').strip()}]"
            for m in messages
            if m["type"] == "error" or m.get("subType") == "fatal"
        ]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _spare_port() -> int:
    for port in parallel.ports(80, 100):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail("no spare port for vnu")


@pytest.fixture(scope="session")
def _html_checker(tmp_path_factory):
    checker = _Checker(tmp_path_factory.mktemp("vnu") / "vnu.log")
    yield checker
    checker.stop()


@pytest.fixture
def html_of_visited_pages_is_valid(_html_checker, monkeypatch):
    """Record every HTML page served during the test; fail the test on any vnu error."""
    from django.core.handlers.base import BaseHandler

    served: list[tuple[str, bytes]] = []
    original = BaseHandler.get_response

    def recording_get_response(self, request):
        response = original(self, request)
        content_type = response.get("Content-Type", "")
        is_page = content_type.startswith("text/html") and not 300 <= response.status_code < 400
        if is_page and not response.streaming and response.content:
            body = response.content
            if response.get("Content-Encoding") == "gzip":  # cached pages are stored gzipped
                body = gzip.decompress(body)
            served.append((f"{request.method} {request.get_full_path()}", body))
        return response

    monkeypatch.setattr(BaseHandler, "get_response", recording_get_response)
    yield served
    monkeypatch.undo()
    problems = []
    for page, html in served:
        errors = _html_checker.errors(html)
        if errors:
            problems.append(f"{page}:\n  " + "\n  ".join(errors[:10]))
    assert not problems, "invalid HTML (Nu Html Checker):\n" + "\n".join(problems)
