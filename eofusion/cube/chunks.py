"""Decoded Zarr chunks of a cube: direct chunk-file decoding and a byte-bounded LRU cache.

A window read of a cube (:meth:`eofusion.cube.Cube.read`) costs the decode of the few chunks it touches;
chunks stay decoded in a per-process cache so overlapping windows do not decode them twice. Plain local
chunks are decoded without zarr-python's event loop (see :class:`ChunkFiles`); any other layout goes through
zarr.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import zarr

from eofusion.errors import ConfigError

# Per process: a 256 x 256 px chunk of 4 bands x 10 dates is 10 MB of float32.
DEFAULT_CACHE_BYTES = 256 * 2**20

Block = npt.NDArray[np.float32]  # [T, C, h, w], one Zarr chunk column (every date, the chosen bands)


@dataclass(frozen=True)
class CacheInfo:
    """Chunk-cache statistics of one reader in one process."""

    hits: int
    misses: int
    entries: int
    nbytes: int
    max_bytes: int


class ChunkCache:
    """A least-recently-used cache of decoded chunk blocks, bounded by their total bytes.

    A block larger than the whole budget is returned but not kept. Thread-safe.
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ConfigError(f"cache_bytes must be >= 0 (0 disables the chunk cache), got {max_bytes}.")
        self.max_bytes = max_bytes
        self._blocks: OrderedDict[tuple[str, int, int], Block] = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = self.hits = self.misses = 0

    def get(self, key: tuple[str, int, int]) -> Block | None:
        with self._lock:
            block = self._blocks.get(key)
            if block is None:
                self.misses += 1
                return None
            self._blocks.move_to_end(key)
            self.hits += 1
            return block

    def put(self, key: tuple[str, int, int], block: Block) -> None:
        if block.nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._blocks.pop(key, None)
            self.nbytes -= 0 if old is None else old.nbytes
            self._blocks[key] = block
            self.nbytes += block.nbytes
            while self.nbytes > self.max_bytes:
                _, dropped = self._blocks.popitem(last=False)
                self.nbytes -= dropped.nbytes

    def info(self) -> CacheInfo:
        return CacheInfo(self.hits, self.misses, len(self._blocks), self.nbytes, self.max_bytes)


@dataclass(frozen=True)
class ChunkFiles:
    """Reads the chunk files of a cube's ``data`` array directly (file read + one decompress, no event loop).

    zarr-python 3 spends ~1 ms of asyncio scheduling per chunk, 5-7x the cost of decoding a 1 MB Blosc
    chunk. Cubes are written by eofusion as plain (unsharded) Zarr v3 chunks on a local disk, so the
    reader decodes those files itself; any other layout (sharding, other codecs, remote stores) is read
    through zarr (:meth:`of` returns None). Edge chunks are stored full size (Zarr pads them) and cropped.
    """

    root: str
    shape: tuple[int, ...]
    chunk: tuple[int, ...]
    dtype: np.dtype[Any]
    fill: float
    decompress: Callable[..., Any] | None  # numcodecs' ``decompress(source, dest=None)``, or None (raw)
    separator: str

    @classmethod
    def of(cls, store: str, group: str, array: zarr.Array) -> ChunkFiles | None:
        """The direct reader of ``store/group/data``, or None when zarr must read it."""
        from zarr.codecs import BloscCodec, BytesCodec, ZstdCodec

        meta = array.metadata
        root = os.path.join(store, group, "data")
        encoding = getattr(meta, "chunk_key_encoding", None)
        codecs = tuple(getattr(meta, "codecs", ()))
        plain = (
            os.path.isdir(root)
            and meta.zarr_format == 3
            and array.shards is None
            and getattr(encoding, "name", None) == "default"
            and 1 <= len(codecs) <= 2
            and isinstance(codecs[0], BytesCodec)
        )
        if not plain:
            return None
        decompress: Callable[..., Any] | None = None
        if len(codecs) == 2:
            if isinstance(codecs[1], BloscCodec):
                import numcodecs.blosc

                decompress = numcodecs.blosc.decompress
            elif isinstance(codecs[1], ZstdCodec):
                import numcodecs.zstd

                decompress = numcodecs.zstd.decompress
            else:
                return None
        endian = str(getattr(codecs[0].endian, "value", codecs[0].endian) or "little")
        dtype = np.dtype(array.dtype).newbyteorder("<" if endian == "little" else ">")
        fill = float(array.fill_value) if array.fill_value is not None else float("nan")
        separator = str(getattr(encoding, "separator", "/"))
        return cls(root, tuple(array.shape), tuple(array.chunks), dtype, fill, decompress, separator)

    def _path(self, *index: int) -> str:
        key = self.separator.join(["c", *map(str, index)])
        return os.path.join(self.root, *key.split("/"))

    def read(self, cy: int, cx: int, rows: slice, cols: slice) -> Block:
        """Every date and band of spatial chunk (``cy``, ``cx``), cropped to ``rows``/``cols`` of the array."""
        t_n, b_n = self.shape[:2]
        ct, cb = self.chunk[:2]
        out = np.empty((t_n, b_n, rows.stop - rows.start, cols.stop - cols.start), dtype=np.float32)
        # an interior chunk holding every band decodes straight into ``out`` (no copy)
        direct = (
            self.decompress is not None and cb == b_n and out.shape[2:] == self.chunk[2:] and self.dtype == out.dtype
        )
        for it in range(-(-t_n // ct)):
            for ib in range(-(-b_n // cb)):
                t0, b0 = it * ct, ib * cb
                t1, b1 = min(t0 + ct, t_n), min(b0 + cb, b_n)
                try:
                    with open(self._path(it, ib, cy, cx), "rb") as f:
                        raw = f.read()
                except FileNotFoundError:  # never written: the fill value
                    out[t0:t1, b0:b1] = self.fill
                    continue
                if direct and t1 - t0 == ct and self.decompress is not None:
                    self.decompress(raw, out[t0:t1])
                    continue
                data = self.decompress(raw) if self.decompress else raw
                chunk = np.frombuffer(data, dtype=self.dtype).reshape(self.chunk)
                out[t0:t1, b0:b1] = chunk[: t1 - t0, : b1 - b0, : out.shape[2], : out.shape[3]]
        return out


def chunk_span(start: int, n: int, size: int, step: int) -> range:
    """Indices of the chunks (of ``step`` px, on an axis of ``size`` px) that ``[start, start + n)`` touches."""
    lo, hi = max(start, 0), min(start + n, size)
    return range(lo // step, (hi - 1) // step + 1) if hi > lo else range(0)
