"""Object stores through obstore: one store per bucket and process, credentials from the standard environment.

Why obstore (the ``cloud`` extra), not fsspec/s3fs: one small Rust-backed layer for S3, GCS and Azure with
the providers' own environment variables (``AWS_*`` including ``AWS_ENDPOINT_URL`` for S3-compatible servers,
``GOOGLE_*``, ``AZURE_*``), retries with backoff on 5xx and timeouts built in, conditional puts, multipart
uploads of large files, and zarr v3's own adapter (:class:`zarr.storage.ObjectStore`); s3fs would pin
aiobotocore/botocore versions against the rest of the stack. An object-store PUT is atomic (an object
appears whole or not at all), which is what our outputs rely on in place of a local rename.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from eofusion.errors import MissingExtraError, OutputLocationError

SCHEMES = ("s3", "gs", "az", "abfs", "abfss")
CREDENTIALS_HELP = (
    "check that the bucket exists and that credentials are in the environment: AWS_ACCESS_KEY_ID / "
    "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), AWS_REGION, AWS_ENDPOINT_URL for an S3-compatible server (with "
    "AWS_ALLOW_HTTP=true for http://); GOOGLE_APPLICATION_CREDENTIALS for gs://; AZURE_STORAGE_ACCOUNT_NAME "
    "and a key or token for az://"
)


def obstore_module() -> Any:
    """The obstore module, or an error naming the extra that installs it."""
    try:
        import obstore
    except ImportError:
        raise MissingExtraError(
            "Object storage (s3://, gs://, az://) needs obstore: pip install 'eofusion[cloud]'."
        ) from None
    return obstore


def split_url(url: str) -> tuple[str, str, str]:
    """``s3://bucket/a/b`` -> (``s3``, ``bucket``, ``a/b``)."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.netloc:
        raise OutputLocationError(f"{url} is not an object-store URL: use s3://bucket/path, gs://... or az://...")
    return parts.scheme, parts.netloc, parts.path.strip("/")


@functools.cache
def bucket_store(scheme: str, bucket: str) -> Any:
    """The obstore store of a bucket (cached per process: it holds the HTTP connection pool)."""
    obstore = obstore_module()
    with translate_errors(f"{scheme}://{bucket}", "connect to"):
        return obstore.store.from_url(f"{scheme}://{bucket}")


@functools.cache
def prefix_store(url: str) -> Any:
    """An obstore store rooted at ``url`` (keys relative to it), e.g. for zarr's ObjectStore adapter."""
    obstore = obstore_module()
    with translate_errors(url, "connect to"):
        return obstore.store.from_url(url.rstrip("/"))


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


@contextlib.contextmanager
def translate_errors(url: str, action: str, *, writing: bool = False) -> Iterator[None]:
    """obstore's errors -> OutputLocationError naming the URL and the fix.

    A missing key stays FileNotFoundError when reading; when writing, "not found" means the bucket is missing.
    """
    try:
        yield
    except FileNotFoundError as err:
        if not writing:
            raise
        raise OutputLocationError(
            f"Cannot {action} {url}: the bucket does not exist ({_first_line(err)}); create it first."
        ) from err
    except MissingExtraError:
        raise
    except Exception as err:
        module = type(err).__module__ or ""
        if not module.startswith("obstore"):
            raise
        raise OutputLocationError(f"Cannot {action} {url}: {_first_line(err)}; {CREDENTIALS_HELP}.") from err
