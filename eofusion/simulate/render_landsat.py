"""Landsat 8/9 OLI Collection 2 Level-2 renderer: the Sentinel-2 world's surface through OLI's bands.

Landsat is the world's held-out sensor: the model never sees it in training, so it measures how well the
model generalises to a sensor it knows only from its band descriptors. It records the same sub-pixel
surface as Sentinel-2 (:mod:`eofusion.simulate.optical`), mixed through the measured OLI spectral responses
of the registry's ``landsat-8``/``landsat-9``, area-averaged to 30 m on the world's UTM grid (which nests
with the 10/20/60 m grids). It passes on the Sentinel-2 dates, Landsat 8 and 9 alternating, under the same
clouds on the cloudy dates (shadows cast for its own sun), flagged in a QA_PIXEL band. As for Sentinel-2,
no random noise is added: :meth:`LandsatRenderer.render` is what the files encode, to within the DN step.

Decision: thermal band B10 is left out. The world's materials have spectra from 350 to 2550 nm and there is
no surface-temperature or emissivity model, so a B10 would be invented numbers rather than the world seen
through a band. The products are therefore labelled ``L2SR`` (surface reflectance only), as USGS labels
scenes delivered without surface temperature.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
from odc.geo.geobox import GeoBox

from eofusion.sensors.landsat import SR_OFFSET, SR_SCALE
from eofusion.simulate.config import WorldConfig
from eofusion.simulate.grids import LANDSAT_RESOLUTION_M, FeatureRasteriser, sentinel_grid
from eofusion.simulate.optical import OpticalAcquisition, OpticalSurface, cloud_layers, cloud_threshold, under_clouds
from eofusion.simulate.spectra import EM, band_table
from eofusion.simulate.sun import solar_position
from eofusion.simulate.surface import FeatureTable

LANDSAT_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7")
ACQUISITION_TIME = (10, 25, 0)  # UTC: Landsat 8/9 descend over the Toulouse area around 10:25
WRS_PATH, WRS_ROW = 199, 30
# QA_PIXEL bits of Collection 2 (USGS LSDS-1619): flags, then 2-bit confidences (1 low, 2 medium, 3 high).
QA_DILATED_CLOUD, QA_CLOUD, QA_CLOUD_SHADOW, QA_CLEAR, QA_WATER = 1, 3, 4, 6, 7
QA_CLOUD_CONF, QA_SHADOW_CONF, QA_SNOW_CONF, QA_CIRRUS_CONF = 8, 10, 12, 14


LandsatAcquisition = OpticalAcquisition  # one landsat overpass of the world


@dataclass(frozen=True)
class LandsatWindow:
    """One window: surface reflectance per band and QA_PIXEL, all at 30 m."""

    reflectance: dict[str, npt.NDArray[np.float64]]
    qa_pixel: npt.NDArray[np.uint16]


def to_dn(reflectance: npt.NDArray[np.floating]) -> npt.NDArray[np.uint16]:
    """Reflectance -> Collection 2 Level-2 SR DN (``DN * 2.75e-5 - 0.2``); 0 is nodata, so DN >= 1."""
    dn = np.rint((reflectance - SR_OFFSET) / SR_SCALE)
    return np.clip(dn, 1, 65535).astype(np.uint16)


def landsat_acquisitions(config: WorldConfig) -> tuple[LandsatAcquisition, ...]:
    """Overpasses on the Sentinel-2 dates (none unless ``config.landsat``); Landsat 8 and 9 alternate."""
    if not config.landsat:
        return ()
    return tuple(
        LandsatAcquisition(
            day=d,
            platform="landsat-8" if i % 2 == 0 else "landsat-9",
            cloudy=d in config.s2_cloudy_dates,
            cloud_threshold=cloud_threshold(config, d),  # the Sentinel-2 clouds of that day
            utc_time=ACQUISITION_TIME,
        )
        for i, d in enumerate(sorted(config.s2_dates))
    )


class LandsatRenderer:
    """Renders Landsat SR bands and QA_PIXEL for the world's Landsat acquisitions, window by window."""

    def __init__(self, config: WorldConfig, table: FeatureTable, rasteriser: FeatureRasteriser) -> None:
        self.config = config
        self.grid = sentinel_grid(config, LANDSAT_RESOLUTION_M)
        self.acquisitions = landsat_acquisitions(config)
        self.surface = OpticalSurface(config, table, rasteriser)

    def acquisition(self, day: date) -> LandsatAcquisition:
        for acq in self.acquisitions:
            if acq.day == day:
                return acq
        raise KeyError(day)

    def sun(self, acq: LandsatAcquisition) -> tuple[float, float]:
        """(zenith, azimuth) of the sun at acquisition, degrees."""
        return solar_position(*self.config.centre_lonlat, acq.datetime)

    def windows(self) -> Iterator[GeoBox]:
        """The 60 m sub-grids that tile the world (each holds whole 30 m pixels)."""
        return self.surface.windows()

    def render(self, acq: LandsatAcquisition, win60: GeoBox) -> LandsatWindow:
        """Surface reflectance of every band and QA_PIXEL over one 60 m window."""
        E = band_table(acq.platform, LANDSAT_BANDS)
        layers = self.surface.at(acq.day, win60).bands(E, [(j, LANDSAT_RESOLUTION_M) for j in range(len(E[0]))])
        out = dict(zip(LANDSAT_BANDS, layers, strict=True))
        cloud = shadow = np.zeros(layers[0].shape)
        if acq.cloudy:
            sun = self.sun(acq)
            cloud, shadow = cloud_layers(
                self.config, win60, LANDSAT_RESOLUTION_M, acq.day, sun=sun, threshold=acq.cloud_threshold
            )
            for j, band in enumerate(LANDSAT_BANDS):
                out[band] = under_clouds(out[band], cloud, shadow, E[EM.CLOUD, j])
        return LandsatWindow(out, qa_pixel(out["B3"], out["B5"], cloud, shadow))


def qa_pixel(
    green: npt.NDArray[np.float64],
    nir: npt.NDArray[np.float64],
    cloud: npt.NDArray[np.float64],
    shadow: npt.NDArray[np.float64],
) -> npt.NDArray[np.uint16]:
    """A Collection 2 QA_PIXEL from the cloud model (same thresholds as the Sentinel-2 SCL).

    Clear land with every confidence low is 21824, as in real products; snow and cirrus are never flagged.
    """
    opaque = cloud > 0.5
    thin = (cloud > 0.15) & ~opaque
    dark = (shadow > 0.3) & (cloud <= 0.15)
    ndwi = (green - nir) / np.maximum(green + nir, 1e-6)
    water = (ndwi > 0.2) & ~(opaque | thin)
    cloud_conf = np.where(opaque, 3, np.where(thin, 2, 1))
    bits = (
        (opaque | thin).astype(np.int64) << QA_DILATED_CLOUD
        | opaque.astype(np.int64) << QA_CLOUD
        | dark.astype(np.int64) << QA_CLOUD_SHADOW
        | (~(opaque | thin | dark)).astype(np.int64) << QA_CLEAR
        | water.astype(np.int64) << QA_WATER
        | cloud_conf << QA_CLOUD_CONF
        | np.where(dark, 3, 1) << QA_SHADOW_CONF
        | 1 << QA_SNOW_CONF
        | 1 << QA_CIRRUS_CONF
    )
    return bits.astype(np.uint16)
