"""Where prediction time goes: wall seconds per stage (read, forward, blend, write, finish)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

STAGES = ("read", "forward", "blend", "write", "finish")


class StageClock:
    """Accumulates wall seconds per named stage of one prediction.

    ``read`` is the time the model waited for cube reads (reads of the next windows run while the model
    computes, so it is the part that did not overlap); ``finish`` is the COG's overviews, validation and
    rename after the last row.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as ``name``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

    def shares(self) -> dict[str, float]:
        """Each stage's fraction of the total."""
        total = sum(self.seconds.values()) or 1.0
        return {k: v / total for k, v in self.seconds.items()}
