"""Nested grids and tiling: exact nesting, snapping, no half-pixel shifts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from odc.geo.geom import box

from eofusion.errors import GridError
from eofusion.grid import TilingScheme, nested_grids, utm_crs_for

RESOLUTION_SETS = [
    {"s2": 10.0, "dsm": 1.0, "aerial": 0.2},
    {"s2": 10.0, "s1": 10.0, "dsm": 0.5},
    {"landsat": 30.0, "s2": 10.0, "aerial": 0.25},
    {"s2": 20.0, "aerial": 0.2},
]


@settings(max_examples=60, deadline=None)
@given(
    lon=st.floats(-179.0, 179.0),
    lat=st.floats(-79.0, 79.0),
    width=st.floats(0.001, 0.05),
    height=st.floats(0.001, 0.05),
    res_index=st.integers(0, len(RESOLUTION_SETS) - 1),
)
def test_grids_nest_share_bounds_and_cover_the_aoi(
    lon: float, lat: float, width: float, height: float, res_index: int
) -> None:
    resolutions = RESOLUTION_SETS[res_index]
    aoi = (lon, lat, lon + width, lat + height)
    grids = nested_grids(aoi, resolutions)
    coarsest = max(resolutions.values())
    left, bottom, right, top = grids.bounds
    for key, res in resolutions.items():
        gb = grids.geobox(key)
        a = gb.affine
        assert (a.a, a.e) == pytest.approx((res, -res))
        assert (a.c, a.f) == pytest.approx((left, top))  # same outer bounds, no half-pixel shift
        assert gb.shape[1] * res == pytest.approx(right - left)
        assert gb.shape[0] * res == pytest.approx(top - bottom)
    # every grid's pixel count is a whole multiple of the coarsest one's
    coarse = grids.geobox(max(resolutions, key=resolutions.__getitem__))
    for key in resolutions:
        f = grids.factor(max(resolutions, key=resolutions.__getitem__), key)
        assert grids.geobox(key).shape == (coarse.shape[0] * f, coarse.shape[1] * f)
    # bounds snapped to the coarsest resolution from the CRS origin
    for edge in grids.bounds:
        assert abs(edge / coarsest - round(edge / coarsest)) < 1e-6
    # the AOI lies inside the grid
    extent = grids.geobox(next(iter(resolutions))).extent
    assert extent.contains(box(*aoi, "EPSG:4326").to_crs(grids.crs).buffer(-0.01))


def test_two_overlapping_aois_agree_pixel_for_pixel() -> None:
    a = nested_grids((1.40, 43.50, 1.42, 43.52), {"s2": 10.0}).geobox("s2")
    b = nested_grids((1.41, 43.49, 1.43, 43.51), {"s2": 10.0}).geobox("s2")
    assert (a.affine.c - b.affine.c) % 10 == 0 and (a.affine.f - b.affine.f) % 10 == 0


def test_default_crs_is_the_utm_zone() -> None:
    assert nested_grids((1.4, 43.5, 1.41, 43.51), {"s2": 10}).crs.epsg == 32631
    assert nested_grids((-70.1, -45.0, -70.0, -44.9), {"s2": 10}).crs.epsg == 32719
    assert utm_crs_for(14.5, 46.0).epsg == 32633


def test_not_nested_and_bad_inputs_are_refused() -> None:
    with pytest.raises(GridError, match="not a whole multiple"):
        nested_grids((1.4, 43.5, 1.41, 43.51), {"a": 20, "b": 30})
    with pytest.raises(GridError, match="Malformed bbox"):
        nested_grids((1.41, 43.5, 1.40, 43.51), {"s2": 10})
    with pytest.raises(GridError, match="geographic"):
        nested_grids((1.4, 43.5, 1.41, 43.51), {"s2": 10}, crs="EPSG:4326")
    with pytest.raises(GridError, match="tiling"):
        nested_grids("32631_2560m_x1_y2", {"s2": 10})


def test_tiling_ids_round_trip_and_cover_the_aoi() -> None:
    scheme = TilingScheme(nested_grids((1.4, 43.5, 1.41, 43.51), {"s2": 10}).crs, 2560)
    ids = scheme.tiles_for((1.40, 43.50, 1.45, 43.53))
    assert len(ids) >= 2 and len(set(ids)) == len(ids)
    grids = scheme.grids(ids[0], {"s2": 10, "aerial": 0.2})
    assert grids.geobox("s2").shape == (256, 256) and grids.geobox("aerial").shape == (12800, 12800)
    assert scheme.tile_id(*scheme.parse(ids[0])) == ids[0]
    with pytest.raises(GridError, match="another scheme"):
        scheme.parse("32632_2560m_x1_y1")
