"""Cloud masks from a sensor's quality band: one rule per cube group, applied to every band of an item.

Sentinel-2 L2A classifies each pixel (``SCL``: one class per value); Landsat Collection 2 flags conditions
(``QA_PIXEL``: one condition per bit, several may be set). A :class:`MaskRule` names the quality band and
which of its values mask a pixel; the block loader reads that band once per item (nearest neighbour) and
sets the masked pixels of every band of that item to NaN, before the item joins the mosaic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from eofusion.errors import ConfigError, UnknownBandError
from eofusion.sensors import Band, Sensor

MatchKind = Literal["classes", "bits"]
QA_PIXEL_BIT_COUNT = 16  # QA_PIXEL is uint16


@dataclass(frozen=True)
class MaskRule:
    """Which pixels of an item to mask, from the values of its quality band.

    Attributes:
        band: Registry name of the quality band (an asset of the item): ``SCL``, ``QA_PIXEL``.
        match: ``classes``: masked where the value is one of ``values`` (a classification, e.g. SCL);
            ``bits``: masked where any of the bit positions in ``values`` is set (bit flags, e.g. QA_PIXEL).
        values: The classes, or the bit positions, that mask a pixel.
        nodata: The quality band's nodata value. A pixel without a quality value (nodata, or outside the
            band's footprint) is judged as if it held this value; None: such pixels are never masked.
    """

    band: str
    match: MatchKind
    values: frozenset[int]
    nodata: float | None = None

    def masked(self, quality: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
        """True where a pixel is masked, from the quality band as read (float32, NaN = no value)."""
        missing = np.isnan(quality)
        fill = 0.0 if self.nodata is None else self.nodata
        codes = np.where(missing, fill, quality).astype(np.int64)
        if self.match == "classes":
            hit = np.isin(codes, np.array(sorted(self.values), dtype=np.int64))
        else:
            flags = sum(1 << bit for bit in self.values)
            hit = (codes & flags) != 0
        if self.nodata is None:
            hit &= ~missing
        return np.asarray(hit, dtype=np.bool_)


def check_bits(bits: frozenset[int], option: str) -> None:
    """Raise ConfigError unless every bit position is one of QA_PIXEL's (0-15)."""
    bad = sorted(b for b in bits if not 0 <= b < QA_PIXEL_BIT_COUNT)
    if bad:
        raise ConfigError(
            f"{option} holds bit position(s) {bad}; QA_PIXEL has bits 0-{QA_PIXEL_BIT_COUNT - 1} "
            "(see eofusion.sensors.QA_PIXEL_BITS)."
        )


def cloud_mask_rule(
    group: str, sensor: Sensor, *, scl_masked: frozenset[int], qa_pixel_masked_bits: frozenset[int]
) -> MaskRule | None:
    """The cloud mask of a cube group: SCL classes for ``s2``, QA_PIXEL bits for ``landsat``.

    Returns:
        The rule, or None for groups without a quality band (``s1``, ``aerial``, ``dsm``) and for sensors
        whose registry entry has no such band (a user-registered sensor, say).
    """
    if group == "s2":
        return _rule(sensor, "SCL", "classes", scl_masked)
    if group == "landsat":
        return _rule(sensor, "QA_PIXEL", "bits", qa_pixel_masked_bits)
    return None


def _rule(sensor: Sensor, name: str, match: MatchKind, values: frozenset[int]) -> MaskRule | None:
    try:
        band: Band = sensor.band(name)
    except UnknownBandError:
        return None
    return MaskRule(band.name, match, frozenset(values), band.nodata)
