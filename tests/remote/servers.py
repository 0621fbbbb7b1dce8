"""Real servers for the remote-I/O tests, started on 127.0.0.1 and stopped by the tests themselves.

- :func:`s3_server`: moto's standalone S3 API (``moto_server``, the server zarr's and s3fs's own suites use).
- :func:`nginx_server`: Debian's nginx serving a folder with range requests; its access log records the bytes
  sent per request (what the HTTP benchmark counts).
- :class:`FaultProxy`: an HTTP proxy in front of nginx that injects the failures clouds produce (503s, slow
  answers, bodies cut short, 403s), deterministically, so a test knows what it provoked.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

STARTUP_TIMEOUT_S = 30.0
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MOTO = Path(sys.executable).with_name("moto_server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError as err:
            if getattr(err, "code", None):  # an HTTP error answer: the server is up
                return
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer at {url} within {STARTUP_TIMEOUT_S} s")


def missing_requirements() -> str | None:
    """Why these servers cannot run here (None when they can)."""
    if not Path(NGINX).exists():
        return "nginx is missing: apt-get install -y --no-install-recommends nginx-light"
    if not MOTO.exists():
        return "moto_server is missing: pip install -e '.[server]'"
    try:
        import obstore  # noqa: F401
    except ImportError:
        return "obstore is missing: pip install -e '.[cloud]'"
    return None


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    @property
    def env(self) -> dict[str, str]:
        """The standard environment of an S3 client of this server (dummy credentials)."""
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
        }

    def client(self) -> Any:
        """A boto3 S3 client of this server (what the tests use to create and list buckets)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def keys(self, bucket: str, prefix: str = "") -> dict[str, int]:
        """Key -> size of every object under ``prefix``."""
        client = self.client()
        out: dict[str, int] = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            out.update({o["Key"]: int(o["Size"]) for o in page.get("Contents", [])})
        return out


@contextlib.contextmanager
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server on a free port; yields its endpoint and environment."""
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="eofusion-moto-"))
    log = workdir / "moto.log"
    with _serving([str(MOTO), "-H", "127.0.0.1", "-p", str(port)], port, workdir, log):
        yield S3Server(f"http://127.0.0.1:{port}")


@contextlib.contextmanager
def _serving(cmd: list[str], port: int, workdir: Path, log: Path) -> Iterator[None]:
    """Run a server process until the block ends (its output in ``log``); remove ``workdir`` afterwards."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=out)
    try:
        _wait_http(f"http://127.0.0.1:{port}/", proc, log)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class NginxServer:
    url: str
    access_log: Path

    def bytes_sent(self) -> int:
        """Body bytes nginx sent since the log was last reset."""
        if not self.access_log.exists():
            return 0
        return sum(int(line.split()[-1]) for line in self.access_log.read_text().splitlines() if line.strip())

    def requests(self) -> int:
        return len(self.access_log.read_text().splitlines()) if self.access_log.exists() else 0

    def reset_log(self) -> None:
        self.access_log.write_text("")  # nginx appends to the same open file: truncating it restarts the count


_NGINX_CONF = """\
daemon off;
worker_processes 2;
pid {work}/nginx.pid;
error_log {work}/error.log;
{user}
events {{ worker_connections 256; }}
http {{
    log_format bytes '$request_uri $status $body_bytes_sent';
    access_log {work}/access.log bytes;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    types {{ image/tiff tif tiff; application/json json; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ }}
    }}
}}
"""


@contextlib.contextmanager
def nginx_server(root: Path) -> Iterator[NginxServer]:
    """nginx serving ``root`` (range requests are nginx's default for static files)."""
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="eofusion-nginx-"))
    user = "user root;" if os.geteuid() == 0 else ""
    conf = _NGINX_CONF.format(work=work, port=port, root=root.resolve(), user=user)
    (work / "nginx.conf").write_text(conf)
    with _serving([NGINX, "-c", str(work / "nginx.conf"), "-p", str(work)], port, work, work / "error.log"):
        yield NginxServer(f"http://127.0.0.1:{port}", work / "access.log")


@dataclass
class Faults:
    """What the proxy does to requests (deterministic: the n-th request of a kind, not a random share)."""

    every_nth_503: int = 0  # every n-th request answers 503 (0: never)
    slow_s: float = 0.0  # the first request of each path waits this long before answering
    truncate_first: tuple[str, ...] = ()  # path fragments whose first ranged answer is cut in half
    deny: tuple[str, ...] = ()  # path fragments answered 403
    outage: tuple[str, ...] = ()  # path fragments whose first ``outage_n`` requests answer 503 (an outage)
    outage_n: int = 0
    seen: Counter[str] = field(default_factory=Counter)
    provoked: Counter[str] = field(default_factory=Counter)
    log: list[tuple[str, str, str, int]] = field(default_factory=list)  # (method, path, action, status)


class FaultProxy:
    """A forwarding HTTP proxy to ``upstream`` that injects :class:`Faults`."""

    def __init__(self, upstream: str, faults: Faults | None = None) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.faults = faults or Faults()
        self._lock = threading.Lock()
        self._count = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                proxy._handle(self, "HEAD")

            def do_GET(self) -> None:
                proxy._handle(self, "GET")

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _decide(self, path: str) -> str:
        f = self.faults
        with self._lock:
            self._count += 1
            n = self._count
            f.seen[path] += 1
            first = f.seen[path] == 1
        if any(d in path for d in f.deny):
            return "deny"
        if f.seen[path] <= f.outage_n and any(o in path for o in f.outage):
            return "503"
        if f.every_nth_503 and n % f.every_nth_503 == 0:
            return "503"
        if first and any(t in path for t in f.truncate_first):
            return "truncate"
        if first and f.slow_s:
            return "slow"
        return "pass"

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        action = self._decide(handler.path)
        if action != "pass":
            with self._lock:
                self.faults.provoked[action] += 1
        if action in ("deny", "503"):
            self.faults.log.append((method, handler.path, action, 403 if action == "deny" else 503))
        if action in ("deny", "503"):
            status = 403 if action == "deny" else 503
            body = b"denied" if action == "deny" else b"busy"
            handler.send_response(status)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            if method == "GET":
                handler.wfile.write(body)
            return
        if action == "slow":
            time.sleep(self.faults.slow_s)
        conn = http.client.HTTPConnection(self.upstream, timeout=30)
        headers = {k: v for k, v in handler.headers.items() if k.lower() in ("range", "accept", "if-none-match")}
        conn.request(method, handler.path, headers=headers)
        answer = conn.getresponse()
        body = answer.read()
        conn.close()
        self.faults.log.append((method, handler.path, action, answer.status))
        handler.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() in ("content-type", "content-range", "accept-ranges", "last-modified", "etag"):
                handler.send_header(key, value)
        length = answer.getheader("Content-Length") if method == "HEAD" else str(len(body))
        handler.send_header("Content-Length", length or "0")
        if action == "truncate" and method == "GET" and len(body) > 1:
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(body[: len(body) // 2])  # the promised length never arrives
            handler.wfile.flush()
            handler.close_connection = True
            return
        handler.end_headers()
        if method == "GET":
            handler.wfile.write(body)
