"""Value types for band identity: :class:`Band`, :class:`Sensor`, :class:`SpectralResponse`.

A band is identified by (sensor, name); everything later stages need to know about it — where it sits in
the spectrum, how DN become physical units, its native resolution, how to normalise it for the model —
travels with it here, so no code ever relies on a band's position in an array.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from eofusion.errors import AmbiguousBandError, SensorRegistrationError, UnknownBandError


class BandKind(StrEnum):
    """What physical quantity a band measures; drives resampling, units and model descriptors."""

    REFLECTANCE = "reflectance"  # optical reflectance (unitless, 0..1 nominal)
    BRIGHTNESS_TEMPERATURE = "brightness_temperature"  # thermal infrared, kelvin
    BACKSCATTER = "backscatter"  # SAR backscatter coefficient (linear power; dB by conversion)
    ELEVATION = "elevation"  # heights in metres (DSM, DTM, nDSM)
    MASK = "mask"  # categorical quality layer (e.g. Sentinel-2 SCL)
    CLASSES = "classes"  # categorical labels (land cover)

    @property
    def is_categorical(self) -> bool:
        """True for kinds that must never be interpolated (nearest / mode resampling only)."""
        return self in (BandKind.MASK, BandKind.CLASSES)


# Electromagnetic-spectrum kinds: their bands have a centre wavelength and a spectral response.
SPECTRAL_KINDS = frozenset({BandKind.REFLECTANCE, BandKind.BRIGHTNESS_TEMPERATURE})

# Values a band of each kind can physically take, in the units a cube reads them (reflectance after scale
# and offset, SAR backscatter as linear power, heights in metres, kelvin). Wide on purpose: they catch a
# decoding gone wrong (random bytes read as float32 reach 1e38), not unusual ground. Reflectance: bright
# snow and specular glints exceed 1, atmospheric over-correction goes slightly below 0. Backscatter: -60 dB
# to +40 dB. Heights: the Dead Sea shore to above Everest. Brightness temperature: 150-400 K.
PHYSICAL_RANGE: dict[BandKind, tuple[float, float]] = {
    BandKind.REFLECTANCE: (-0.5, 2.5),
    BandKind.BACKSCATTER: (0.0, 1e4),
    BandKind.ELEVATION: (-500.0, 9000.0),
    BandKind.BRIGHTNESS_TEMPERATURE: (150.0, 400.0),
}


@dataclass(frozen=True)
class SpectralResponse:
    """A relative spectral response curve sampled on a wavelength grid.

    Attributes:
        wavelengths_nm: Strictly increasing sample wavelengths in nanometres.
        response: Relative response at each wavelength (peak normalised to 1).
        measured: True for a measured curve (e.g. ESA's published SRF), False for an approximation
            built from centre and FWHM (see :meth:`gaussian`).
        source: Where the curve comes from, for provenance.
    """

    wavelengths_nm: tuple[float, ...]
    response: tuple[float, ...]
    measured: bool
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.wavelengths_nm) != len(self.response) or len(self.response) < 2:
            raise SensorRegistrationError(
                "A spectral response needs at least two (wavelength, response) samples of equal length; "
                f"got {len(self.wavelengths_nm)} wavelengths and {len(self.response)} responses."
            )
        if any(b <= a for a, b in zip(self.wavelengths_nm, self.wavelengths_nm[1:], strict=False)):
            raise SensorRegistrationError("Spectral response wavelengths must be strictly increasing.")

    @classmethod
    def gaussian(
        cls, centre_nm: float, fwhm_nm: float, step_nm: float = 1.0, source: str = "gaussian(centre, FWHM)"
    ) -> SpectralResponse:
        """A Gaussian curve with the given centre and full width at half maximum (documented approximation)."""
        sigma = fwhm_nm / (2.0 * math.sqrt(2.0 * math.log(2.0)))
        wl = np.arange(centre_nm - 4 * sigma, centre_nm + 4 * sigma + step_nm, step_nm)
        resp = np.exp(-0.5 * ((wl - centre_nm) / sigma) ** 2)
        return cls(tuple(float(w) for w in wl), tuple(float(r) for r in resp), measured=False, source=source)

    def as_arrays(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(wavelengths, response) as float64 arrays."""
        return np.asarray(self.wavelengths_nm, dtype=np.float64), np.asarray(self.response, dtype=np.float64)

    @property
    def centre_nm(self) -> float:
        """Midpoint of the two half-maximum crossings (ESA's definition of central wavelength)."""
        lo, hi = self._half_max_edges()
        return (lo + hi) / 2.0

    @property
    def fwhm_nm(self) -> float:
        """Full width at half maximum, between the outermost half-maximum crossings."""
        lo, hi = self._half_max_edges()
        return hi - lo

    def _half_max_edges(self) -> tuple[float, float]:
        wl, r = self.as_arrays()
        half = r.max() / 2.0
        above = np.flatnonzero(r >= half)
        i0, i1 = int(above[0]), int(above[-1])
        lo = wl[i0] if i0 == 0 else float(np.interp(half, [r[i0 - 1], r[i0]], [wl[i0 - 1], wl[i0]]))
        hi = wl[i1] if i1 == len(r) - 1 else float(np.interp(half, [r[i1 + 1], r[i1]], [wl[i1 + 1], wl[i1]]))
        return float(lo), float(hi)

    def resample(self, wavelengths_nm: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The response on another wavelength grid (zero outside the sampled range)."""
        wl, r = self.as_arrays()
        return np.interp(np.asarray(wavelengths_nm, dtype=np.float64), wl, r, left=0.0, right=0.0)

    def band_average(self, wavelengths_nm: npt.ArrayLike, spectrum: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Response-weighted mean of a spectrum: what this band records of it.

        Args:
            wavelengths_nm: Wavelength grid of the spectrum, shape ``[W]``.
            spectrum: Values on that grid, shape ``[..., W]`` (e.g. one reflectance spectrum per class).

        Returns:
            The band-effective value, shape ``[...]``.
        """
        wl = np.asarray(wavelengths_nm, dtype=np.float64)
        weights = self.resample(wl)
        total = np.trapezoid(weights, wl)
        if total <= 0:
            raise SensorRegistrationError(
                f"The spectrum's wavelength grid ({wl.min():.0f}-{wl.max():.0f} nm) does not overlap this "
                f"band's response ({self.wavelengths_nm[0]:.0f}-{self.wavelengths_nm[-1]:.0f} nm)."
            )
        weighted = np.trapezoid(np.asarray(spectrum, dtype=np.float64) * weights, wl, axis=-1)
        return np.asarray(weighted / total, dtype=np.float64)


@dataclass(frozen=True)
class Band:
    """One band of one sensor, with everything needed to read, convert and describe it.

    Physical value = DN * ``scale`` + ``offset``. ``norm_mean``/``norm_std`` are in physical units (for
    SAR: in dB) and standardise model inputs.
    """

    name: str
    kind: BandKind
    resolution_m: float
    dtype: str
    units: str
    common_name: str | None = None
    aliases: tuple[str, ...] = ()
    centre_nm: float | None = None
    bandwidth_nm: float | None = None  # full width at half maximum
    polarisation: str | None = None  # SAR: "VV", "VH", "HH", "HV"
    frequency_ghz: float | None = None  # SAR centre frequency
    nodata: float | None = None
    scale: float = 1.0
    offset: float = 0.0
    norm_mean: float = 0.0
    norm_std: float = 1.0
    description: str = ""
    classes: tuple[tuple[int, str], ...] = ()  # value -> label for MASK / CLASSES bands

    def __post_init__(self) -> None:
        where = f"band {self.name!r}"
        if not self.name:
            raise SensorRegistrationError("A band needs a non-empty name.")
        if self.kind in SPECTRAL_KINDS and (self.centre_nm is None or self.bandwidth_nm is None):
            raise SensorRegistrationError(
                f"{where} is {self.kind.value} but has no centre_nm/bandwidth_nm: spectral bands need both."
            )
        if self.kind is BandKind.BACKSCATTER and (self.polarisation is None or self.frequency_ghz is None):
            raise SensorRegistrationError(f"{where} is SAR backscatter but lacks polarisation or frequency_ghz.")
        if self.resolution_m <= 0 or self.norm_std <= 0:
            raise SensorRegistrationError(f"{where}: resolution_m and norm_std must be positive.")
        np.dtype(self.dtype)  # raises TypeError for a dtype numpy does not know

    @property
    def physical_range(self) -> tuple[float, float] | None:
        """``(low, high)`` the band's values can physically take (see :data:`PHYSICAL_RANGE`); None for masks."""
        return PHYSICAL_RANGE.get(self.kind)

    @property
    def is_spectral(self) -> bool:
        """True for bands with a place in the electromagnetic spectrum (optical or thermal)."""
        return self.kind in SPECTRAL_KINDS

    def keys(self) -> tuple[str, ...]:
        """Every key this band answers to: name, aliases and common name."""
        extra = (self.common_name,) if self.common_name else ()
        return (self.name, *self.aliases, *extra)


@dataclass(frozen=True)
class Sensor:
    """A sensor (instrument on a platform) and its bands.

    Attributes:
        name: Registry key, lower case (``sentinel-2a``).
        family: Sensors whose band names are interchangeable (``sentinel-2``).
        platforms: STAC ``platform`` values that identify it.
        instrument: STAC ``instruments`` value.
        bands: The bands, in the sensor's conventional order (never relied upon downstream).
    """

    name: str
    family: str
    bands: tuple[Band, ...]
    instrument: str = ""
    platforms: tuple[str, ...] = ()
    description: str = ""
    metadata: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.bands:
            raise SensorRegistrationError(f"Sensor {self.name!r} has no bands; give at least one.")
        names = [b.name for b in self.bands]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SensorRegistrationError(f"Sensor {self.name!r} defines band(s) {dupes} more than once.")

    @property
    def band_names(self) -> tuple[str, ...]:
        """Canonical band names in the sensor's order."""
        return tuple(b.name for b in self.bands)

    def band(self, key: str) -> Band:
        """Look a band up by name, provider alias (``B04_10m``) or common name (``red``); case-insensitive.

        Raises:
            UnknownBandError: No band matches; the message lists this sensor's bands.
            AmbiguousBandError: A common name matches several bands (e.g. ``rededge``).
        """
        wanted = key.strip().lower()
        for match_on in (lambda b: (b.name,), lambda b: b.aliases):
            for b in self.bands:
                if wanted in (k.lower() for k in match_on(b)):
                    return b
        by_common = [b for b in self.bands if b.common_name and b.common_name.lower() == wanted]
        if len(by_common) == 1:
            return by_common[0]
        if by_common:
            raise AmbiguousBandError(
                f"{key!r} is the common name of {len(by_common)} bands of {self.name} "
                f"({', '.join(b.name for b in by_common)}); ask for one of them by name."
            )
        listing = ", ".join(self._describe(b) for b in self.bands)
        raise UnknownBandError(f"Sensor {self.name!r} has no band {key!r}. Its bands: {listing}.")

    def select(self, keys: Sequence[str]) -> tuple[Band, ...]:
        """Several bands by key, in the order asked."""
        return tuple(self.band(k) for k in keys)

    @staticmethod
    def _describe(band: Band) -> str:
        return f"{band.name} ({band.common_name})" if band.common_name else band.name
