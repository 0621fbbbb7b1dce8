"""Zarr chunks of a cube: direct chunk-file decoding and encoding, and a byte-bounded LRU cache of decoded chunks.

A window read of a cube (:meth:`eofusion.cube.Cube.read`) costs the decode of the few chunks it touches;
chunks stay decoded in a per-process cache so overlapping windows do not decode them twice. Plain local
chunks are decoded and written without zarr-python's event loop (see :class:`ChunkFiles`); any other layout
goes through zarr.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
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
    """Reads and writes the chunk files of a cube's ``data`` array directly (one file + one codec call, no
    event loop).

    zarr-python 3 spends ~1 ms of asyncio scheduling per chunk, 5-7x the cost of decoding a 1 MB Blosc
    chunk, and encodes every chunk's bytes and checks it for emptiness on its one event-loop thread, which
    all writer threads wait on (a profile of a 2048 px build: Dask threads spent 2x longer waiting for zarr
    writes than reading the source COGs). Cubes are written by eofusion as plain (unsharded) Zarr v3
    chunks on a local disk, so the reader decodes those files itself and the writer encodes them with the
    same codec (byte-identical files: tested against zarr's). Any other layout (sharding, other codecs,
    remote stores) goes through zarr (:meth:`of` returns None; :attr:`compress` None for writing). Edge
    chunks are stored full size (Zarr pads them with the fill value) and cropped.
    """

    root: str
    shape: tuple[int, ...]
    chunk: tuple[int, ...]
    dtype: np.dtype[Any]
    fill: float
    decompress: Callable[..., Any] | None  # numcodecs' ``decompress(source, dest=None)``, or None (raw)
    separator: str
    compress: Callable[[npt.NDArray[Any]], bytes] | None = None  # the array's Blosc codec, for writing

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
        compress: Callable[[npt.NDArray[Any]], bytes] | None = None
        if len(codecs) == 2:
            if isinstance(codecs[1], BloscCodec):
                import numcodecs.blosc

                decompress = numcodecs.blosc.decompress
                compress = _blosc_compressor(codecs[1], np.dtype(array.dtype).itemsize)
            elif isinstance(codecs[1], ZstdCodec):
                import numcodecs.zstd

                decompress = numcodecs.zstd.decompress
            else:
                return None
        endian = str(getattr(codecs[0].endian, "value", codecs[0].endian) or "little")
        dtype = np.dtype(array.dtype).newbyteorder("<" if endian == "little" else ">")
        fill = float(array.fill_value) if array.fill_value is not None else float("nan")
        separator = str(getattr(encoding, "separator", "/"))
        return cls(root, tuple(array.shape), tuple(array.chunks), dtype, fill, decompress, separator, compress)

    def _path(self, *index: int) -> str:
        key = self.separator.join(["c", *map(str, index)])
        return os.path.join(self.root, *key.split("/"))

    def read(self, cy: int, cx: int, rows: slice, cols: slice) -> npt.NDArray[Any]:
        """Every date and band of spatial chunk (``cy``, ``cx``), cropped to ``rows``/``cols`` of the array, as
        stored (float32, or the packed integers: :class:`~eofusion.cube.packing.Packing` decodes them)."""
        t_n, b_n = self.shape[:2]
        ct, cb = self.chunk[:2]
        out = np.empty((t_n, b_n, rows.stop - rows.start, cols.stop - cols.start), dtype=self.dtype.newbyteorder("="))
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

    def write(self, t0: int, row0: int, col0: int, data: npt.NDArray[Any]) -> None:
        """Store ``data [T, C, h, w]`` (every band, in the stored dtype) at (``t0``, ``row0``, ``col0``).

        The region must start on chunk edges and end on chunk edges or the array's edge (a Dask block of the
        cube covers whole chunks). Like zarr with ``write_empty_chunks=False``, a chunk holding only the fill
        value is not stored (an earlier file of it is removed). Each file is written under a temporary name
        ``<key>.<uuid>.partial`` and renamed: a killed writer leaves whole chunks or ``.partial`` files,
        never a torn chunk (see :func:`eofusion.cube.store.drop_abandoned_partials`).
        """
        if self.compress is None:
            raise ConfigError(f"{self.root} is not a layout eofusion writes directly; write through zarr.")
        ct, cb, ch, cw = self.chunk
        if ct != 1 or not cb == self.shape[1] == data.shape[1] or row0 % ch or col0 % cw:
            raise ConfigError(
                f"Region at ({t0}, {row0}, {col0}) of shape {data.shape} is not whole chunks of {self.chunk}."
            )
        fill = np.array(self.fill, dtype=self.dtype)
        for t in range(data.shape[0]):
            for r in range(0, data.shape[2], ch):
                for c in range(0, data.shape[3], cw):
                    part = data[t : t + 1, :, r : r + ch, c : c + cw]
                    path = self._path(t0 + t, 0, (row0 + r) // ch, (col0 + c) // cw)
                    if _all_fill(part, fill):
                        with contextlib.suppress(FileNotFoundError):
                            os.remove(path)
                        continue
                    if part.shape != (1, cb, ch, cw):  # an edge chunk: zarr stores it padded with the fill
                        padded = np.full((1, cb, ch, cw), fill, dtype=self.dtype)
                        padded[..., : part.shape[2], : part.shape[3]] = part
                        part = padded
                    encoded = self.compress(np.ascontiguousarray(part, dtype=self.dtype))
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    temporary = f"{path}.{uuid.uuid4().hex}.partial"
                    with open(temporary, "wb") as f:
                        f.write(encoded)
                    os.replace(temporary, path)


def _all_fill(part: npt.NDArray[Any], fill: npt.NDArray[Any]) -> bool:
    if np.isnan(fill):
        return bool(np.isnan(part).all())
    return bool((part == fill).all())


def _blosc_compressor(codec: Any, itemsize: int) -> Callable[[npt.NDArray[Any]], bytes] | None:
    """numcodecs' Blosc with the settings of zarr's ``BloscCodec`` (None for a setting it does not map)."""
    import numcodecs.blosc

    shuffles = {"noshuffle": numcodecs.blosc.NOSHUFFLE, "shuffle": numcodecs.blosc.SHUFFLE,
                "bitshuffle": numcodecs.blosc.BITSHUFFLE}  # fmt: skip
    shuffle = shuffles.get(str(getattr(codec.shuffle, "value", codec.shuffle)))
    cname = str(getattr(codec.cname, "value", codec.cname))
    if shuffle is None or (codec.typesize not in (None, itemsize)):
        return None

    def compress(chunk: npt.NDArray[Any]) -> bytes:
        return bytes(numcodecs.blosc.compress(chunk, cname.encode(), int(codec.clevel), shuffle, int(codec.blocksize)))

    return compress


def chunk_span(start: int, n: int, size: int, step: int) -> range:
    """Indices of the chunks (of ``step`` px, on an axis of ``size`` px) that ``[start, start + n)`` touches."""
    lo, hi = max(start, 0), min(start + n, size)
    return range(lo // step, (hi - 1) // step + 1) if hi > lo else range(0)
