"""Bad input: corrupt or missing assets, an AOI outside every item, a band missing from some items."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cubefactory import dt
from odc.geo.geobox import GeoBox

from eofusion.catalog import NormalizedItem
from eofusion.cube import LoadOptions, load_aligned
from eofusion.errors import CubeError, InputDataError, SkippedInputWarning

Factory = Callable[..., NormalizedItem]
GRID = GeoBox.from_bbox((600000, 4999360, 600640, 5000000), "EPSG:32631", resolution=10)


def _with_asset_href(item: NormalizedItem, band: str, href: str) -> NormalizedItem:
    assets = dict(item.assets)
    assets[band] = replace(assets[band], href=href)
    return replace(item, assets=assets)


def test_corrupt_asset_raises_or_is_skipped_and_recorded(s2_scene: Factory, tmp_path: Path) -> None:
    good = s2_scene("good", dt(1), size=64)
    corrupt = tmp_path / "corrupt.tif"
    corrupt.write_bytes(b"II*\x00 this is not a tiff")
    bad = _with_asset_href(s2_scene("bad", dt(2), size=64), "B04", str(corrupt))
    with pytest.raises(InputDataError, match=r"'bad' band 'B04'.*corrupt.tif.*on_error='skip'"):
        load_aligned([good, bad], GRID, "s2", bands=["B04", "B08"])
    with pytest.warns(SkippedInputWarning, match="corrupt.tif"):
        ds = load_aligned([good, bad], GRID, "s2", bands=["B04", "B08"], options=LoadOptions(on_error="skip"))
    skipped = json.loads(ds.attrs["eofusion:skipped"])
    assert [(s["item"], s["band"]) for s in skipped] == [("bad", "B04")]
    values = ds["data"].values
    assert np.isnan(values[1, 0]).all() and np.isfinite(values[1, 1]).all()  # B04 gone, B08 kept
    assert np.isfinite(values[0]).all()


def test_missing_asset_file(s2_scene: Factory, tmp_path: Path) -> None:
    bad = _with_asset_href(s2_scene("bad", dt(2), size=64), "B08", str(tmp_path / "gone.tif"))
    with pytest.raises(InputDataError, match=r"gone\.tif does not exist"):
        load_aligned([bad], GRID, "s2", bands=["B08"])


def test_aoi_intersecting_no_item_is_a_clear_error(s2_scene: Factory) -> None:
    item = s2_scene("a", dt(1), size=64)
    far = GeoBox.from_bbox((700000, 4900000, 700640, 4900640), "EPSG:32631", resolution=10)
    with pytest.raises(CubeError, match=r"intersects none of the 1 s2 items.*'a'"):
        load_aligned([item], far, "s2")
    with pytest.raises(CubeError, match="No s1 items"):
        load_aligned([item], GRID, "s1")


def test_band_missing_from_some_items(s2_scene: Factory) -> None:
    full = s2_scene("full", dt(1), size=64)
    partial = s2_scene("partial", dt(2), size=64, bands=("B04",))
    ds = load_aligned([full, partial], GRID, "s2", bands=["B04", "B11"])
    values = ds["data"].values
    assert np.isfinite(values[1, 0]).all() and np.isnan(values[1, 1]).all()
    assert np.isfinite(values[0]).all()
    with pytest.raises(CubeError, match="Band 'B12' is in none"):
        load_aligned([full, partial], GRID, "s2", bands=["B04", "B12"])


def test_asset_truncated_after_its_header_fails_at_read_time(s2_scene: Factory, tmp_path: Path) -> None:
    item = s2_scene("cut", dt(1), size=64)
    path = Path(item.assets["B04"].href)
    truncated = tmp_path / "truncated.tif"
    data = path.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])  # header and tile index survive, tile bytes do not
    bad = _with_asset_href(item, "B04", str(truncated))
    ds = load_aligned([bad], GRID, "s2", bands=["B04", "B08"])
    with pytest.raises(InputDataError, match=r"truncated\.tif"):
        ds["data"].values  # noqa: B018
    skipped = load_aligned([bad], GRID, "s2", bands=["B04", "B08"], options=LoadOptions(on_error="skip"))
    values = skipped["data"].values
    assert np.isnan(values[0, 0]).any() and np.isfinite(values[0, 1]).all()
