"""Spectrally plausible synthetic scenes from the registry, for tests and CPU pretraining smoke runs.

Five land-cover classes laid out by smooth random fields; each class has a reflectance spectrum
(350-2600 nm, with a seasonal vegetation cycle), a C-band backscatter in dB and a height. Optical bands are
the class spectra integrated over each band's spectral response from the registry, so any optical sensor
(including Landsat, unseen in training) can be rendered over the same ground. This is not the demo world
(:mod:`eofusion.simulate`); it needs nothing but the registry.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.ndimage import gaussian_filter, zoom

from eofusion.sensors import BandKind, from_db, get_sensor, spectral_response
from eofusion.training.arrays import SensorArray

CLASSES = ("water", "crop", "forest", "soil", "urban")
_WL = np.arange(350.0, 2601.0, 5.0)
# C-band VV backscatter (dB) and height above terrain (m) per class.
_VV_DB = np.array([-22.0, -12.0, -8.0, -14.0, -5.0])
_HEIGHT = np.array([0.0, 0.5, 15.0, 0.0, 9.0])


def _spectra(greenness: float) -> npt.NDArray[np.float64]:
    """Reflectance spectra ``[classes, wavelengths]``; ``greenness`` in [0, 1] drives the crop class."""
    wl = _WL
    soil = 0.08 + 0.25 * (wl - 350) / 2250
    water_abs = 1 - 0.5 * np.exp(-(((wl - 1450) / 60) ** 2)) - 0.6 * np.exp(-(((wl - 1950) / 80) ** 2))
    edge = 1 / (1 + np.exp(-(wl - 715) / 15))
    veg = (0.03 + 0.06 * np.exp(-(((wl - 550) / 35) ** 2)) + 0.42 * edge * np.exp(-(((wl - 800) / 1400) ** 2))) * (
        water_abs * (wl > 1000) + (wl <= 1000)
    )
    water = 0.07 * np.exp(-(wl - 400) / 180)
    urban = 0.18 + 0.06 * (wl - 350) / 2250
    crop = greenness * veg + (1 - greenness) * soil
    forest = 0.85 * veg
    return np.stack([water, crop, forest, soil, urban])


def class_map(size_px: int, seed: int, smooth_px: float = 12.0) -> npt.NDArray[np.int64]:
    """A ``[size_px, size_px]`` map of class indices from smooth random fields."""
    rng = np.random.default_rng(seed)
    fields = np.stack([gaussian_filter(rng.standard_normal((size_px, size_px)), smooth_px) for _ in CLASSES])
    return np.argmax(fields, axis=0)


def _area_mean(fine: npt.NDArray[np.float64], factor: int) -> npt.NDArray[np.float64]:
    """Block-average the last two axes by ``factor``."""
    *lead, h, w = fine.shape
    h, w = h // factor * factor, w // factor * factor  # drop a partial last block
    fine = fine[..., :h, :w]
    return fine.reshape(*lead, h // factor, factor, w // factor, factor).mean(axis=(-1, -3))


def render_optical(
    classes: npt.NDArray[np.int64], fine_m: float, sensor_name: str, gsd_m: float, *, days: npt.ArrayLike, seed: int
) -> SensorArray:
    """An optical sensor's reflectance over the class map at ``gsd_m`` (a multiple of ``fine_m``)."""
    sensor = get_sensor(sensor_name)
    bands = tuple(b for b in sensor.bands if b.kind is BandKind.REFLECTANCE and b.name != "B10")
    rng = np.random.default_rng(seed)
    factor = round(gsd_m / fine_m)
    onehot = np.stack([classes == k for k in range(len(CLASSES))]).astype(np.float64)  # [K, H, W]
    fractions = _area_mean(onehot, factor) if factor > 1 else onehot
    if factor < 1:  # finer than the class map: repeat pixels
        fractions = zoom(onehot, (1, round(fine_m / gsd_m), round(fine_m / gsd_m)), order=0)
    doy = np.asarray(days, dtype=np.float32)
    out = np.empty((len(doy), len(bands), *fractions.shape[1:]), dtype=np.float32)
    for t, day in enumerate(doy):
        greenness = float(np.clip(np.sin(np.pi * (day - 60) / 180), 0, 1))
        spectra = _spectra(greenness)
        for c, band in enumerate(bands):
            response = spectral_response(sensor, band)
            per_class = response.band_average(_WL, spectra) if response is not None else spectra.mean(1)
            out[t, c] = np.tensordot(per_class, fractions, axes=1)
    out *= np.asarray(rng.normal(1.0, 0.03, size=out.shape), dtype=np.float32)
    valid = None
    if len(doy) > 1:  # cloud-like invalid blobs on some dates
        valid = np.stack([_unit(gaussian_filter(rng.standard_normal(out.shape[2:]), 3)) < 1.0 for _ in doy])
    return SensorArray.from_physical(out, bands, gsd_m, sensor.name, day_of_year=doy, valid=valid)


def _unit(field: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return (field - field.mean()) / (field.std() + 1e-12)


def synthetic_scene(size_m: float = 320.0, seed: int = 0, dates: int = 3) -> dict[str, SensorArray]:
    """S2 time series (10 m), S1 VV/VH time series (10 m), aerial RGBN (0.5 m) and DSM/nDSM (1 m).

    Args:
        size_m: Side of the square area, a multiple of 10 m.
        seed: Seed of the layout and the noise.
        dates: Number of S1/S2 dates across the growing season.
    """
    fine_m = 1.0
    n = round(size_m / fine_m)
    classes = class_map(n, seed)
    days = np.linspace(90, 270, dates).astype(np.float32)
    rng = np.random.default_rng(seed + 1)
    scene = {
        "s2": render_optical(classes, fine_m, "sentinel-2a", 10.0, days=days, seed=seed + 2),
        "aerial": render_optical(classes, fine_m, "aerial-ign", 0.5, days=[180.0], seed=seed + 3),
    }
    onehot = np.stack([classes == k for k in range(len(CLASSES))]).astype(np.float64)
    fractions = _area_mean(onehot, 10)
    s1 = get_sensor("sentinel-1")
    vv_db = np.tensordot(_VV_DB, fractions, axes=1)
    sar = np.stack([np.stack([vv_db + 2.0 * np.sin(d / 58.0), vv_db - 7.0]) for d in days])
    speckle = rng.gamma(4.0, 1 / 4.0, size=sar.shape)
    scene["s1"] = SensorArray.from_physical(
        from_db(sar) * speckle, s1.bands[:2], 10.0, s1.name, day_of_year=days + 2, sar_units="linear"
    )
    terrain = 150 + 20 * gaussian_filter(rng.standard_normal((n, n)), 60) * 30
    height = _HEIGHT[classes]
    elev = get_sensor("elevation")
    dsm = np.stack([terrain + height, height])[None]
    scene["dsm"] = SensorArray.from_physical(dsm, (elev.band("dsm"), elev.band("ndsm")), fine_m, elev.name)
    return scene
