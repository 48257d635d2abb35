"""A real nginx in front of the application, configured from deploy/nginx/opencity.conf.

The `nginx` fixture writes the site file with only its ports and paths replaced (TLS with a
throw-away certificate, static files from a temporary STATIC_ROOT), starts nginx as a
foreground child on spare ports in 9700-9799 and stops it after the test. bin/test installs
nginx when it is missing.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests import parallel

ROOT = Path(__file__).resolve().parents[2]
SITE_CONFIG = ROOT / "deploy" / "nginx" / "opencity.conf"
SERVER_NAME = "opencity.example.org"
# The last 20 of the worker's ports are the HTML checker's (tests/browser/html_validation.py).
PORT_RANGE = parallel.ports(0, 80)


def spare_port(host: str = "127.0.0.1", exclude: tuple[int, ...] = ()) -> int:
    for port in PORT_RANGE:
        if port in exclude:
            continue
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    pytest.fail(f"no spare port in {PORT_RANGE[0]}-{PORT_RANGE[-1]}")


def _wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"process exited early:\n{log.read_text(errors='replace')[-3000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"nothing answered on port {port}:\n{log.read_text(errors='replace')[-3000:]}")


def site_config(*, http_port: int, https_port: int, upstream_port: int, root: Path) -> str:
    """deploy/nginx/opencity.conf with only ports and paths replaced."""
    text = SITE_CONFIG.read_text()
    replacements = [
        (r"listen \[::\]:\d+[^;]*;\n", ""),  # the test machine may have no IPv6
        (r"listen 80;", f"listen 127.0.0.1:{http_port};"),
        (r"listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl"),
        (r"server 127\.0\.0\.1:8000;", f"server 127.0.0.1:{upstream_port};"),
        (r"/etc/ssl/opencity/", f"{root}/ssl/"),
        (r"/srv/opencity/", f"{root}/srv/"),
    ]
    for pattern, replacement in replacements:
        text, count = re.subn(pattern, replacement, text)
        assert count, f"deploy/nginx/opencity.conf no longer has {pattern!r}"
    return text


@dataclass
class Nginx:
    http_port: int
    https_port: int
    root: Path
    process: subprocess.Popen
    static_root: Path = field(init=False)

    def __post_init__(self) -> None:
        self.static_root = self.root / "srv" / "static"

    def request(self, method: str, path: str, **kwargs) -> Response:
        return http_request(method, "127.0.0.1", self.https_port, path, tls=True, **kwargs)

    def plain_request(self, method: str, path: str, **kwargs) -> Response:
        return http_request(method, "127.0.0.1", self.http_port, path, **kwargs)


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    text: str

    def cookies(self) -> dict[str, str]:
        jar = {}
        for header in self.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            jar[name.strip()] = rest.split(";", 1)[0]
        return jar


def http_request(
    method: str,
    host: str,
    port: int,
    path: str,
    *,
    tls: bool = False,
    source: str | None = None,
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    """One HTTP(S) request from a chosen local address (127.0.0.x stands for a visitor)."""
    source_address = (source, 0) if source else None
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(
            host, port, timeout=30, context=context, source_address=source_address
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=30, source_address=source_address)
    all_headers = {"Host": SERVER_NAME, **(headers or {})}
    if cookies:
        all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    body = None
    if form is not None:
        body = urlencode(form)
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        return Response(response.status, response.headers, response.read().decode(errors="replace"))
    finally:
        conn.close()


def _nginx_binary() -> str:
    path = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if not path:
        pytest.fail("nginx is missing: bin/test installs it with apt-get")
    return path


def _self_signed_certificate(directory: Path) -> None:
    directory.mkdir(parents=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", f"/CN={SERVER_NAME}",
         "-keyout", str(directory / "privkey.pem"), "-out", str(directory / "fullchain.pem")],
        check=True, capture_output=True,
    )  # fmt: skip


@pytest.fixture
def nginx(tmp_path):
    """Start nginx with the deployment's site file in front of `upstream_port`."""
    started: list[subprocess.Popen] = []

    def start(upstream_port: int) -> Nginx:
        root = tmp_path / "nginx"
        for sub in ("srv/static", "srv/media", "temp"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        _self_signed_certificate(root / "ssl")
        http_port = spare_port(exclude=(upstream_port,))
        https_port = spare_port(exclude=(upstream_port, http_port))
        (root / "site.conf").write_text(
            site_config(
                http_port=http_port, https_port=https_port, upstream_port=upstream_port, root=root
            )
        )
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp = root / "temp"
        (root / "nginx.conf").write_text(
            f"""{user}worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 128; }}
http {{
    include /etc/nginx/mime.types;
    access_log {root}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {root}/site.conf;
}}
"""
        )
        log = root / "stderr.log"
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                [_nginx_binary(), "-c", str(root / "nginx.conf"), "-p", str(root), "-e",
                 str(root / "error.log")],
                stdout=stderr, stderr=subprocess.STDOUT,
            )  # fmt: skip
        started.append(process)
        _wait_for_port(https_port, process, root / "error.log")
        return Nginx(http_port, https_port, root, process)

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
