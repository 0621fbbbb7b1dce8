"""Torch datasets over a Zarr cube: co-located multi-sensor chips (and labels) for the model.

Pixels are read straight from the Zarr chunks (no Dask, no warping: the cube is already aligned), so a
chip costs the decode of the few 256-px chunks it touches; plain local chunks are decoded without
zarr-python's event loop (see :class:`ChunkFiles`). Decoded chunks are kept in a small per-process
LRU cache (bounded in bytes), so neighbouring or overlapping chips do not decode the same chunk twice.
Each sample is the model's input, ``dict[str, SensorInput]`` with one entry per cube group, every group
cut to the same ground window.

Readers and datasets are picklable: Zarr handles and the cache are opened lazily in each process, so a
``DataLoader`` with ``num_workers > 0`` gives every worker its own handles and its own cache.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import xarray as xr
import zarr
from odc.geo.geobox import GeoBox
from torch.utils.data import Dataset

from eofusion.cube import open_cube
from eofusion.errors import ConfigError, CubeSchemaError, UnknownBandError
from eofusion.models.inputs import SensorInput, normalise_pixels
from eofusion.sensors import Band, BandKind, get_band
from eofusion.training.chips import Bounds, ChipWindow

# Ignore index of label chips (torch's CrossEntropyLoss default is -100; we keep uint8-friendly 255).
IGNORE_INDEX = 255

# Per process: a 256 x 256 px chunk of 4 bands x 10 dates is 10 MB of float32.
DEFAULT_CACHE_BYTES = 256 * 2**20

Block = npt.NDArray[np.float32]  # [T, C, h, w], one Zarr chunk column (every date, the chosen bands)


@dataclass(frozen=True)
class GroupMeta:
    """What the reader needs about one cube group."""

    name: str
    left: float
    top: float
    res: float
    shape: tuple[int, int]
    bands: tuple[Band, ...]
    band_index: tuple[int, ...]
    sensor: str
    day_of_year: npt.NDArray[np.float32]
    chunk: tuple[int, int] = (256, 256)
    time_range: tuple[np.datetime64, np.datetime64] | None = None


def _group_meta(name: str, ds: xr.Dataset, wanted: Sequence[str] | None, chunk: tuple[int, int]) -> GroupMeta:
    x, y = ds["x"].values, ds["y"].values
    res = float(abs(x[1] - x[0])) if len(x) > 1 else float(abs(y[1] - y[0]))
    band_names = [str(b) for b in ds["band"].values]
    sensors = [str(s) for s in ds["sensor"].values]
    picked = range(len(band_names)) if wanted is None else [_index_of(name, band_names, sensors, w) for w in wanted]
    bands = tuple(get_band(sensors[i], band_names[i]) for i in picked)
    times = ds["time"].values
    doy = ds["time"].dt.dayofyear.values.astype(np.float32)
    return GroupMeta(
        name,
        float(x[0] - res / 2),
        float(y[0] + res / 2),
        res,
        (len(y), len(x)),
        bands,
        tuple(picked),
        sensors[0],
        doy,
        chunk,
        (times.min(), times.max()) if len(times) else None,
    )


def _index_of(group: str, names: list[str], sensors: list[str], wanted: str) -> int:
    for i, (name, sensor) in enumerate(zip(names, sensors, strict=True)):
        try:
            if get_band(sensor, wanted).name == name:
                return i
        except UnknownBandError:
            break
    raise ConfigError(f"Cube group {group!r} has no band {wanted!r}; it has {', '.join(names)}.")


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


def _span(start: int, n: int, size: int, step: int) -> range:
    """Indices of the chunks (of ``step`` px, on an axis of ``size`` px) that ``[start, start + n)`` touches."""
    lo, hi = max(start, 0), min(start + n, size)
    return range(lo // step, (hi - 1) // step + 1) if hi > lo else range(0)


class CubeChipReader:
    """Reads co-located chips of every (or the chosen) group of a cube.

    Args:
        store: The cube (a Zarr store written by :func:`eofusion.cube.build_cube`).
        groups: Cube groups to read (default: all).
        bands: Per group, the bands to read (names, aliases or common names; default: all).
        cache_bytes: Budget of the per-process cache of decoded chunks (0 disables it).
    """

    def __init__(
        self,
        store: str | os.PathLike[str],
        groups: Sequence[str] | None = None,
        bands: Mapping[str, Sequence[str]] | None = None,
        *,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        tree = open_cube(store)
        available = [k for k in tree.children]
        chosen = list(groups) if groups is not None else available
        missing = [g for g in chosen if g not in available]
        if missing:
            raise CubeSchemaError(f"Cube {store} has no group(s) {missing}; it has {available}.")
        self.store = str(store)
        arrays = {g: zarr.open_array(self.store, path=f"{g}/data", mode="r") for g in chosen}
        self.groups = {
            g: _group_meta(g, tree[g].to_dataset(), (bands or {}).get(g), tuple(arrays[g].chunks[2:]))  # type: ignore[arg-type]
            for g in chosen
        }
        # Nested grids share one CRS; keep it for the outputs (maps are written on the cube's grid).
        self.crs: str = str(tree[chosen[0]].to_dataset()["spatial_ref"].attrs["crs_wkt"])
        first = next(iter(self.groups.values()))
        self.bounds: Bounds = (
            first.left,
            first.top - first.shape[0] * first.res,
            first.left + first.shape[1] * first.res,
            first.top,
        )
        self.coarsest_m = max(m.res for m in self.groups.values())
        self.cache_bytes = cache_bytes
        self._cache = ChunkCache(cache_bytes)
        self.direct_chunks = True  # False: every read through zarr (slower; same pixels)
        self._arrays: dict[str, zarr.Array] | None = arrays
        self._chunk_files = {g: ChunkFiles.of(self.store, g, a) for g, a in arrays.items()}
        self._pid = os.getpid()

    # ------------------------------------------------------------------ per-process state (workers)
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_arrays"], state["_cache"], state["_chunk_files"] = None, None, None  # reopened lazily per process
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._cache = ChunkCache(self.cache_bytes)

    def _array(self, group: str) -> zarr.Array:
        if self._arrays is None or self._pid != os.getpid():
            # First use in this process (unpickled, or inherited through fork): own handles, own cache.
            self._arrays = {g: zarr.open_array(self.store, path=f"{g}/data", mode="r") for g in self.groups}
            self._chunk_files = {g: ChunkFiles.of(self.store, g, a) for g, a in self._arrays.items()}
            if self._pid != os.getpid():
                self._cache = ChunkCache(self.cache_bytes)
            self._pid = os.getpid()
        return self._arrays[group]

    def _files(self, group: str) -> ChunkFiles | None:
        self._array(group)
        return self._chunk_files[group] if self.direct_chunks else None

    def cache_info(self) -> CacheInfo:
        """Hits, misses and bytes held by this process's chunk cache."""
        return self._cache.info()

    # ------------------------------------------------------------------ reading
    def _block(self, meta: GroupMeta, cy: int, cx: int) -> Block:
        """One chunk column (every date, the chosen bands), decoded once per process while it stays cached."""
        key = (meta.name, cy, cx)
        block = self._cache.get(key)
        if block is None:
            (ch, cw), (h, w) = meta.chunk, meta.shape
            rows, cols = slice(cy * ch, min((cy + 1) * ch, h)), slice(cx * cw, min((cx + 1) * cw, w))
            files = self._files(meta.name)
            raw = files.read(cy, cx, rows, cols) if files else self._array(meta.name)[:, :, rows, cols]
            block = np.asarray(raw, dtype=np.float32)
            if meta.band_index != tuple(range(block.shape[1])):
                block = block[:, list(meta.band_index)]
            block = np.ascontiguousarray(block)
            block.flags.writeable = False  # shared by every chip that touches it
            self._cache.put(key, block)
        return block

    def read_raw(self, group: str, window: ChipWindow, *, boundless: bool = False) -> Block:
        """The physical values of one group in ``window``, ``[T, C, n, n]`` float32 (NaN = no data).

        Reads whole chunks (cached), so the result is assembled from chunk-aligned reads.
        """
        meta = self.groups[group]
        r0 = round((meta.top - window.top) / meta.res)
        c0 = round((window.left - meta.left) / meta.res)
        n = round(window.size_m / meta.res)
        outside = r0 < 0 or c0 < 0 or r0 + n > meta.shape[0] or c0 + n > meta.shape[1]
        if outside and not boundless:
            raise ConfigError(
                f"Chip {window.bounds} lies outside the cube's {group!r} grid {self.bounds}; "
                "pass boundless=True to pad it with no-data."
            )
        out = np.empty((len(meta.day_of_year), len(meta.bands), n, n), dtype=np.float32)
        if outside:
            out.fill(np.nan)
        ch, cw = meta.chunk
        for cy in _span(r0, n, meta.shape[0], ch):
            for cx in _span(c0, n, meta.shape[1], cw):
                block = self._block(meta, cy, cx)
                # overlap of the chunk and the window, in cube pixel coordinates
                y0, y1 = max(r0, cy * ch), min(r0 + n, cy * ch + block.shape[2])
                x0, x1 = max(c0, cx * cw), min(c0 + n, cx * cw + block.shape[3])
                out[:, :, y0 - r0 : y1 - r0, x0 - c0 : x1 - c0] = block[
                    :, :, y0 - cy * ch : y1 - cy * ch, x0 - cx * cw : x1 - cx * cw
                ]
        return out

    def read(self, window: ChipWindow, *, boundless: bool = False) -> dict[str, SensorInput]:
        """One chip of every group, normalised for the model (NaN and clouds marked invalid).

        Args:
            window: The chip; its corner and size should lie on the coarsest grid (see :mod:`chips`).
            boundless: Pad the parts of the chip outside the cube as no-data (pixels 0, ``valid`` False)
                instead of raising :class:`ConfigError`.
        """
        sample: dict[str, SensorInput] = {}
        for name, meta in self.groups.items():
            pixels, valid = _model_pixels(self.read_raw(name, window, boundless=boundless), meta.bands)
            sample[name] = SensorInput(
                pixels=pixels,
                bands=meta.bands,
                gsd_m=meta.res,
                sensor=meta.sensor,
                day_of_year=torch.from_numpy(meta.day_of_year.copy()) if len(meta.day_of_year) > 1 else None,
                valid=valid,
            )
        return sample


