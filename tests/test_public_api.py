"""The public API reads as the spine: search -> load / build_cube -> open_cube -> predict (-> run_job)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from odc.geo.geobox import GeoBox

import eofusion
from eofusion.catalog import normalize_items
from eofusion.errors import ConfigError
from eofusion.grid import NestedGrids

# the small_cube fixture's collections and grids (tests/conftest.py)
SENSOR_COLLECTIONS = ["sentinel-2-l2a", "sentinel-1-rtc", "aerial-ign", "elevation"]
SMALL_RESOLUTIONS = {"s2": 10.0, "s1": 10.0, "aerial": 1.0, "dsm": 1.0}


def test_the_spine_imports_without_torch() -> None:
    code = (
        "import sys, eofusion\n"
        "for name in ('search', 'load', 'build_cube', 'open_cube', 'Cube', 'LoadOptions'):\n"
        "    getattr(eofusion, name)\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert callable(eofusion.predict) and callable(eofusion.run_job)  # these load torch, on first use only


@pytest.fixture(scope="module")
def stac_items(small_world) -> list[pystac.Item]:  # type: ignore[no-untyped-def]
    return list(eofusion.search(small_world.geoparquet_path, collections=SENSOR_COLLECTIONS))


@pytest.fixture(scope="module")
def grids(small_world) -> NestedGrids:  # type: ignore[no-untyped-def]
    s2 = small_world.grids["s2_10m"]
    return NestedGrids(s2.crs, tuple(s2.boundingbox), SMALL_RESOLUTIONS)


def test_load_takes_pystac_items_an_item_collection_dicts_and_normalised_items(
    stac_items: list[pystac.Item], grids: NestedGrids, small_cube: Path
) -> None:
    forms = {
        "pystac Items": stac_items,
        "ItemCollection": pystac.ItemCollection(stac_items),
        "FeatureCollection dict": pystac.ItemCollection(stac_items).to_dict(),
        "item dicts": [i.to_dict() for i in stac_items],
        "NormalizedItems": normalize_items(stac_items),
    }
    cube = eofusion.open_cube(small_cube)
    for form, items in forms.items():
        data = eofusion.load(items, grids, sensors=["Sentinel-2", "elevation"])
        assert list(data) == ["s2", "dsm"], form
        for group, ds in data.items():
            assert ds.odc.geobox == cube.groups[group].geobox, form
            # the same pixels as the cube build_cube wrote from the same items on the same grids
            np.testing.assert_array_equal(ds["data"].values, cube.read(group, cube.bounds), err_msg=form)


def test_load_without_grids_covers_the_items_at_default_sizes(stac_items: list[pystac.Item]) -> None:
    data = eofusion.load(stac_items, sensors=["s2", "aerial"])
    s2, aerial = data["s2"].odc.geobox, data["aerial"].odc.geobox
    assert abs(s2.resolution.x) == 10.0 and abs(aerial.resolution.x) == 1.0
    assert s2.crs is not None and s2.crs.epsg is not None and 32601 <= s2.crs.epsg <= 32760  # the UTM zone
    assert tuple(s2.boundingbox) == tuple(aerial.boundingbox)  # nested: one extent
    footprint = s2.extent.to_crs("EPSG:4326").boundingbox
    lon = [c for i in stac_items for c in (i.bbox[0], i.bbox[2])]  # type: ignore[index]
    assert footprint.left <= min(lon) + 1e-4 and footprint.right >= max(lon) - 1e-4


def test_load_names_what_is_wrong(stac_items: list[pystac.Item], grids: NestedGrids) -> None:
    s2_only = [i for i in stac_items if i.collection_id == "sentinel-2-l2a"]
    with pytest.raises(ConfigError, match=r"No item of sensor group\(s\) \['dsm'\].*\['s2'\]"):
        eofusion.load(s2_only, grids, sensors=["dsm"])
    with pytest.raises(ConfigError, match="No STAC items"):
        eofusion.load([], grids)
    with pytest.raises(ConfigError, match="Cannot read STAC items from a int"):
        eofusion.load(3, grids)


def test_predict_writes_on_the_cubes_finest_grid(small_cube: Path, tmp_path: Path) -> None:
    import torch

    from eofusion.models import SpectralEncoder, model_config
    from eofusion.models.heads import SegmentationModel
    from eofusion.training.landcover import ClassTable, save_landcover_model

    torch.manual_seed(0)
    model = SegmentationModel(SpectralEncoder(model_config("tiny")), num_classes=2)
    classes = ClassTable((1, 2), ("forest", "water"), ("#00aa00", "#0000ff"))
    inputs = {"s2": {"sensor": "sentinel-2a", "bands": ["B04"], "resolution_m": 10.0}}
    checkpoint = save_landcover_model(tmp_path / "m.safetensors", model, classes, bands=inputs)
    cube = eofusion.open_cube(small_cube)
    result = eofusion.predict(checkpoint, small_cube, tmp_path / "map.tif", sensors=["Sentinel-2", "dsm"])
    assert result.geobox == cube.geobox() == cube.groups["dsm"].geobox and result.sensors == ("s2", "dsm")
    with rasterio.open(result.files.classes) as src:
        written = GeoBox((src.height, src.width), src.transform, src.crs)
        ids = np.unique(src.read(1))
    assert written == cube.geobox() and set(ids.tolist()) <= {1, 2, 255}
