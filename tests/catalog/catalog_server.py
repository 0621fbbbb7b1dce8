"""Real servers for the catalog tests: stac-fastapi-pgstac on PostgreSQL + PostGIS, and a failing HTTP server.

The STAC API runs exactly as documented in ../shared/INSTALL.md: initdb (as user postgres when run as
root) -> pg_ctl on 127.0.0.1 -> CREATE EXTENSION postgis -> pypgstac migrate -> load -> uvicorn
``stac_fastapi.pgstac.app:create_app --factory``. Everything is stopped and removed afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PG_BIN = Path("/usr/lib/postgresql/15/bin")
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")
STARTUP_TIMEOUT_S = 60.0


def missing_requirements() -> str | None:
    """Why the STAC API server cannot run here (None when it can)."""
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not (PG_BIN / tool).exists():
            return f"PostgreSQL 15 binaries are missing ({PG_BIN / tool})"
    if not POSTGIS_CONTROL.exists():
        return (
            "PostGIS is not installed: apt-get update && apt-get install -y --no-install-recommends "
            "postgresql-15-postgis-3"
        )
    try:
        import pypgstac  # noqa: F401
        import stac_fastapi.pgstac  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:
        return f"the server extra is not installed ({err}): pip install -e '.[server]'"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool; as root it must run as user postgres (initdb refuses root)."""
    if os.geteuid() == 0:
        cmd = ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(_quote(c) for c in cmd)]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120, **kwargs)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


@contextlib.contextmanager
def pgstac_api(collections: list[dict[str, Any]], items: list[dict[str, Any]]) -> Iterator[str]:
    """A running STAC API loaded with ``collections`` and ``items``; yields its URL, stops it on exit."""
    workdir = Path(tempfile.mkdtemp(prefix="eofusion-pgstac-"))
    data_dir = workdir / "data"
    uvicorn_proc: subprocess.Popen[bytes] | None = None
    started = False
    port_pg, port_api = free_port(), free_port()
    try:
        if os.geteuid() == 0:
            shutil.chown(workdir, "postgres", "postgres")
        _as_postgres([str(PG_BIN / "initdb"), "-D", str(data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        options = f"-h 127.0.0.1 -p {port_pg} -k {workdir}"
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data_dir), "-o", options, "-l", str(workdir / "pg.log"),
                      "-w", "-t", "60", "start"])  # fmt: skip
        started = True
        env = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(port_pg), "PGUSER": "postgres",
               "PGPASSWORD": "unused", "PGDATABASE": "postgis"}  # fmt: skip
        _prepare_database(env, collections, items, workdir)
        log = (workdir / "uvicorn.log").open("wb")
        uvicorn_proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "stac_fastapi.pgstac.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port_api)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port_api}"
        _wait_ready(url, uvicorn_proc, workdir / "uvicorn.log")
        yield url
    finally:
        if uvicorn_proc is not None:
            uvicorn_proc.terminate()
            try:
                uvicorn_proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                uvicorn_proc.kill()
                uvicorn_proc.wait(timeout=5)
        if started:
            with contextlib.suppress(subprocess.SubprocessError):
                _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"])
        shutil.rmtree(workdir, ignore_errors=True)


def _prepare_database(env: dict[str, str], collections: list[dict[str, Any]], items: list[dict[str, Any]],
                      workdir: Path) -> None:  # fmt: skip
    import psycopg
    from pypgstac.db import PgstacDB
    from pypgstac.load import Loader, Methods
    from pypgstac.migrate import Migrate

    base = f"postgresql://postgres@127.0.0.1:{env['PGPORT']}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE postgis")
    with psycopg.connect(f"{base}/postgis", autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
    collections_file = workdir / "collections.ndjson"
    items_file = workdir / "items.ndjson"
    collections_file.write_text("\n".join(json.dumps(c) for c in collections))
    items_file.write_text("\n".join(json.dumps(i) for i in items))
    with PgstacDB(dsn=f"{base}/postgis") as db:
        Migrate(db).run_migration()
        loader = Loader(db)
        loader.load_collections(str(collections_file), Methods.insert_ignore)
        loader.load_items(str(items_file), Methods.insert_ignore)


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/collections", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"STAC API at {url} not ready after {STARTUP_TIMEOUT_S:g} s:\n{log.read_text()[-3000:]}")


class FailingServer:
    """An HTTP server on 127.0.0.1 answering requests with one error status; counts the requests.

    With ``landing=True`` it serves a valid STAC API landing page on ``GET /`` (so a client opens it) and
    fails only the searches: what a real API does when its database is overloaded. ``body`` replaces the
    answer's body (e.g. status 200 with a body that is not JSON, or not valid STAC).
    """

    def __init__(
        self, status: int = 503, landing: bool = False, delay_s: float = 0.0, body: bytes | None = None
    ) -> None:
        self.status = status
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if landing and self.command == "GET" and self.path.rstrip("/") == "":
                    self._send(200, json.dumps(_landing(owner.url)).encode())
                    return
                owner.requests.append(f"{self.command} {self.path}")
                time.sleep(delay_s)  # longer than the client's timeout: a hanging server
                self._send(owner.status, body or b'{"code": "Unavailable", "description": "try later"}')

            def _send(self, status: int, body: bytes) -> None:
                with contextlib.suppress(OSError):  # the client may have given up (timeout) already
                    self._write(status, body)

            def _write(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer  # noqa: N815 - http.server's naming

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FailingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _landing(url: str) -> dict[str, Any]:
    return {
        "type": "Catalog",
        "stac_version": "1.0.0",
        "id": "failing",
        "description": "a STAC API whose searches fail",
        "conformsTo": [
            "https://api.stacspec.org/v1.0.0/core",
            "https://api.stacspec.org/v1.0.0/item-search",
            "https://api.stacspec.org/v1.0.0/collections",
        ],
        "links": [
            {"rel": "self", "href": url, "type": "application/json"},
            {"rel": "root", "href": url, "type": "application/json"},
            {"rel": "search", "href": f"{url}/search", "type": "application/geo+json", "method": "POST"},
            {"rel": "search", "href": f"{url}/search", "type": "application/geo+json", "method": "GET"},
        ],
    }
