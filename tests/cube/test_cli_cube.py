"""``eofusion cube build`` from a catalog of local files, then ``eofusion cube info``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
import xarray as xr
import zarr
from click.testing import CliRunner
from cubefactory import dt

from eofusion.catalog import NormalizedItem
from eofusion.catalog.build import build_items, write_catalog
from eofusion.cli import cli


def test_cube_build_and_info(s2_scene: Callable[..., NormalizedItem], tmp_path: Path) -> None:
    scenes = []
    for day in (1, 11):
        item = s2_scene(f"S2A_MSIL2A_202406{day:02d}T103021_T31TFJ", dt(day), size=64, seed=day)
        (tmp_path / item.id / "acquired.txt").write_text(f"2024-06-{day:02d}T10:30:21Z")
        scenes.append(item)
    built = build_items([tmp_path / s.id for s in scenes], sensor="sentinel-2a")
    catalog, _ = write_catalog(built.items, tmp_path / "catalog")
    west, south, east, north = scenes[0].bbox
    aoi = f"{west + 0.001},{south + 0.001},{east - 0.001},{north - 0.001}"
    out = tmp_path / "cube.zarr"
    args = [
        "cube",
        "build",
        "--catalog",
        str(catalog),
        "--aoi",
        aoi,
        "--time",
        "2024-06-01/2024-06-30",
        "--sensors",
        "s2",
        "--out",
        str(out),
        "--scheduler",
        "threads",
        "--chunk-size",
        "32",
        "--no-progress",
    ]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    info = CliRunner().invoke(cli, ["cube", "info", str(out), "--json"], catch_exceptions=False)
    summary = json.loads(info.output)
    assert summary["valid"] and summary["groups"]["s2"]["crs"] == "EPSG:32631"
    assert len(summary["groups"]["s2"]["times"]) == 2
    assert summary["groups"]["s2"]["bands"] == ["B02", "B03", "B04", "B05", "B08", "B11"]
    cube = xr.open_zarr(out, group="s2", decode_coords="all", consolidated=False)
    b04 = cube["data"].sel(band="B04").isel(time=0)
    with rasterio.open(scenes[0].assets["B04"].href) as src:
        x, y = float(b04.x[3]), float(b04.y[5])
        row, col = src.index(x, y)
        dn = src.read(1)[row, col]
    assert float(b04.isel(x=3, y=5)) == np.float32(dn) * np.float32(1e-4) - np.float32(0.1)
    text = CliRunner().invoke(cli, ["cube", "info", str(out)])
    assert "s2: time=2" in text.output
    rerun = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert "0 blocks written" in rerun.output
    # --dtype source keeps the provider's integers: on the native grid the stored values ARE the file's DNs.
    packed = tmp_path / "packed.zarr"
    args_packed = [*args[: args.index("--out") + 1], str(packed), *args[args.index("--out") + 2 :], "--dtype", "source"]
    result = CliRunner().invoke(cli, args_packed, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(CliRunner().invoke(cli, ["cube", "info", str(packed), "--json"]).output)
    assert (
        "stored as uint16 x 0.0001 + -0.1 (CF packed)" in CliRunner().invoke(cli, ["cube", "info", str(packed)]).output
    )
    assert summary["valid"] and summary["groups"]["s2"]["dtype"] == "uint16"
    stored = zarr.open_array(str(packed), path="s2/data", mode="r")
    band = summary["groups"]["s2"]["bands"].index("B04")
    assert stored[0, band, 5, 3] == dn
    with rasterio.open(scenes[0].assets["B02"].href) as src:  # a whole band: every DN kept, bit for bit
        row0, col0 = src.index(float(cube.x[0]), float(cube.y[0]))
        b02 = src.read(1)[row0 : row0 + stored.shape[2], col0 : col0 + stored.shape[3]]
    assert b02.shape == stored.shape[2:] and np.array_equal(
        stored[0, summary["groups"]["s2"]["bands"].index("B02")], b02
    )
