"""Files that appear whole or not at all: write under a unique temporary name beside, then rename.

Unique (not fixed) temporary names, so two processes writing the same file never write into one
temporary file; the rename is atomic on one filesystem, so a reader sees the old file or the new one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (creating its folder); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (creating its folder); returns the path."""
    return write_bytes_atomic(path, text.encode())


def touch_atomic(path: str | os.PathLike[str]) -> None:
    """Create an empty marker file atomically (it exists only once complete)."""
    write_text_atomic(path, "")
