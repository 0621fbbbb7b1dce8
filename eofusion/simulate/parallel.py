"""Render windows on a few threads (numpy releases the GIL) while keeping output order and memory bounded."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor


def ordered_map[T, R](fn: Callable[[T], R], items: Iterable[T], workers: int | None = None) -> Iterator[R]:
    """``map(fn, items)`` on threads, in order, with at most ``workers + 1`` results in flight."""
    n = workers or min(4, os.cpu_count() or 1)
    if n <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="eofusion-simulate") as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > n:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
