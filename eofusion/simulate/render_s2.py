"""Sentinel-2 L2A renderer: per-class spectra through each band's spectral response, mixed at sub-pixel
scale, with clouds, cloud shadows and an SCL layer.

Pixels are area averages of a fine sub-grid (``WorldConfig.s2_subpixels`` per 10 m), so field edges give
mixed pixels as in real data. No random noise is added (the MSI's SNR makes it negligible beside the
modelled within-field variability), so :meth:`S2Renderer.reflectance` is exactly what the files encode,
to within the DN quantisation of 0.5e-4.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
from odc.geo.geobox import GeoBox

from eofusion.sensors.sentinel2 import REFLECTANCE_SCALE
from eofusion.simulate.config import WorldConfig
from eofusion.simulate.grids import FeatureRasteriser, sentinel_grid
from eofusion.simulate.optical import OpticalAcquisition, OpticalSurface, cloud_layers, cloud_threshold, under_clouds
from eofusion.simulate.spectra import EM, band_table
from eofusion.simulate.sun import solar_position
from eofusion.simulate.surface import FeatureTable

S2_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
BAND_RES = {"B01": 60, "B02": 10, "B03": 10, "B04": 10, "B05": 20, "B06": 20, "B07": 20, "B08": 10,
            "B8A": 20, "B09": 60, "B11": 20, "B12": 20}  # fmt: skip
DN_OFFSET = 1000  # processing baseline >= 04.00: DN = 10000 * reflectance + 1000
PROCESSING_BASELINE = "05.10"
ACQUISITION_TIME = (10, 56, 19)  # UTC, relative orbit 51 over the Toulouse area


S2Acquisition = OpticalAcquisition  # one sentinel-2 overpass of the world


@dataclass(frozen=True)
class S2Window:
    """Everything rendered for one window: reflectance per band (native grid) and SCL (20 m)."""

    reflectance: dict[str, npt.NDArray[np.float64]]
    scl: npt.NDArray[np.uint8]


def to_dn(reflectance: npt.NDArray[np.floating]) -> npt.NDArray[np.uint16]:
    """Reflectance -> L2A DN with the baseline-04.00 offset (0 is nodata, so DN >= 1)."""
    dn = np.rint(reflectance / REFLECTANCE_SCALE) + DN_OFFSET
    return np.clip(dn, 1, 65535).astype(np.uint16)


def s2_acquisitions(config: WorldConfig) -> tuple[S2Acquisition, ...]:
    """The world's Sentinel-2 overpasses; S2A and S2B alternate every 5 days from the first date."""
    if not config.s2_dates:
        return ()
    first = min(config.s2_dates)
    return tuple(
        S2Acquisition(
            day=d,
            platform="sentinel-2a" if ((d - first).days // 5) % 2 == 0 else "sentinel-2b",
            cloudy=d in config.s2_cloudy_dates,
            cloud_threshold=cloud_threshold(config, d),
            utc_time=ACQUISITION_TIME,
        )
        for d in sorted(config.s2_dates)
    )


class S2Renderer:
    """Renders Sentinel-2 L2A bands for the world's acquisitions, window by window."""

    def __init__(self, config: WorldConfig, table: FeatureTable, rasteriser: FeatureRasteriser) -> None:
        self.config = config
        self.table = table
        self.rasteriser = rasteriser
        self.grids = {b: sentinel_grid(config, BAND_RES[b]) for b in S2_BANDS}
        self.grid_20m = sentinel_grid(config, 20.0)
        self.lonlat = config.centre_lonlat
        self.acquisitions = s2_acquisitions(config)
        self.surface = OpticalSurface(config, table, rasteriser)

    def acquisition(self, day: date) -> S2Acquisition:
        for acq in self.acquisitions:
            if acq.day == day:
                return acq
        raise KeyError(day)

    def sun(self, acq: S2Acquisition) -> tuple[float, float]:
        """(zenith, azimuth) of the sun at acquisition, degrees."""
        return solar_position(*self.lonlat, acq.datetime)

    def windows(self) -> Iterator[GeoBox]:
        """The 60 m sub-grids that tile the world (every band's window nests in one)."""
        return self.surface.windows()

    def render(self, acq: S2Acquisition, win60: GeoBox) -> S2Window:
        """Reflectance of every band and the SCL over one 60 m window."""
        E = band_table(acq.platform, S2_BANDS)
        # Every band at its native pixel, then red and green at 20 m for the SCL.
        wanted = [(j, float(BAND_RES[b])) for j, b in enumerate(S2_BANDS)] + [(3, 20.0), (2, 20.0)]
        layers = self.surface.at(acq.day, win60).bands(E, wanted)
        out = dict(zip(S2_BANDS, layers, strict=False))
        red20, green20 = layers[-2:]
        cloud20 = shadow20 = np.zeros(red20.shape)
        if acq.cloudy:
            sun = self.sun(acq)
            clouds = {
                r: cloud_layers(self.config, win60, r, acq.day, sun=sun, threshold=acq.cloud_threshold)
                for r in (10, 20, 60)
            }
            for j, band in enumerate(S2_BANDS):
                out[band] = under_clouds(out[band], *clouds[BAND_RES[band]], E[EM.CLOUD, j])
            cloud20, shadow20 = clouds[20]
        scl = _scene_classification(out["B8A"], red20, green20, cloud20, shadow20)
        return S2Window(out, scl)


def _scene_classification(
    nir: npt.NDArray[np.float64],
    red: npt.NDArray[np.float64],
    green: npt.NDArray[np.float64],
    cloud: npt.NDArray[np.float64],
    shadow: npt.NDArray[np.float64],
) -> npt.NDArray[np.uint8]:
    """An SCL-like classification at 20 m: clouds and shadows from the cloud model, surfaces by index."""
    ndvi = (nir - red) / np.maximum(nir + red, 1e-6)
    ndwi = (green - nir) / np.maximum(green + nir, 1e-6)
    scl = np.full(nir.shape, 5, dtype=np.uint8)  # not vegetated
    scl[ndvi > 0.35] = 4
    scl[ndwi > 0.2] = 6
    scl[(shadow > 0.3) & (cloud <= 0.15)] = 3
    scl[(cloud > 0.15) & (cloud <= 0.5)] = 8
    scl[cloud > 0.5] = 9
    return scl
