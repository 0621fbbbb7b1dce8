"""Whether CPU training runs under a memory allocator that keeps freed pages (jemalloc, tcmalloc) or glibc's.

glibc's ``malloc`` serves the large tensors of every training step from fresh memory maps and returns them at
each free, so the kernel zero-fills them again at every step: measured 2-3.5x slower CPU training on 2 cores
(README, "Training on the CPU"). The allocator must be preloaded before the process starts, so eofusion cannot
switch it; it says so once per process, with the command, when it trains on the CPU without one.
"""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

KEEPING_ALLOCATORS = ("jemalloc", "tcmalloc")
JEMALLOC_PRELOAD = (  # the library's path differs by architecture: ask the loader's cache for it
    "LD_PRELOAD=$(ldconfig -p | awk '/libjemalloc.so.2 /{print $NF; exit}') "
    "MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1"
)


def allocator_in(maps: str) -> str | None:
    """The page-keeping allocator mapped into a process (its ``/proc/<pid>/maps`` text), else None."""
    for name in KEEPING_ALLOCATORS:
        if f"lib{name}" in maps:
            return name
    return None


@functools.cache
def advise_on_allocator(device_type: str) -> None:
    """Warn (once) when training on the CPU under glibc's malloc, naming the fix."""
    if device_type != "cpu" or not sys.platform.startswith("linux"):
        return
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return
    if allocator_in(maps) is None:
        logger.warning(
            "Training on the CPU under glibc's malloc, which makes it 2-3.5x slower. Start the process with "
            "jemalloc preloaded (Debian/Ubuntu: apt install libjemalloc2), e.g. %s eofusion train ... "
            "(`make demo` and `make test` do this themselves; README, 'Training on the CPU').",
            JEMALLOC_PRELOAD,
        )
