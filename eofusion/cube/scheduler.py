"""Where a cube build runs: a LocalCluster by default, any Dask scheduler by address, or a local pool."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from dask.base import compute

log = logging.getLogger(__name__)

LOCAL_SCHEDULERS = ("threads", "synchronous", "processes")


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
    # Batches keep the graph small and give progress without a cluster.
    batch = max(4, 4 * (os.cpu_count() or 1))
    for start in range(0, len(tasks), batch):
        part = tasks[start : start + batch]
        compute(*part, scheduler=scheduler)
        if on_done:
            on_done(len(part))