def _model_pixels(block: Block, bands: tuple[Band, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised pixels (NaN -> 0) and validity ``[T, h, w]`` of a freshly read block (overwritten)."""
    missing = np.isnan(block)
    valid = torch.from_numpy(~missing.any(axis=1))
    if any(b.kind is BandKind.BACKSCATTER for b in bands):  # dB conversion and its checks
        return torch.nan_to_num(normalise_pixels(block, bands), nan=0.0), valid
    # the same (x - mean) / std as normalise_pixels, in place: no temporaries on the loader's hot path
    block -= np.array([b.norm_mean for b in bands], dtype=np.float32).reshape(1, -1, 1, 1)
    block /= np.array([b.norm_std for b in bands], dtype=np.float32).reshape(1, -1, 1, 1)
    np.copyto(block, np.float32(0.0), where=missing)
    return torch.from_numpy(block), valid


@dataclass(frozen=True)
class LabelRaster:
    """Class ids on a grid nested with the cube's (same bounds), e.g. rasterised ground truth."""

    values: npt.NDArray[np.uint8]
    geobox: GeoBox

    def read(self, window: ChipWindow) -> torch.Tensor:
        """The label chip, ``[h, w]`` int64 (IGNORE_INDEX where unknown or outside the raster)."""
        res = abs(self.geobox.affine.a)
        r0 = round((self.geobox.affine.f - window.top) / res)
        c0 = round((window.left - self.geobox.affine.c) / res)
        n = round(window.size_m / res)
        h, w = self.values.shape
        out = np.full((n, n), IGNORE_INDEX, dtype=np.int64)
        y0, y1, x0, x1 = max(r0, 0), min(r0 + n, h), max(c0, 0), min(c0 + n, w)
        if y1 > y0 and x1 > x0:
            out[y0 - r0 : y1 - r0, x0 - c0 : x1 - c0] = self.values[y0:y1, x0:x1]
        return torch.from_numpy(out)


class CubeDataset(Dataset[dict[str, SensorInput]]):
    """Unlabelled chips for pretraining: item ``i`` is the chip at ``windows[i]``."""

    def __init__(self, reader: CubeChipReader, windows: Sequence[ChipWindow]) -> None:
        if not windows:
            raise ConfigError("CubeDataset needs at least one chip window.")
        self.reader, self.windows = reader, list(windows)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict[str, SensorInput]:
        return self.reader.read(self.windows[index])


class LabelledCubeDataset(Dataset[tuple[dict[str, SensorInput], torch.Tensor]]):
    """Chips with their label chip, for fine-tuning and evaluation."""

    def __init__(self, reader: CubeChipReader, labels: LabelRaster, windows: Sequence[ChipWindow]) -> None:
        if not windows:
            raise ConfigError("LabelledCubeDataset needs at least one chip window.")
        self.reader, self.labels, self.windows = reader, labels, list(windows)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> tuple[dict[str, SensorInput], torch.Tensor]:
        window = self.windows[index]
        return self.reader.read(window), self.labels.read(window)
