"""One writer at a time per output (a cube store, a job's outputs folder).

An OS-level advisory lock (``filelock``: ``flock`` on POSIX) on a small lock file: a second process that
tries to write the same output learns it at once, with a message naming the output, instead of both
interleaving their files. The OS drops the lock when its process ends, however it ends (``kill -9``
included), so a crashed run never leaves the output locked; the lock file itself stays and is harmless.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from eofusion.errors import OutputLockedError


def lock_path_for(output: str | os.PathLike[str]) -> Path:
    """The lock file of an output: ``.<name>.lock`` beside it (it survives the output's replacement).

    An output in an object store (``s3://...``) has no place for an OS lock: its lock file is kept in this
    machine's temporary folder, named after the URL. That stops two runs on one machine (the usual mistake:
    a cron job overlapping itself); object stores have no locks, so runs on two machines writing one prefix
    are not stopped (give each job its own outputs prefix).
    """
    text = os.fspath(output)
    if "://" in text:
        digest = hashlib.sha256(text.encode()).hexdigest()[:24]
        return Path(tempfile.gettempdir()) / "eofusion-locks" / f"{digest}.lock"
    path = Path(text)
    return path.with_name(f".{path.name}.lock")


@contextmanager
def exclusive_writer(
    output: str | os.PathLike[str], what: str, lock_file: str | os.PathLike[str] | None = None
) -> Iterator[None]:
    """Hold the write lock of ``output`` for the ``with`` block.

    Args:
        output: What is written (named in the error).
        what: How to call it in the error ("the cube store").
        lock_file: The lock file; default :func:`lock_path_for` (a folder that is kept, like a job's
            outputs folder, can hold its own lock file instead).

    Raises:
        OutputLockedError: Another process (or another writer in this one) holds it.
    """
    path = Path(lock_file) if lock_file is not None else lock_path_for(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=0, is_singleton=False, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        raise OutputLockedError(
            f"Another eofusion process is writing {what} {output} (lock {path}). Wait for it to finish, or "
            "write to another place; the lock is released as soon as that process ends, even if it is killed."
        ) from None
    try:
        yield
    finally:
        lock.release()
