"""Very-high-resolution aerial cameras: an IGN BD ORTHO-like RGB+NIR profile and NAIP.

Decision: the manufacturers' spectral response curves of these cameras are not published in a form we can
ship, so each band is a documented approximation (centre, FWHM) of the filter passbands:
- IGN BD ORTHO (UltraCam Eagle class, 0.2 m, RVB + IRC): broad, overlapping filters.
- NAIP (Leica ADS100 class, 0.6 m): blue 435-495, green 525-585, red 619-651, NIR 808-882 nm.
The model embeds a band from these numbers exactly as from a measured curve, only less precisely.
"""

from __future__ import annotations

from eofusion.sensors.model import Band, BandKind, Sensor

# Typical 8-bit aerial DN -> reflectance is uncalibrated; we scale DN to 0..1 and standardise from there.
_DN_SCALE = 1.0 / 255.0
_NORM = {"red": (0.40, 0.20), "green": (0.40, 0.18), "blue": (0.38, 0.18), "nir": (0.45, 0.22)}


def _aerial_band(common: str, index: int, *, centre: float, fwhm: float, res: float, camera: str) -> Band:
    """``index`` is the band's 1-based position in the delivered RGBN file (alias ``B1``..``B4``)."""
    mean, std = _NORM[common]
    return Band(
        name=common,
        kind=BandKind.REFLECTANCE,
        resolution_m=res,
        dtype="uint8",
        units="1",
        common_name=common,
        aliases=(f"B{index}",),
        centre_nm=centre,
        bandwidth_nm=fwhm,
        nodata=None,
        scale=_DN_SCALE,
        norm_mean=mean,
        norm_std=std,
        description=f"{camera} {common} (approximate passband)",
    )


def _aerial_sensor(name: str, res: float, camera: str, spectra: dict[str, tuple[float, float]]) -> Sensor:
    bands = tuple(
        _aerial_band(common, i, centre=centre, fwhm=fwhm, res=res, camera=camera)
        for i, (common, (centre, fwhm)) in enumerate(spectra.items(), start=1)
    )
    return Sensor(name=name, family="aerial", bands=bands, instrument="camera", description=camera)


AERIAL_IGN = _aerial_sensor(
    "aerial-ign",
    0.2,
    "IGN BD ORTHO-like digital aerial camera, RGB + NIR at 0.2 m",
    {"red": (640.0, 100.0), "green": (540.0, 100.0), "blue": (470.0, 90.0), "nir": (830.0, 140.0)},  # RGBN
)
NAIP = _aerial_sensor(
    "naip",
    0.6,
    "USDA NAIP (Leica ADS100 class), RGB + NIR at 0.6 m",
    {"red": (635.0, 32.0), "green": (555.0, 60.0), "blue": (465.0, 60.0), "nir": (845.0, 74.0)},
)
