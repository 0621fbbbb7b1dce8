"""Property: for any AOI, CRS and nested resolution family, the map grid is the cube's finest grid and every
chip window the reader computes maps back to the same ground bounds on every group's grid."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eofusion.cube.cube import Cube, CubeGroup
from eofusion.grid import nested_grids, pixel_window, window_bounds
from eofusion.mapping.predict import map_geobox
from eofusion.training.chips import grid_windows, random_windows

# (CRS, lon range, lat range) where the CRS is meant to be used
CRSS = [
    ("EPSG:32631", (0.5, 5.5), (40.0, 50.0)),  # UTM 31N
    ("EPSG:32633", (12.5, 17.5), (45.0, 60.0)),  # UTM 33N
    ("EPSG:32755", (144.5, 149.5), (-40.0, -30.0)),  # UTM 55S (southern hemisphere: false northing)
    ("EPSG:2154", (-1.0, 6.0), (43.0, 50.0)),  # Lambert-93
    ("EPSG:3035", (5.0, 20.0), (45.0, 55.0)),  # LAEA Europe
]
# resolution families: each group key -> pixel size, all nested in the coarsest
FAMILIES = [
    {"s2": 10.0, "s1": 10.0, "aerial": 1.0, "dsm": 1.0},
    {"s2": 10.0, "aerial": 0.2, "dsm": 1.0},
    {"landsat": 30.0, "s2": 10.0, "dsm": 2.0},
    {"s2": 20.0, "aerial": 2.5},
]


def cube_on(grids_crs: str, lon: float, lat: float, size_deg: float, family: dict[str, float]) -> Cube:
    """A Cube object on nested grids (no store: the grid logic does not read pixels)."""
    grids = nested_grids((lon, lat, lon + size_deg, lat + size_deg * 0.8), family, crs=grids_crs)
    groups = {
        key: CubeGroup(key, grids.geobox(key), (), (), "test", (), (256, 256))
        for key in family  # group order as given, not finest first
    }
    return Cube("memory://cube", groups, {})


@st.composite
def cubes(draw: st.DrawFn) -> Cube:
    crs, (lon0, lon1), (lat0, lat1) = draw(st.sampled_from(CRSS))
    lon = draw(st.floats(lon0, lon1 - 0.05))
    lat = draw(st.floats(lat0, lat1 - 0.05))
    size = draw(st.floats(0.004, 0.03))  # ~300 m to ~3 km
    return cube_on(crs, lon, lat, size, draw(st.sampled_from(FAMILIES)))


@settings(max_examples=60, deadline=None)
@given(cube=cubes(), chip_px=st.integers(1, 8), seed=st.integers(0, 2**16))
def test_map_grid_and_chip_windows_agree_with_the_cube(cube: Cube, chip_px: int, seed: int) -> None:
    finest = min(cube.groups.values(), key=lambda g: g.res)
    # the map is written on the cube's finest grid, and on the coarsest when asked for its resolution
    assert map_geobox(cube) == finest.geobox == cube.geobox()
    coarsest = max(cube.groups.values(), key=lambda g: g.res)
    assert map_geobox(cube, coarsest.res) == coarsest.geobox
    # every group lies on one extent in one CRS
    assert all(tuple(g.geobox.boundingbox) == pytest.approx(tuple(cube.bounds), abs=1e-6) for g in cube.groups.values())
    size_m = chip_px * cube.coarsest_m
    rows = round((cube.bounds[3] - cube.bounds[1]) / cube.coarsest_m)
    cols = round((cube.bounds[2] - cube.bounds[0]) / cube.coarsest_m)
    if chip_px > min(rows, cols):
        return
    windows = random_windows(cube.bounds, size_m, 5, seed=seed, snap_m=cube.coarsest_m)
    windows += grid_windows(cube.bounds, size_m, snap_m=cube.coarsest_m)[:5]
    for window in windows:
        for group in cube.groups.values():
            pixels = pixel_window(group.geobox, window.bounds)
            side = size_m / group.res
            assert (pixels.width, pixels.height) == (round(side), round(side))
            assert pixels.row_off >= 0 and pixels.row_off + pixels.height <= group.shape[0]
            assert pixels.col_off >= 0 and pixels.col_off + pixels.width <= group.shape[1]
            back = window_bounds(group.geobox, pixels)
            np.testing.assert_allclose(back, window.bounds, atol=1e-6 * max(1.0, group.res))
