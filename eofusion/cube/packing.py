"""CF packed storage: a group's values kept as the provider's integers with ``scale_factor`` / ``add_offset``.

A cube stores float32 physical values by default (reflectance, dB, metres; NaN = no data). With
``LoadOptions(dtype="source")`` a group whose every band comes from integer files with one common scale,
offset and nodata (Sentinel-2 L2A: uint16, 1e-4, -0.1 from baseline 04.00, nodata 0; Landsat C2 L2) is stored as
those integers instead, the way netCDF/CF "packed data" does: ``value = stored * scale_factor + add_offset``,
``_FillValue`` = no data. Half the bytes of float32 to encode, write and read; xarray decodes it transparently
(as float64, since the attributes carry no float32 type), eofusion's readers decode to float32.

What packing changes: values computed from several source pixels (bilinear or average resampling, composites)
are rounded to the provider's quantum (1e-4 reflectance for Sentinel-2: far below the sensor's noise), and
a value that would round onto the fill value or outside the integer range is clipped to the nearest valid
integer (such values cannot come out of interpolating the provider's own valid integers). Groups whose sources
are floats (Sentinel-1 in dB, DSMs in metres) or disagree on scale, offset or nodata stay float32.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from eofusion.errors import CubeError

log = logging.getLogger(__name__)

StoredDtype = Literal["float32", "source"]
# Packing must save bytes over float32: integers of at most 2 bytes.
PACKABLE_DTYPES = ("uint8", "int8", "uint16", "int16")
_WIDER = {"uint8": "uint16", "int8": "int16"}


@dataclass(frozen=True)
class Packing:
    """How one group's values are packed: integer ``dtype``, CF ``scale_factor`` / ``add_offset`` and fill."""

    dtype: str
    scale_factor: float
    add_offset: float
    fill: int

    def __post_init__(self) -> None:
        info = np.iinfo(self.dtype)
        if not info.min <= self.fill <= info.max:
            raise CubeError(f"Fill value {self.fill} is outside {self.dtype}'s range {info.min}..{info.max}.")
        if not math.isfinite(self.scale_factor) or self.scale_factor == 0 or not math.isfinite(self.add_offset):
            raise CubeError(f"Packing needs a finite non-zero scale and a finite offset, got {self}.")

    def as_dict(self) -> dict[str, Any]:
        """The JSON-able record (cube attributes, build configuration)."""
        return asdict(self)

    def zarr_encoding(self) -> dict[str, Any]:
        """xarray's ``to_zarr`` encoding keys for the packed ``data`` variable (CF names the fill ``_FillValue``)."""
        encoding = self.as_dict()
        encoding["_FillValue"] = encoding.pop("fill")
        return encoding

    def _valid_range(self) -> tuple[int, int]:
        info = np.iinfo(self.dtype)
        lo, hi = int(info.min), int(info.max)
        if self.fill == lo:
            lo += 1
        elif self.fill == hi:
            hi -= 1
        return lo, hi

    def encode(self, values: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.integer[Any]]:
        """Physical values (NaN = no data) -> stored integers (fill = no data)."""
        lo, hi = self._valid_range()
        # float32 throughout (in place): integers of at most 16 bits are exact in float32, and a value the
        # reader made as float32(DN) * scale + offset comes back to its DN.
        stored = np.subtract(values, np.float32(self.add_offset), dtype=np.float32)
        stored *= np.float32(1.0 / self.scale_factor)
        np.rint(stored, out=stored)
        np.clip(stored, lo, hi, out=stored)
        stored[np.isnan(values)] = self.fill
        out = stored.astype(self.dtype)
        if lo < self.fill < hi:  # a fill inside the range (e.g. -9999 in int16): valid values must avoid it
            hit = (out == self.fill) & ~np.isnan(values)
            out[hit] = self.fill + (1 if self.fill < hi else -1)
        return out

    def decode(self, stored: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        """Stored integers -> float32 physical values, NaN where the fill value is."""
        out = stored.astype(np.float32)
        out *= np.float32(self.scale_factor)
        out += np.float32(self.add_offset)
        out[stored == self.fill] = np.nan
        return out

    @classmethod
    def of_array(cls, dtype: Any, attrs: Mapping[str, Any]) -> Packing | None:
        """The packing of a stored ``data`` array (from its dtype and CF attributes), or None for float32."""
        if np.dtype(dtype).kind not in "iu":
            return None
        return cls(
            dtype=np.dtype(dtype).name,
            scale_factor=float(attrs.get("scale_factor", 1.0)),
            add_offset=float(attrs.get("add_offset", 0.0)),
            fill=int(attrs["_FillValue"]),
        )


@dataclass(frozen=True)
class SourceEncoding:
    """One band asset's encoding in its file: data type, nodata, scale and offset (physical = DN * scale + offset)."""

    dtype: str
    nodata: float | None
    scale: float
    offset: float


def source_packing(group: str, encodings: Iterable[SourceEncoding]) -> Packing | None:
    """The provider's integer packing shared by every band asset of a group, or None (the group stays float32).

    Every asset must be an integer of at most 2 bytes with one scale, offset and nodata. Without a nodata value
    every integer may be a valid value, so the group is packed in the next wider type (uint8 -> uint16) with
    that type's maximum as the fill; without a wider type of at most 2 bytes it stays float32.
    """
    found = set(encodings)
    if not found:
        return None
    if len(found) > 1:
        log.info(
            "Group %s stays float32: its sources differ in dtype, nodata, scale or offset (%s).",
            group,
            "; ".join(sorted(f"{e.dtype} nodata={e.nodata} scale={e.scale} offset={e.offset}" for e in found)),
        )
        return None
    enc = found.pop()
    if enc.dtype not in PACKABLE_DTYPES:
        log.info("Group %s stays float32: its files hold %s, not an integer of at most 2 bytes.", group, enc.dtype)
        return None
    if enc.nodata is not None and math.isfinite(enc.nodata) and float(enc.nodata).is_integer():
        return Packing(enc.dtype, enc.scale, enc.offset, int(enc.nodata))
    wider = _WIDER.get(enc.dtype)
    if wider is None:
        log.info("Group %s stays float32: %s files without nodata leave no integer for no data.", group, enc.dtype)
        return None
    return Packing(wider, enc.scale, enc.offset, int(np.iinfo(wider).max))
