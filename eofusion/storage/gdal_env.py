"""The one place GDAL is configured for reading remote files (https://, s3://, gs://, az://).

Applied once per process, on the client and in every Dask worker (the cube reader calls it before its first
read), as environment variables, so that it holds for every thread without re-entering an ``Env`` per read.
A value the user set in the environment always wins: these are only defaults.
"""

from __future__ import annotations

import functools
import os
from typing import Any
from urllib.parse import urlsplit

# Defaults for cloud-optimised reads (process-wide: none of them changes how a local file is read):
# - the first 32 KiB fetched at open (a COG's header and tile index in one request);
# - consecutive ranges merged and HTTP/2 multiplexing where the server offers it;
# - GDAL's own retries of 429/5xx and connection failures, with exponential backoff from 1 s.
CLOUD_READ_DEFAULTS: dict[str, str] = {
    "GDAL_INGESTED_BYTES_AT_OPEN": "32768",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
    "GDAL_HTTP_MAX_RETRY": "4",
    "GDAL_HTTP_RETRY_DELAY": "1",
    "GDAL_HTTP_TIMEOUT": "120",
    "GDAL_HTTP_CONNECTTIMEOUT": "20",
}
# Set only while a remote file is opened: no directory listing and no sidecar probes (.aux.xml, .msk, .ovr)
# beside it. Process-wide it would also hide a local file's sidecars (its PAM class names, external overviews).
REMOTE_OPEN_OPTIONS: dict[str, str] = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}


def raster_env(href: str) -> Any:
    """The ``rasterio.Env`` to open ``href`` in: rasterio's defaults, :data:`REMOTE_OPEN_OPTIONS` for a URL, a session.

    The session is given, never left to rasterio: without one, every ``rasterio.open`` (and every ``with``
    on a dataset) outside an ``Env`` builds a new boto3 session whenever AWS credentials are in the environment
    (~0.1 s of CPU each; it was half the CPU of a job that reads local or HTTP files and writes to a bucket).
    An ``s3://`` href gets one AWS session per process and set of ``AWS_*`` variables; any other href a session
    that adds nothing (GDAL reads its own options from the environment).
    """
    import rasterio
    from rasterio.session import AWSSession, DummySession, Session

    remote = "://" in href
    options = {k: v for k, v in REMOTE_OPEN_OPTIONS.items() if k not in os.environ} if remote else {}
    session: Any = DummySession()
    if remote and Session.cls_from_path(href) is AWSSession:
        session = _aws_session(tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_"))))
    return rasterio.Env.from_defaults(session=session, **options)


_AWS_SESSIONS: dict[tuple[tuple[str, str], ...], Any] = {}


def _aws_session(variables: tuple[tuple[str, str], ...]) -> Any:
    """rasterio's session from the environment, kept per set of ``AWS_*`` variables once it has credentials.

    One without (expired, or none yet) is not kept: the next open asks again. boto3 refreshes expiring
    credentials of a kept session itself (under its own lock, so threads may share it).
    """
    from rasterio.session import AWSSession, Session

    found = _AWS_SESSIONS.get(variables)
    if found is None:
        found = Session.from_environ()
        if isinstance(found, AWSSession) and found.credentials:
            _AWS_SESSIONS[variables] = found
    return found


def open_raster(href: str, **kwargs: Any) -> Any:
    """``rasterio.open`` in :func:`raster_env` (enter the dataset's ``with`` inside it too: it builds a session)."""
    import rasterio

    with raster_env(href):
        return rasterio.open(href, **kwargs)


def _s3_endpoint_options(environ: dict[str, str]) -> dict[str, str]:
    """GDAL's S3 options derived from ``AWS_ENDPOINT_URL`` (the variable the AWS SDKs and obstore read).

    GDAL predates that variable and wants ``AWS_S3_ENDPOINT`` (host[:port]), ``AWS_HTTPS`` and path-style
    addressing for S3-compatible servers (MinIO, Ceph, moto...).
    """
    url = environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL")
    if not url or "AWS_S3_ENDPOINT" in environ:
        return {}
    parts = urlsplit(url)
    options = {"AWS_S3_ENDPOINT": parts.netloc or parts.path, "AWS_VIRTUAL_HOSTING": "FALSE"}
    if parts.scheme == "http":
        options["AWS_HTTPS"] = "NO"
    return options


def cloud_read_options(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The GDAL options eofusion sets for remote reads, minus those the environment already sets."""
    env = dict(os.environ if environ is None else environ)
    options = {**CLOUD_READ_DEFAULTS, **_s3_endpoint_options(env)}
    return {k: v for k, v in options.items() if k not in env}


@functools.cache
def configure_gdal_for_cloud() -> dict[str, str]:
    """Apply :func:`cloud_read_options` to this process (once); returns what was set.

    Set as environment variables, which GDAL reads whenever no config option overrides them: they hold in
    every thread, survive a ``rasterio.Env`` that sets and restores its own options around a write, and are
    inherited by the Dask worker processes a LocalCluster starts afterwards.
    """
    options = cloud_read_options()
    for key, value in options.items():
        os.environ.setdefault(key, value)
    return options
