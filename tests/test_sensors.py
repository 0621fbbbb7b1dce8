"""The sensor registry: published values, lookups, user sensors, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from eofusion.errors import AmbiguousBandError, ConfigError, UnknownBandError, UnknownSensorError
from eofusion.sensors import (
    REGISTRY,
    BandKind,
    SensorRegistry,
    get_band,
    get_sensor,
    load_sensor_yaml,
    radiometric_offset,
    register_sensor,
    sensor_from_dict,
    spectral_response,
)
from eofusion.sensors.sentinel2 import PUBLISHED_SPECTRA

S2_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
# Sentinel-2 mission requirement passbands (centre, minimum width) each satellite must meet — an independent
# check on the per-satellite table (ESA Sentinel-2 MSI spectral band specification).
MISSION_SPEC = {
    "B01": (443, 20), "B02": (490, 65), "B03": (560, 35), "B04": (665, 30), "B05": (705, 15), "B06": (740, 15),
    "B07": (783, 20), "B08": (842, 115), "B8A": (865, 20), "B09": (945, 20), "B10": (1375, 30),
    "B11": (1610, 90), "B12": (2190, 180),
}  # fmt: skip


@pytest.mark.parametrize("sat", ["sentinel-2a", "sentinel-2b", "sentinel-2c"])
def test_sentinel2_has_all_13_bands_near_the_mission_spec(sat: str) -> None:
    sensor = get_sensor(sat)
    assert tuple(b.name for b in sensor.bands if b.kind is BandKind.REFLECTANCE) == S2_BANDS
    for name, (centre, width) in MISSION_SPEC.items():
        band = sensor.band(name)
        assert band.centre_nm is not None and band.bandwidth_nm is not None
        # Within 1 % of the specified centre; B08's spec centre (842) is the filter midpoint and the
        # published (half-maximum) centres sit ~10 nm lower.
        tolerance = 12.0 if name == "B08" else 0.01 * centre
        assert abs(band.centre_nm - centre) <= tolerance, (sat, name, band.centre_nm)
        assert 0.5 * width <= band.bandwidth_nm <= 1.1 * width + 10, (sat, name, band.bandwidth_nm)


@pytest.mark.parametrize("sat", ["sentinel-2a", "sentinel-2b"])
def test_measured_srf_agrees_with_published_centre_and_bandwidth(sat: str) -> None:
    """ESA's measured curves (via pyrsr) and ESA's published table are independent sources: they must agree."""
    sensor = get_sensor(sat)
    for name in S2_BANDS:
        band = sensor.band(name)
        srf = spectral_response(sensor, band)
        assert srf is not None and srf.measured
        published_centre, published_fwhm = PUBLISHED_SPECTRA[sat][name]
        assert srf.centre_nm == pytest.approx(published_centre, abs=3.0), (sat, name)
        assert srf.fwhm_nm == pytest.approx(published_fwhm, abs=3.0), (sat, name)


def test_s2a_and_s2b_differ_where_esa_says_they_do() -> None:
    assert get_band("sentinel-2a", "B12").centre_nm == pytest.approx(2202.4)
    assert get_band("sentinel-2b", "B12").centre_nm == pytest.approx(2185.7)
    assert get_band("sentinel-2b", "B07").centre_nm == pytest.approx(779.7)


def test_s2c_srf_is_a_flagged_approximation() -> None:
    sensor = get_sensor("sentinel-2c")
    srf = spectral_response(sensor, sensor.band("B04"))
    assert srf is not None and not srf.measured
    assert srf.centre_nm == pytest.approx(sensor.band("B04").centre_nm, abs=0.5)
    assert srf.fwhm_nm == pytest.approx(sensor.band("B04").bandwidth_nm, abs=1.0)


def test_sentinel2_scaling_and_baseline_offset() -> None:
    band = get_band("sentinel-2b", "B04")
    assert (band.scale, band.dtype, band.nodata, band.resolution_m) == (1e-4, "uint16", 0, 10.0)
    assert radiometric_offset("04.00") == pytest.approx(-0.1)
    assert radiometric_offset("05.11") == pytest.approx(-0.1)
    assert radiometric_offset("N0400") == pytest.approx(-0.1)
    assert radiometric_offset("03.01") == 0.0
    assert radiometric_offset(None) == 0.0
    # DN 2000 of a baseline-05.10 product is reflectance 0.1
    assert 2000 * band.scale + radiometric_offset("05.10") == pytest.approx(0.1)


def test_resolutions_and_scl() -> None:
    s2 = get_sensor("sentinel-2a")
    assert {b.name: b.resolution_m for b in s2.bands if b.name in ("B01", "B05", "B08", "B09")} == {
        "B01": 60.0, "B05": 20.0, "B08": 10.0, "B09": 60.0,
    }  # fmt: skip
    scl = s2.band("scl")
    assert scl.kind is BandKind.MASK and dict(scl.classes)[9] == "cloud_high_probability"


@pytest.mark.parametrize("name", ["landsat-8", "landsat-9"])
def test_landsat_qa_pixel_is_a_mask_band(name: str) -> None:
    from eofusion.sensors import QA_PIXEL_BITS, QA_PIXEL_DEFAULT_MASKED_BITS, SCL_DEFAULT_MASKED

    landsat = get_sensor(name)
    qa = landsat.band("qa_pixel")  # the providers' asset key
    assert (qa.name, qa.kind, qa.dtype, qa.nodata) == ("QA_PIXEL", BandKind.MASK, "uint16", 1)
    assert not qa.is_spectral and spectral_response(landsat, qa) is None
    assert {QA_PIXEL_BITS[b] for b in QA_PIXEL_DEFAULT_MASKED_BITS} == {
        "fill", "dilated_cloud", "cirrus", "cloud", "cloud_shadow",
    }  # fmt: skip
    assert 11 not in SCL_DEFAULT_MASKED and QA_PIXEL_BITS[5] == "snow" and 5 not in QA_PIXEL_DEFAULT_MASKED_BITS
    with pytest.raises(UnknownBandError):
        landsat.band("qa")  # Collection 2 "qa" is the surface-temperature uncertainty, not pixel quality
    assert [b.name for b in landsat.bands if b.kind is not BandKind.MASK] == [
        "B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10",
    ]  # fmt: skip


def test_sentinel1_frequency_polarisations_and_db() -> None:
    from eofusion.sensors import from_db, to_db

    s1 = get_sensor("sentinel-1")
    assert {b.polarisation for b in s1.bands} == {"VV", "VH", "HH", "HV"}
    assert all(b.frequency_ghz == pytest.approx(5.405) for b in s1.bands)
    assert get_sensor("S1A") is s1
    assert to_db([0.01, 1.0, 0.0]).tolist() == pytest.approx([-20.0, 0.0, -50.0])
    assert from_db(-20.0) == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("sensor", "key", "expected"),
    [
        ("sentinel-2a", "B04_10m", "B04"),  # CDSE asset key
        ("sentinel-2a", "red", "B04"),  # common name / Earth Search key
        ("sentinel-2a", "B4", "B04"),
        ("sentinel-2a", "nir08", "B8A"),
        ("sentinel-2a", "rededge2", "B06"),  # Earth Search key
        ("sentinel-2a", "SCL_20m", "SCL"),
        ("landsat-8", "nir08", "B5"),
        ("landsat-9", "SR_B4", "B4"),
        ("landsat-8", "qa_pixel", "QA_PIXEL"),
        ("naip", "B4", "nir"),
        ("copernicus-dem", "data", "dem"),
        ("elevation", "DSM", "dsm"),
    ],
)
def test_alias_and_common_name_lookups(sensor: str, key: str, expected: str) -> None:
    assert get_band(sensor, key).name == expected


def test_unknown_band_names_sensor_and_lists_bands() -> None:
    with pytest.raises(UnknownBandError) as info:
        get_band("sentinel-2a", "B13")
    message = str(info.value)
    assert "sentinel-2a" in message and "B13" in message and "B8A (nir08)" in message


def test_ambiguous_common_name_lists_candidates() -> None:
    with pytest.raises(AmbiguousBandError, match="B05, B06, B07"):
        get_band("sentinel-2a", "rededge")


def test_unknown_sensor_lists_registered() -> None:
    with pytest.raises(UnknownSensorError, match="landsat-8"):
        get_sensor("worldview-3")


def test_platform_and_family_names_resolve() -> None:
    assert get_sensor("Sentinel-2B").name == "sentinel-2b"
    assert get_sensor("sentinel-2").name == "sentinel-2a"
    assert "landsat-9" in REGISTRY and "spot-7" not in REGISTRY


DRONE = {
    "name": "my-drone",
    "description": "multispectral drone camera",
    "bands": [
        {"name": "g", "kind": "reflectance", "resolution_m": 0.05, "centre_nm": 560, "bandwidth_nm": 40,
         "common_name": "green", "aliases": ["band1"]},
        {"name": "re", "kind": "reflectance", "resolution_m": 0.05, "centre_nm": 717, "bandwidth_nm": 10},
    ],
}  # fmt: skip


def test_user_sensor_from_dict_registers_and_resolves() -> None:
    registry = SensorRegistry()
    sensor = register_sensor(DRONE, registry=registry)
    assert registry.band("my-drone", "band1").centre_nm == 560
    assert registry.band("MY-DRONE", "green").name == "g"
    srf = spectral_response(sensor, sensor.band("re"))
    assert srf is not None and srf.fwhm_nm == pytest.approx(10, abs=0.5)


def test_user_sensor_from_yaml(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "drone.yaml"
    path.write_text(yaml.safe_dump(DRONE))
    assert load_sensor_yaml(path).band("re").centre_nm == 717


def test_user_sensor_unknown_key_is_named() -> None:
    bad = {**DRONE, "bands": [{**DRONE["bands"][0], "wavelenght": 560}]}  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match=r"bands\.0\.wavelenght"):
        sensor_from_dict(bad)


def test_user_spectral_band_without_wavelength_is_refused() -> None:
    bad = {"name": "x", "bands": [{"name": "b", "kind": "reflectance", "resolution_m": 1}]}
    with pytest.raises(ConfigError, match="centre_nm"):
        sensor_from_dict(bad)


def test_registering_a_taken_name_needs_replace() -> None:
    registry = SensorRegistry()
    register_sensor(DRONE, registry=registry)
    with pytest.raises(Exception, match="already registered"):
        register_sensor(DRONE, registry=registry)
    register_sensor(DRONE, registry=registry, replace=True)
