"""What makes an output stale: fingerprints of the files a result was computed from.

A resumed job may reuse a result only when its inputs are the same, not merely at the same place: a model
retrained into the same checkpoint path, or a catalog whose items keep their ids but point at other files,
must recompute. Two strengths:

- :func:`file_digest`: SHA-256 of the content, for files whose every byte matters and that are small
  enough to read at each run (model checkpoints). Cached per (path, size, mtime), so a job reads its
  checkpoint once.
- :func:`asset_identity`: the href plus size and modification time, for raster assets (too large to hash
  at every run; a rewritten file changes either). A remote href (``https://``, ``s3://``, ``/vsi...``) is
  its own identity here: providers publish new content under new URLs or item versions, and checking ETags
  remotely belongs with remote I/O.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path


def _is_local(href: str) -> bool:
    return "://" not in href and not href.startswith("/vsi")


@functools.lru_cache(maxsize=64)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file's content (re-read only when its size or mtime changes)."""
    stat = os.stat(path)
    return _digest(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


def asset_identity(href: str) -> str:
    """``href|size|mtime_ns`` for a local file, the href itself for a remote or missing one."""
    path = href.removeprefix("file://")
    if not _is_local(path):
        return href
    try:
        stat = os.stat(path)
    except OSError:
        return href  # a missing file fails when it is read, with its own message
    return f"{href}|{stat.st_size}|{stat.st_mtime_ns}"
