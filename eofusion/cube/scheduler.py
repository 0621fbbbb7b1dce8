"""Where a cube build runs: a LocalCluster by default, any Dask scheduler by address, or a local pool."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from dask.base import compute
from dask.callbacks import Callback

log = logging.getLogger(__name__)

LOCAL_SCHEDULERS = ("threads", "synchronous", "processes")
_BATCH = 1024  # tasks per local graph: bounds graph size for huge AOIs
_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter


@contextlib.contextmanager
def dask_client(scheduler: str | None, memory_limit: str = "4GiB") -> Iterator[Any]:
    """Yield a ``distributed.Client`` (None for the local schedulers ``threads``/``synchronous``).

    Args:
        scheduler: None or ``local`` for a new LocalCluster (one worker process, a thread per core, with
            ``memory_limit``); ``tcp://host:port`` for an existing cluster; or a local Dask scheduler name.
        memory_limit: Per-worker limit of the LocalCluster; a block task holds one shard, so this bounds
            memory whatever the AOI.
    """
    if scheduler in LOCAL_SCHEDULERS:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler is None or scheduler == "local":
        cores = os.cpu_count() or 1
        with (
            LocalCluster(
                n_workers=1,
                threads_per_worker=cores,
                processes=True,
                memory_limit=memory_limit,
                dashboard_address=":0",  # a free port: never clash with a running dashboard
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    with Client(scheduler) as client:
        yield client


def run_tasks(
    tasks: Sequence[Any],
    client: Any,
    scheduler: str | None,
    on_done: Callable[[int], None] | None = None,
) -> None:
    """Compute Dask delayed tasks; ``on_done(n)`` after each batch (or each task on a cluster)."""
    if not tasks:
        return
    if client is not None:
        from distributed import as_completed

        futures = client.compute(list(tasks))
        for future in as_completed(futures):
            future.result()
            if on_done:
                on_done(1)
        return
    _return_freed_arrays_to_the_os()
    # One graph per large batch: the threaded scheduler keeps every core busy up to the batch's end, and
    # progress comes per finished write from a scheduler callback.
    with _Progress(on_done) as progress:
        for start in range(0, len(tasks), _BATCH):
            part = tasks[start : start + _BATCH]
            progress.top = {getattr(t, "key", None) for t in part}
            compute(*part, scheduler=scheduler)


@functools.cache
def _return_freed_arrays_to_the_os() -> None:
    """Have glibc map every allocation of 1 MiB or more separately, so freeing a block returns its memory.

    By default glibc raises that threshold as large arrays are freed and then serves them from per-thread
    arenas that keep the pages: with threads, peak RSS grew by ~50 MB over the arrays alive at any time.
    distributed's workers get the same effect from MALLOC_TRIM_THRESHOLD_; this covers local schedulers.
    No effect outside glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 2**20)
    except (OSError, AttributeError):
        log.debug("mallopt not available; large-array memory stays with the allocator.")


class _Progress(Callback):  # type: ignore[misc]
    """Calls ``on_done(1)`` whenever one of the computed tasks (``top``: their keys) finishes."""

    def __init__(self, on_done: Callable[[int], None] | None) -> None:
        super().__init__()
        self._on_done = on_done
        self.top: set[Any] = set()

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        if self._on_done is not None and key in self.top:
            self._on_done(1)
