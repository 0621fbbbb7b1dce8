"""Landsat cloud masking from Collection 2 QA_PIXEL, parallel to Sentinel-2's SCL masking."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from cubefactory import dt, make_item, write_tif
from odc.geo.geobox import GeoBox

from eofusion.catalog import NormalizedItem, normalize_item
from eofusion.catalog.documents import items_in
from eofusion.cube import LoadOptions, load_aligned
from eofusion.cube.masking import MaskRule
from eofusion.errors import ConfigError
from eofusion.sensors import QA_PIXEL_DEFAULT_MASKED_BITS, BandKind

SIZE = 24  # 30 m pixels
ORIGIN = (600000.0, 5000000.0)
GRID30 = GeoBox((SIZE, SIZE), Affine(30, 0, ORIGIN[0], 0, -30, ORIGIN[1]), "EPSG:32631")  # the files' grid
GRID10 = GeoBox((3 * SIZE, 3 * SIZE), Affine(10, 0, ORIGIN[0], 0, -10, ORIGIN[1]), "EPSG:32631")
SR_SCALE, SR_OFFSET = 2.75e-5, -0.2

# QA_PIXEL values as Collection 2 products write them (flags + confidence pairs).
CLEAR = 21824  # clear (bit 6), every confidence low
WATER = CLEAR | 1 << 7  # not masked
SNOW = 1 << 5 | 3 << 12 | 1 << 8  # not masked by default
FILL = 1  # QA_PIXEL's nodata
CLOUD = 1 << 1 | 1 << 3 | 3 << 8  # dilated cloud + cloud, high confidence
DILATED = 1 << 1 | 2 << 8
CIRRUS = 1 << 2 | 3 << 14
SHADOW = 1 << 4 | 3 << 10
FLAGGED = {"fill": FILL, "cloud": CLOUD, "dilated": DILATED, "cirrus": CIRRUS, "shadow": SHADOW}
KEPT = {"clear": CLEAR, "water": WATER, "snow": SNOW}


def _qa_pattern() -> np.ndarray:
    """Stripes of every flag value, 2 columns each, the rest clear."""
    qa = np.full((SIZE, SIZE), CLEAR, dtype=np.uint16)
    for k, value in enumerate([*FLAGGED.values(), WATER, SNOW]):
        qa[4:20, 2 * k : 2 * k + 2] = value
    return qa


def _landsat(
    folder: Path, item_id: str, when: datetime, qa: np.ndarray | None, *, seed: int = 0, sensor: str = "landsat-8"
) -> NormalizedItem:
    """A Landsat C2 L2 item: SR_B2/SR_B4 (valid everywhere, even under fill) and optionally QA_PIXEL."""
    folder.mkdir()
    transform = Affine(30, 0, ORIGIN[0], 0, -30, ORIGIN[1])
    rng = np.random.default_rng(seed)
    files = {}
    for band in ("B2", "B4"):
        dn = rng.integers(8000, 20000, (SIZE, SIZE), dtype=np.uint16)
        files[band] = (write_tif(folder / f"SR_{band}.tif", dn, "EPSG:32631", transform, 0), 1)
    if qa is not None:
        files["QA_PIXEL"] = (write_tif(folder / "QA_PIXEL.tif", qa, "EPSG:32631", transform, FILL), 1)
    return make_item(item_id, sensor, when, files, scale=SR_SCALE, offset=SR_OFFSET)


def _physical(item: NormalizedItem, band: str) -> np.ndarray:
    import rasterio

    with rasterio.open(item.assets[band].href) as src:
        return src.read(1).astype(np.float32) * np.float32(SR_SCALE) + np.float32(SR_OFFSET)


def _flagged(qa: np.ndarray) -> np.ndarray:
    return np.isin(qa, list(FLAGGED.values()))


def test_qa_pixel_masks_fill_clouds_and_shadows_only(tmp_path: Path) -> None:
    qa = _qa_pattern()
    item = _landsat(tmp_path / "a", "LC08_a", dt(1), qa)
    ds = load_aligned([item], GRID30, "landsat")
    assert list(ds["band"].values) == ["B2", "B4"]  # QA_PIXEL is a mask, never a loaded band
    got = ds["data"].isel(time=0).values
    masked = _flagged(qa)
    assert masked.sum() == 5 * 2 * 16
    for b, band in enumerate(("B2", "B4")):
        assert np.isnan(got[b][masked]).all()
        np.testing.assert_allclose(got[b][~masked], _physical(item, band)[~masked], atol=1e-6)  # unchanged

    off = load_aligned([item], GRID30, "landsat", options=LoadOptions(mask_clouds=False))
    np.testing.assert_allclose(off["data"].isel(time=0).values[1], _physical(item, "B4"), atol=1e-6)


def test_qa_pixel_is_read_nearest_onto_a_finer_grid(tmp_path: Path) -> None:
    qa = _qa_pattern()
    item = _landsat(tmp_path / "a", "LC09_a", dt(1), qa, sensor="landsat-9")
    got = load_aligned([item], GRID10, "landsat", bands=["red"])["data"].isel(time=0, band=0).values
    np.testing.assert_array_equal(np.isnan(got), np.kron(_flagged(qa), np.ones((3, 3), bool)))


def test_masked_bits_are_configurable(tmp_path: Path) -> None:
    qa = _qa_pattern()
    item = _landsat(tmp_path / "a", "LC08_a", dt(1), qa)
    options = LoadOptions(qa_pixel_masked_bits=QA_PIXEL_DEFAULT_MASKED_BITS | {5})  # also snow
    got = load_aligned([item], GRID30, "landsat", bands=["B4"], options=options)["data"].values[0, 0]
    np.testing.assert_array_equal(np.isnan(got), _flagged(qa) | (qa == SNOW))
    with pytest.raises(ConfigError, match=r"qa_pixel_masked_bits.*\[16\]"):
        LoadOptions(qa_pixel_masked_bits=frozenset({3, 16}))


def test_masked_pixels_are_filled_by_the_next_item_of_the_day(tmp_path: Path) -> None:
    cloudy = _qa_pattern()
    first = _landsat(tmp_path / "a", "LC08_a", dt(1, 10), cloudy, seed=0)
    second = _landsat(tmp_path / "b", "LC08_b", dt(1, 11), np.full((SIZE, SIZE), CLEAR, np.uint16), seed=1)
    no_qa = _landsat(tmp_path / "c", "LC08_c", dt(9), None, seed=2)
    ds = load_aligned([no_qa, second, first], GRID30, "landsat", bands=["B4"])
    day1, day9 = ds["data"].values[:, 0]
    masked = _flagged(cloudy)
    np.testing.assert_allclose(day1[~masked], _physical(first, "B4")[~masked], atol=1e-6)
    np.testing.assert_allclose(day1[masked], _physical(second, "B4")[masked], atol=1e-6)
    np.testing.assert_allclose(day9, _physical(no_qa, "B4"), atol=1e-6)  # no QA_PIXEL asset: left unmasked


def test_mask_rules() -> None:
    nan = np.float32("nan")
    qa = np.array([CLEAR, CLOUD, SHADOW, SNOW, WATER, nan], dtype=np.float32)
    bits = MaskRule("QA_PIXEL", "bits", QA_PIXEL_DEFAULT_MASKED_BITS, nodata=FILL)
    assert bits.masked(qa).tolist() == [False, True, True, False, False, True]  # NaN read as fill
    scl = np.array([4, 9, 3, 11, nan], dtype=np.float32)
    classes = MaskRule("SCL", "classes", frozenset({0, 3, 8, 9}), nodata=0)
    assert classes.masked(scl).tolist() == [False, True, True, False, True]
    assert MaskRule("SCL", "classes", frozenset({9}), nodata=None).masked(scl).tolist()[-1] is False


STAC_ITEMS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "stac_items"


@pytest.mark.real_data
@pytest.mark.parametrize(
    "rel",
    [
        "planetary-computer/landsat-c2-l2/items-page_limit1.json",
        "earth-search/landsat-c2-l2/LC08_L2SP_033032_20231008_02_T1.json",
    ],
)
def test_real_landsat_items_carry_qa_pixel(require, rel: str) -> None:  # type: ignore[no-untyped-def]
    path = STAC_ITEMS / rel
    require(path.is_file(), f"{path} is not there")
    raw = items_in(json.loads(path.read_text()), origin=rel)[0]
    item = normalize_item(raw)
    qa = item.assets["QA_PIXEL"]
    assert qa.asset_key == "qa_pixel" and qa.band.kind is BandKind.MASK
    assert (qa.nodata, qa.scale, qa.offset, qa.dtype) == (1.0, 1.0, 0.0, "uint16")
    assert all(a.asset_key != "qa" for a in item.assets.values())  # ST_QA (temperature uncertainty) is no mask
