"""CPU training says once, with the fix, when it runs under glibc's malloc rather than jemalloc."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from eofusion.training.allocator import advise_on_allocator, allocator_in

GLIBC_ONLY = "7f0c2a000000-7f0c2a028000 r--p 00000000 08:01 1234 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
JEMALLOC = GLIBC_ONLY + "7f0c2b000000-7f0c2b010000 r-xp 00000000 08:01 99 /usr/lib/x86_64-linux-gnu/libjemalloc.so.2\n"


def test_the_allocator_is_read_from_the_process_maps() -> None:
    assert allocator_in(GLIBC_ONLY) is None
    assert allocator_in(JEMALLOC) == "jemalloc"
    maps = Path("/proc/self/maps")
    preloaded = os.environ.get("LD_PRELOAD", "")
    if maps.exists() and (not preloaded or "jemalloc" in preloaded):  # this process: `make`'s jemalloc or nothing
        expected = "jemalloc" if preloaded else None
        assert allocator_in(maps.read_text()) == expected


def test_the_advice_names_the_fix_only_on_the_cpu_under_glibc(caplog: pytest.LogCaptureFixture) -> None:
    advise_on_allocator.cache_clear()
    with caplog.at_level(logging.WARNING, logger="eofusion.training.allocator"):
        advise_on_allocator("cuda")
        advise_on_allocator("cpu")
        advise_on_allocator("cpu")  # once per process
    warned = [r.getMessage() for r in caplog.records]
    under_glibc = Path("/proc/self/maps").exists() and allocator_in(Path("/proc/self/maps").read_text()) is None
    assert len(warned) == (1 if under_glibc else 0)
    if warned:
        assert "libjemalloc2" in warned[0] and "LD_PRELOAD=" in warned[0]
