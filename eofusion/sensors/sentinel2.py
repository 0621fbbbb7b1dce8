"""Sentinel-2 MSI (S2A, S2B, S2C): bands, radiometric scaling, the baseline-04.00 offset and SCL classes.

Centre wavelengths and bandwidths (FWHM) of S2A and S2B are ESA's published values from the spectral
response document COPE-GSEG-EOPG-TN-15-0007. ESA's measured SRF curves for S2A/S2B come from ``pyrsr``
(see :mod:`eofusion.sensors.srf`).

Decision (S2C): ESA's S2C table could not be read offline when this was written. The S2C values below are
close to the S2A/S2B ones (within ~2-4 nm, as the instruments are built to one specification) and are
flagged approximate in each band's description; S2C's spectral response is the Gaussian built from them.
Replace them with ESA's published S2C values when they are at hand — nothing else needs to change.
"""

from __future__ import annotations

from enum import StrEnum

from eofusion.sensors.model import Band, BandKind, Sensor
from eofusion.sensors.reflectance import reflectance_norm

# DN -> reflectance for L1C (TOA) and L2A (BOA) products.
REFLECTANCE_SCALE = 1e-4
# From processing baseline 04.00 (25 January 2022) products carry a radiometric offset of -1000 DN.
BASELINE_OFFSET_DN = -1000.0
BASELINE_WITH_OFFSET = (4, 0)

_COMMON = {
    "B01": "coastal", "B02": "blue", "B03": "green", "B04": "red", "B05": "rededge", "B06": "rededge",
    "B07": "rededge", "B08": "nir", "B8A": "nir08", "B09": "nir09", "B10": "cirrus", "B11": "swir16",
    "B12": "swir22",
}  # fmt: skip
# Asset keys of Earth Search v1 (and of STAC 1.1 providers) that are not the common name.
_EXTRA_ALIASES = {"B05": ("rededge1",), "B06": ("rededge2",), "B07": ("rededge3",)}
_RESOLUTION_M = {
    "B01": 60, "B02": 10, "B03": 10, "B04": 10, "B05": 20, "B06": 20, "B07": 20, "B08": 10, "B8A": 20,
    "B09": 60, "B10": 60, "B11": 20, "B12": 20,
}  # fmt: skip

# (centre nm, FWHM nm) per satellite.
PUBLISHED_SPECTRA: dict[str, dict[str, tuple[float, float]]] = {
    "sentinel-2a": {
        "B01": (442.7, 21), "B02": (492.4, 66), "B03": (559.8, 36), "B04": (664.6, 31), "B05": (704.1, 15),
        "B06": (740.5, 15), "B07": (782.8, 20), "B08": (832.8, 106), "B8A": (864.7, 21), "B09": (945.1, 20),
        "B10": (1373.5, 31), "B11": (1613.7, 91), "B12": (2202.4, 175),
    },
    "sentinel-2b": {
        "B01": (442.2, 21), "B02": (492.1, 66), "B03": (559.0, 36), "B04": (664.9, 31), "B05": (703.8, 16),
        "B06": (739.1, 15), "B07": (779.7, 20), "B08": (832.9, 106), "B8A": (864.0, 22), "B09": (943.2, 21),
        "B10": (1376.9, 30), "B11": (1610.4, 94), "B12": (2185.7, 185),
    },
    "sentinel-2c": {  # approximate: see the module docstring
        "B01": (444.0, 20), "B02": (489.0, 65), "B03": (561.0, 34), "B04": (667.0, 30), "B05": (707.0, 16),
        "B06": (741.0, 15), "B07": (785.0, 19), "B08": (833.0, 104), "B8A": (866.0, 20), "B09": (947.0, 19),
        "B10": (1377.0, 30), "B11": (1612.0, 92), "B12": (2191.0, 179),
    },
}  # fmt: skip
APPROXIMATE_SPECTRA = frozenset({"sentinel-2c"})


