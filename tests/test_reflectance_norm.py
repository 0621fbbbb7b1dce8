"""Reflectance is standardised by wavelength: every optical sensor's band enters the model on one scale."""

from __future__ import annotations

import pytest

from eofusion.sensors import get_sensor, sensor_from_dict
from eofusion.sensors.reflectance import reflectance_norm

# The same part of the spectrum on two satellites: (Sentinel-2 band, Landsat 8 band).
SAME_PLACE = [("B02", "B2"), ("B03", "B3"), ("B04", "B4"), ("B8A", "B5"), ("B11", "B6"), ("B12", "B7")]


@pytest.mark.parametrize(("s2_name", "landsat_name"), SAME_PLACE)
def test_landsat_and_sentinel2_bands_at_one_wavelength_share_statistics(s2_name: str, landsat_name: str) -> None:
    s2, landsat = get_sensor("sentinel-2a").band(s2_name), get_sensor("landsat-8").band(landsat_name)
    assert s2.norm_mean == pytest.approx(landsat.norm_mean, abs=0.01)
    assert s2.norm_std == pytest.approx(landsat.norm_std, abs=0.01)


def test_vegetation_edge_shows_in_the_statistics() -> None:
    red_mean, _ = reflectance_norm(665.0)
    nir_mean, _ = reflectance_norm(865.0)
    assert nir_mean > 2 * red_mean  # land is far brighter in the near infrared than in the red
    assert reflectance_norm(100.0) == reflectance_norm(443.0)  # held at the ends
    assert reflectance_norm(5000.0) == reflectance_norm(2194.0)


def test_user_reflectance_band_gets_wavelength_statistics_unless_given() -> None:
    def sensor(**norm: float) -> dict[str, object]:
        band = {"name": "r", "kind": "reflectance", "resolution_m": 3, "centre_nm": 660, "bandwidth_nm": 40}
        return {"name": "cam-norm-test", "bands": [{**band, **norm}]}

    implied = sensor_from_dict(sensor()).band("r")
    assert (implied.norm_mean, implied.norm_std) == reflectance_norm(660)
    given = sensor_from_dict(sensor(norm_mean=0.3, norm_std=0.2)).band("r")
    assert (given.norm_mean, given.norm_std) == (0.3, 0.2)
    elevation = sensor_from_dict(
        {"name": "h-norm-test", "bands": [{"name": "h", "kind": "elevation", "resolution_m": 1}]}
    ).band("h")
    assert (elevation.norm_mean, elevation.norm_std) == (0.0, 1.0)
