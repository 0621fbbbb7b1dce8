"""Spectral response curves: measured where a package ships them, otherwise Gaussian from centre + FWHM.

Measured curves: ESA's Sentinel-2A/2B MSI and USGS's Landsat 8/9 OLI/TIRS, as shipped by ``pyrsr``
(offline, Apache-2.0). Everything else (S2C, aerial cameras, user sensors without curves) gets a Gaussian
approximation; :attr:`SpectralResponse.measured` says which one a band got.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np

from eofusion.sensors.model import Band, Sensor, SpectralResponse

# registry sensor name -> pyrsr (satellite, sensor)
_PYRSR_SOURCES = {
    "sentinel-2a": ("Sentinel-2A", "MSI"),
    "sentinel-2b": ("Sentinel-2B", "MSI"),
    "landsat-8": ("Landsat-8", "OLI_TIRS"),
    "landsat-9": ("Landsat-9", "OLI_TIRS"),
}
# Drop the long zero tails of the measured curves (keeps the descriptors compact).
_TAIL_THRESHOLD = 1e-3


def _pyrsr_key(band_name: str) -> str:
    """``B01`` -> ``1``, ``B8A`` -> ``8A``, ``B10`` -> ``10``: pyrsr's band keys."""
    return band_name.removeprefix("B").lstrip("0") or "0"


# Tiles are mapped in the threads of one Dask worker: the first loads of pyrsr (and the pandas/scipy imports
# it pulls) must not run in two threads at once (a demo run lost a tile to "dictionary changed size during
# iteration" there; the lock is the guard, the root cause was not pinned down).
_PYRSR_LOCK = threading.Lock()


def _pyrsr_curves(sensor_name: str) -> dict[str, SpectralResponse]:
    with _PYRSR_LOCK:
        return _load_pyrsr_curves(sensor_name)


@lru_cache(maxsize=8)
def _load_pyrsr_curves(sensor_name: str) -> dict[str, SpectralResponse]:
    from pyrsr import RelativeSpectralResponse  # lazy: pulls pandas/scipy

    satellite, instrument = _PYRSR_SOURCES[sensor_name]
    rsr = RelativeSpectralResponse(satellite=satellite, sensor=instrument)
    wl = np.asarray(rsr.rsrs_wvl, dtype=np.float64)
    curves: dict[str, SpectralResponse] = {}
    for key, values in rsr.rsrs.items():
        resp = np.asarray(values, dtype=np.float64)
        resp = resp / resp.max()
        keep = np.flatnonzero(resp > _TAIL_THRESHOLD)
        lo, hi = max(int(keep[0]) - 1, 0), min(int(keep[-1]) + 2, len(resp))
        curves[str(key)] = SpectralResponse(
            tuple(wl[lo:hi].tolist()),
            tuple(resp[lo:hi].tolist()),
            measured=True,
            source=f"pyrsr {satellite} {instrument} band {key}",
        )
    return curves


def spectral_response(sensor: Sensor, band: Band) -> SpectralResponse | None:
    """The band's spectral response: measured when available, else Gaussian; None for non-spectral bands."""
    if not band.is_spectral or band.centre_nm is None or band.bandwidth_nm is None:
        return None
    if sensor.name in _PYRSR_SOURCES:
        curve = _pyrsr_curves(sensor.name).get(_pyrsr_key(band.name))
        if curve is not None:
            return curve
    step = max(band.bandwidth_nm / 50.0, 0.5)
    return SpectralResponse.gaussian(
        band.centre_nm, band.bandwidth_nm, step_nm=step, source=f"gaussian({band.centre_nm}, {band.bandwidth_nm})"
    )