SCL_CLASSES: dict[int, str] = {
    0: "no_data",
    1: "saturated_or_defective",
    2: "dark_area_pixels",  # "topographic casted shadows" from baseline 04.00
    3: "cloud_shadows",
    4: "vegetation",
    5: "not_vegetated",
    6: "water",
    7: "unclassified",
    8: "cloud_medium_probability",
    9: "cloud_high_probability",
    10: "thin_cirrus",
    11: "snow_or_ice",
}
# What a cube masks by default: invalid pixels, clouds, their shadows and cirrus (configurable per cube).
SCL_DEFAULT_MASKED: frozenset[int] = frozenset({0, 1, 3, 8, 9, 10})


class Sentinel2Level(StrEnum):
    """Processing level: L1C is top-of-atmosphere, L2A bottom-of-atmosphere reflectance."""

    L1C = "L1C"
    L2A = "L2A"


def parse_processing_baseline(baseline: str | float | None) -> tuple[int, int] | None:
    """``"04.00"``, ``"4.0"``, ``5.11`` or ``"N0511"`` -> (major, minor); None when absent or unreadable."""
    if baseline is None:
        return None
    text = str(baseline).strip().upper().removeprefix("N")
    if "." not in text and len(text) == 4 and text.isdigit():  # product-name form N0400
        text = f"{text[:2]}.{text[2:]}"
    try:
        major, _, minor = text.partition(".")
        return int(major), int(minor or 0)
    except ValueError:
        return None


def radiometric_offset(baseline: str | float | None) -> float:
    """Offset in reflectance units (after :data:`REFLECTANCE_SCALE`) for a product of this baseline.

    Baseline >= 04.00 products store DN = 10000 * reflectance + 1000, so the offset is -0.1; earlier ones
    store DN = 10000 * reflectance. An unknown baseline is treated as pre-04.00 (offset 0): callers that
    can know the acquisition date should decide instead (products after 2022-01-25 carry the offset).
    """
    parsed = parse_processing_baseline(baseline)
    if parsed is not None and parsed >= BASELINE_WITH_OFFSET:
        return BASELINE_OFFSET_DN * REFLECTANCE_SCALE
    return 0.0


def _band(sensor: str, name: str) -> Band:
    centre, fwhm = PUBLISHED_SPECTRA[sensor][name]
    number = name[1:].lstrip("0") or "0"
    res = _RESOLUTION_M[name]
    aliases = (f"B{number}", *(f"{name}_{r}m" for r in (10, 20, 60)), *_EXTRA_ALIASES.get(name, ()))
    approx = " (centre/FWHM approximate)" if sensor in APPROXIMATE_SPECTRA else ""
    mean, std = reflectance_norm(centre)  # by wavelength, shared with every optical sensor
    return Band(
        name=name,
        kind=BandKind.REFLECTANCE,
        resolution_m=float(res),
        dtype="uint16",
        units="1",
        common_name=_COMMON[name],
        aliases=aliases,
        centre_nm=centre,
        bandwidth_nm=float(fwhm),
        nodata=0,
        scale=REFLECTANCE_SCALE,
        offset=0.0,  # the baseline-dependent offset is per product: see radiometric_offset()
        norm_mean=mean,
        norm_std=std,
        description=f"{sensor.upper()} MSI {name} ({_COMMON[name]}), native {res} m{approx}",
    )


SCL_BAND = Band(
    name="SCL",
    kind=BandKind.MASK,
    resolution_m=20.0,
    dtype="uint8",
    units="class",
    aliases=("scl", "SCL_20m", "SCL_60m"),
    nodata=0,
    description="L2A scene classification",
    classes=tuple(sorted(SCL_CLASSES.items())),
)


def sentinel2_sensor(name: str) -> Sensor:
    """The registry entry for one Sentinel-2 satellite (``sentinel-2a``, ``-2b`` or ``-2c``)."""
    bands = (*(_band(name, b) for b in PUBLISHED_SPECTRA[name]), SCL_BAND)
    letter = name[-1].upper()
    return Sensor(
        name=name,
        family="sentinel-2",
        bands=bands,
        instrument="msi",
        platforms=(name, f"S2{letter}", f"Sentinel-2{letter}"),
        description=f"Sentinel-2{letter} MultiSpectral Instrument; L1C and L2A products scaled by 1e-4",
    )


SENTINEL2_SENSORS: tuple[Sensor, ...] = tuple(sentinel2_sensor(n) for n in PUBLISHED_SPECTRA)
