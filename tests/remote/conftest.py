"""Remote I/O fixtures: an S3-compatible server (moto) and nginx over ../shared/data, per test module."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import NginxServer, S3Server, missing_requirements, nginx_server, s3_server

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="module")
def servers_available() -> None:
    why = missing_requirements()
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"remote I/O servers cannot run: {why}")
        pytest.skip(why)


@pytest.fixture(scope="module")
def s3(servers_available: None) -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture
def s3_env(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The S3 server's standard environment set for this test (obstore and GDAL read it)."""
    for key, value in s3.env.items():
        monkeypatch.setenv(key, value)
    return s3


@pytest.fixture(scope="module")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SHARED_DATA} is missing")
        pytest.skip(f"{SHARED_DATA} is missing")
    return SHARED_DATA


@pytest.fixture(scope="module")
def nginx(servers_available: None, shared_data: Path) -> Iterator[NginxServer]:
    with nginx_server(shared_data) as server:
        yield server
