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


def open_raster(href: str, **kwargs: Any) -> Any:
    """``rasterio.open`` with :data:`REMOTE_OPEN_OPTIONS` for a URL (unless the environment sets them)."""
    import rasterio

    if "://" not in href:
        return rasterio.open(href, **kwargs)
    options = {k: v for k, v in REMOTE_OPEN_OPTIONS.items() if k not in os.environ}
    with rasterio.Env(**options):
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
