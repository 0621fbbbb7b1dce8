"""Band descriptors: every model-able band of every registered sensor, from physics, not position."""

from __future__ import annotations

import numpy as np
import pytest

from eofusion.errors import UnknownBandError
from eofusion.models import DESCRIPTOR_DIM, band_descriptor, band_descriptors
from eofusion.models.descriptors import srf_bins
from eofusion.sensors import REGISTRY, BandKind, SpectralResponse, get_sensor

MODEL_KINDS = {BandKind.REFLECTANCE, BandKind.BRIGHTNESS_TEMPERATURE, BandKind.BACKSCATTER, BandKind.ELEVATION}


def test_every_registered_band_gets_a_distinct_finite_descriptor() -> None:
    for sensor in REGISTRY:
        bands = [b for b in sensor.bands if b.kind in MODEL_KINDS]
        descs = np.stack([band_descriptor(b, sensor) for b in bands])
        assert descs.shape == (len(bands), DESCRIPTOR_DIM)
        assert np.isfinite(descs).all()
        # no two bands of one sensor look alike to the model
        dist = np.abs(descs[:, None] - descs[None]).sum(-1) + np.eye(len(bands))
        assert dist.min() > 1e-3, sensor.name


def test_srf_mass_sums_to_one_and_sits_at_the_band() -> None:
    s2 = get_sensor("sentinel-2a")
    red = band_descriptor(s2.band("B04"), s2)
    nir = band_descriptor(s2.band("B8A"), s2)
    assert red[4:68].sum() == pytest.approx(1.0, abs=1e-5)
    assert np.argmax(red[4:68]) < np.argmax(nir[4:68])
    # narrow red-edge band (15 nm) is still captured by mass binning
    assert srf_bins(SpectralResponse.gaussian(705.0, 15.0, 0.5)).max() > 0.3


def test_measured_srf_is_used_when_the_sensor_is_known() -> None:
    s2 = get_sensor("sentinel-2a")
    band = s2.band("B02")
    measured = band_descriptor(band, s2)
    gaussian = band_descriptor(band, None)
    assert not np.allclose(measured[4:68], gaussian[4:68], atol=1e-3)
    np.testing.assert_array_equal(band_descriptor(band, "sentinel-2a"), measured)


def test_sar_and_elevation_descriptors() -> None:
    s1 = get_sensor("sentinel-1")
    vv, vh = band_descriptor(s1.band("VV")), band_descriptor(s1.band("VH"))
    assert vv[2] == vh[2] == 1.0 and vv[82] == 1.0 and vh[83] == 1.0
    assert vv[86] == pytest.approx(np.log10(5.405), abs=1e-6)
    elev = get_sensor("elevation")
    dsm, ndsm = band_descriptor(elev.band("dsm")), band_descriptor(elev.band("ndsm"))
    assert dsm[3] == ndsm[3] == 1.0 and dsm[87] == 1.0 and ndsm[89] == 1.0


def test_landsat_thermal_band_is_described() -> None:
    l8 = get_sensor("landsat-8")
    d = band_descriptor(l8.band("B10"), l8)
    assert d[1] == 1.0 and d[68] > 1.5  # beyond the optical grid, coded by its log-centre


def test_mask_band_is_refused_with_advice() -> None:
    s2 = get_sensor("sentinel-2a")
    with pytest.raises(UnknownBandError, match="mask"):
        band_descriptor(s2.band("SCL"), s2)


def test_descriptors_follow_the_order_asked() -> None:
    s2 = get_sensor("sentinel-2a")
    bands = s2.select(["B04", "B02", "B8A"])
    d = band_descriptors(bands, s2)
    rev = band_descriptors(bands[::-1], s2)
    assert d.shape == (3, DESCRIPTOR_DIM)
    assert (d.flip(0) == rev).all()
