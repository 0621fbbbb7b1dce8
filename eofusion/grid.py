"""Target grids: nested per-sensor grids over an AOI, and a tiling scheme with stable tile ids.

Every grid of a :class:`NestedGrids` shares one CRS and exactly the same outer bounds, and the bounds are
snapped to multiples of the coarsest resolution counted from the CRS origin. Hence every coarse pixel covers
a whole number of fine pixels, pixel edges of all sensors coincide, and two AOIs processed separately agree
pixel for pixel where they overlap — no half-pixel shifts anywhere (the misalignment users of odc-stac and
stackstac report most). Grids are odc-geo ``GeoBox`` objects.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from odc.geo import CRS
from odc.geo.geobox import GeoBox
from odc.geo.geom import BoundingBox, Geometry, box
from rasterio.windows import Window

from eofusion.errors import GridError

# Tolerance for "this resolution divides that one": resolutions are decimal metres such as 0.2 or 10.
_RATIO_TOL = 1e-9
_TILE_ID = re.compile(r"(?P<epsg>\d{4,6})_(?P<size>\d+(?:\.\d+)?)m_x(?P<ix>-?\d+)_y(?P<iy>-?\d+)")
# Tiles one AOI may span before enumerating them is refused (a 0.001 m tile size or a whole-globe bbox would
# otherwise enumerate ~1e11 tiles without a word); callers can raise it.
DEFAULT_MAX_TILES = 10_000

# Tolerance, in pixels, for "this edge lies on a pixel edge".
_EDGE_TOL = 1e-3
Bounds = tuple[float, float, float, float]  # left, bottom, right, top (CRS units)
AOILike = Any  # (minx, miny, maxx, maxy) in EPSG:4326, GeoJSON mapping, shapely geometry, GeoDataFrame, Geometry


def utm_crs_for(lon: float, lat: float) -> CRS:
    """The WGS 84 / UTM zone CRS containing a lon/lat point (EPSG:326zz north, 327zz south)."""
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise GridError(f"({lon}, {lat}) is not a longitude/latitude pair; give the AOI in EPSG:4326 or with a crs.")
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return CRS(f"EPSG:{(32600 if lat >= 0 else 32700) + zone}")


def as_geometry(aoi: AOILike, crs: Any = "EPSG:4326") -> Geometry:
    """Any AOI form -> an odc-geo Geometry with a CRS (``crs`` applies to bboxes and bare geometries)."""
    if isinstance(aoi, Geometry):
        return aoi
    if isinstance(aoi, BoundingBox):
        return box(aoi.left, aoi.bottom, aoi.right, aoi.top, aoi.crs or crs)
    if hasattr(aoi, "geometry") and hasattr(aoi, "crs") and hasattr(aoi, "union_all"):  # GeoDataFrame
        if aoi.crs is None:
            raise GridError("The AOI GeoDataFrame has no CRS; set one with gdf.set_crs(...).")
        return Geometry(aoi.union_all(), crs=aoi.crs.to_wkt())
    if isinstance(aoi, Mapping):
        geom = aoi.get("geometry", aoi) if aoi.get("type") == "Feature" else aoi
        return Geometry(dict(geom), crs=crs)
    if isinstance(aoi, list | tuple) and len(aoi) == 4:
        minx, miny, maxx, maxy = (float(v) for v in aoi)
        if not (minx < maxx and miny < maxy):
            raise GridError(f"Malformed bbox {tuple(aoi)}: expected (minx, miny, maxx, maxy) with min < max.")
        return box(minx, miny, maxx, maxy, crs)
    if hasattr(aoi, "geom_type"):  # shapely geometry
        return Geometry(aoi, crs=crs)
    raise GridError(
        f"Cannot use {type(aoi).__name__} as an AOI; give a (minx, miny, maxx, maxy) bbox, a GeoJSON geometry, "
        "a shapely geometry, a GeoDataFrame or a tile id."
    )


@dataclass(frozen=True)
class ChipWindow:
    """A square ground window: upper-left corner (``left``, ``top``) and side ``size_m`` in CRS units."""

    left: float
    top: float
    size_m: float

    @property
    def bounds(self) -> Bounds:
        """(left, bottom, right, top)."""
        return (self.left, self.top - self.size_m, self.left + self.size_m, self.top)


def pixel_window(geobox: GeoBox, bounds: Bounds) -> Window:
    """The pixel window of ``geobox`` whose edges are exactly ``bounds`` (it may reach past the grid).

    The one place where ground coordinates become pixel offsets: every reader and writer of a cube or
    map takes its windows from here.

    Raises:
        GridError: An edge of ``bounds`` does not lie on a pixel edge of ``geobox``.
    """
    left, bottom, right, top = bounds
    corners = (geobox.wld2pix(left, top), geobox.wld2pix(right, bottom))
    (c0, r0), (c1, r1) = ((round(c), round(r)) for c, r in corners)
    off = max(abs(v - round(v)) for corner in corners for v in corner)
    if off > _EDGE_TOL or c1 <= c0 or r1 <= r0:
        raise GridError(
            f"Bounds {tuple(bounds)} do not lie on the pixel edges of the {abs(geobox.resolution.x):g} m grid "
            f"{tuple(geobox.boundingbox)}; snap them to the grid (chips snap to the coarsest pixel)."
        )
    return Window(c0, r0, c1 - c0, r1 - r0)  # type: ignore[call-arg]


def window_bounds(geobox: GeoBox, window: Window) -> Bounds:
    """(left, bottom, right, top) of a pixel window of ``geobox`` (the inverse of :func:`pixel_window`)."""
    left, top = geobox.pix2wld(window.col_off, window.row_off)
    right, bottom = geobox.pix2wld(window.col_off + window.width, window.row_off + window.height)
    return (float(left), float(bottom), float(right), float(top))


def _check_nested(resolutions: Mapping[str, float]) -> None:
    for name, res in resolutions.items():
        if not res > 0:
            raise GridError(f"Resolution for {name!r} must be positive, got {res}.")
    items = sorted(resolutions.items(), key=lambda kv: kv[1])
    for i, (fine_name, fine) in enumerate(items):
        for coarse_name, coarse in items[i + 1 :]:
            ratio = coarse / fine
            if abs(ratio - round(ratio)) > _RATIO_TOL * max(1.0, ratio):
                raise GridError(
                    f"Resolutions are not nested: {coarse_name}={coarse:g} is not a whole multiple of "
                    f"{fine_name}={fine:g} (ratio {ratio:.6g}). Choose resolutions where each coarse pixel covers a "
                    "whole number of fine pixels, e.g. 10 / 1 / 0.2."
                )


def _snap_outward(lo: float, hi: float, step: float) -> tuple[float, float]:
    # Exact decimal arithmetic for the step keeps 0.2 m grids free of float drift.
    frac = Fraction(str(step))
    lo_i = math.floor(Fraction(lo) / frac + Fraction(1, 10**9))
    hi_i = math.ceil(Fraction(hi) / frac - Fraction(1, 10**9))
    hi_i = max(hi_i, lo_i + 1)
    return float(lo_i * frac), float(hi_i * frac)


@dataclass(frozen=True)
class NestedGrids:
    """Per-sensor grids over one AOI: same CRS, same outer bounds, nested pixel sizes.

    Attributes:
        crs: The common CRS (projected, metres).
        bounds: (left, bottom, right, top) shared by every grid, snapped to the coarsest resolution.
        resolutions: Grid key (usually a sensor group such as ``s2``, ``aerial``) -> pixel size.
    """

    crs: CRS
    bounds: tuple[float, float, float, float]
    resolutions: Mapping[str, float]

    def __post_init__(self) -> None:
        _check_nested(self.resolutions)

    def geobox(self, key: str) -> GeoBox:
        """The grid for one key."""
        if key not in self.resolutions:
            raise GridError(f"No grid {key!r}; this family has {', '.join(self.resolutions)}.")
        return GeoBox.from_bbox(self.bounds, self.crs, resolution=self.resolutions[key], tight=True)

    def factor(self, coarse: str, fine: str) -> int:
        """How many fine pixels span one coarse pixel along each axis."""
        return round(self.resolutions[coarse] / self.resolutions[fine])

    @property
    def keys(self) -> tuple[str, ...]:
        """Grid keys, finest first."""
        return tuple(sorted(self.resolutions, key=lambda k: self.resolutions[k]))

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}: {self.resolutions[k]:g} m {tuple(self.geobox(k).shape)}" for k in self.keys)
        return f"NestedGrids({self.crs}, bounds={self.bounds}, {shapes})"


def nested_grids(
    aoi: AOILike | str,
    resolutions: Mapping[str, float],
    crs: Any = None,
    aoi_crs: Any = "EPSG:4326",
    tiling: TilingScheme | None = None,
) -> NestedGrids:
    """Build nested grids covering an AOI.

    Args:
        aoi: A bbox / geometry / GeoDataFrame (in ``aoi_crs`` unless it carries a CRS), or a tile id of
            ``tiling`` (see :meth:`TilingScheme.tile_id`).
        resolutions: Grid key -> pixel size in CRS units; all pairs must be nested (e.g. 10, 1, 0.2).
        crs: Target CRS; default: the UTM zone of the AOI's centroid (the tile's CRS for a tile id).
        aoi_crs: CRS of a bbox or bare geometry AOI.
        tiling: The scheme a tile id refers to.

    Raises:
        GridError: Resolutions not nested, AOI malformed, or a tile id without its tiling scheme.
    """
    _check_nested(resolutions)
    if isinstance(aoi, str):
        if tiling is None:
            raise GridError(f"AOI {aoi!r} looks like a tile id; pass the tiling=TilingScheme(...) it belongs to.")
        return tiling.grids(aoi, resolutions)
    geom = as_geometry(aoi, aoi_crs)
    if crs is None:
        centre = geom.centroid.to_crs("EPSG:4326")
        lon, lat = centre.coords[0]
        target = utm_crs_for(lon, lat)
    else:
        target = CRS(crs)
    if target.geographic:
        raise GridError(f"Target CRS {target} is geographic; nested metric grids need a projected CRS (e.g. UTM).")
    left, bottom, right, top = geom.to_crs(target, resolution="auto").boundingbox
    step = max(resolutions.values())
    left, right = _snap_outward(left, right, step)
    bottom, top = _snap_outward(bottom, top, step)
    return NestedGrids(target, (left, bottom, right, top), dict(resolutions))


def parse_tile_id(tile_id: str) -> tuple[int, float, int, int]:
    """``"32631_2560m_x117_y1876"`` -> (EPSG code, tile size m, ix, iy); the whole string must match.

    Raises:
        GridError: Not a tile id (trailing characters, newlines or path segments included).
    """
    match = _TILE_ID.fullmatch(tile_id)
    if not match:
        raise GridError(f"{tile_id!r} is not a tile id; expected EPSG_SIZEm_xIX_yIY, e.g. 32631_2560m_x117_y1876.")
    return int(match["epsg"]), float(match["size"]), int(match["ix"]), int(match["iy"])


def scheme_of_tile(tile_id: str) -> TilingScheme:
    """The tiling scheme a tile id belongs to."""
    epsg, size, _, _ = parse_tile_id(tile_id)
    return TilingScheme(CRS(f"EPSG:{epsg}"), size)


@dataclass(frozen=True)
class TilingScheme:
    """Square tiles of ``tile_size_m`` in one CRS, counted from the CRS origin; ids like ``32631_2560m_x117_y1876``."""

    crs: CRS
    tile_size_m: float

    def tile_id(self, ix: int, iy: int) -> str:
        """The id of tile column ``ix``, row ``iy`` (``iy`` grows northwards)."""
        size = f"{self.tile_size_m:g}"
        return f"{self.crs.epsg}_{size}m_x{ix}_y{iy}"

    def parse(self, tile_id: str) -> tuple[int, int]:
        """``tile_id`` -> (ix, iy); checks that it belongs to this scheme."""
        epsg, size, ix, iy = parse_tile_id(tile_id)
        if epsg != self.crs.epsg or size != self.tile_size_m:
            raise GridError(
                f"Tile {tile_id!r} belongs to another scheme than EPSG:{self.crs.epsg} / {self.tile_size_m:g} m."
            )
        return ix, iy

    def bounds(self, tile_id: str) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) of a tile."""
        ix, iy = self.parse(tile_id)
        s = self.tile_size_m
        return (ix * s, iy * s, (ix + 1) * s, (iy + 1) * s)

    def grids(self, tile_id: str, resolutions: Mapping[str, float]) -> NestedGrids:
        """Nested grids covering exactly one tile (the tile size must be a multiple of every resolution)."""
        _check_nested({**resolutions, "tile": self.tile_size_m})
        return NestedGrids(self.crs, self.bounds(tile_id), dict(resolutions))

    def tiles_for(self, aoi: AOILike, aoi_crs: Any = "EPSG:4326", max_tiles: int = DEFAULT_MAX_TILES) -> list[str]:
        """Ids of the tiles whose square intersects the AOI, row by row from the south-west.

        Raises:
            GridError: The AOI's bounding box spans more than ``max_tiles`` tiles (counted before any is made).
        """
        geom = as_geometry(aoi, aoi_crs).to_crs(self.crs, resolution="auto")
        left, bottom, right, top = geom.boundingbox
        s = self.tile_size_m
        spanned = (math.ceil(top / s) - math.floor(bottom / s)) * (math.ceil(right / s) - math.floor(left / s))
        if spanned > max_tiles:
            raise GridError(
                f"The AOI spans {spanned:.3g} tiles of {s:g} m, more than the limit of {max_tiles}: use a larger "
                "tile size (tiling.tile_size_m), a smaller AOI, or raise the limit (tiling.max_tiles)."
            )
        ids = []
        for iy in range(math.floor(bottom / s), math.ceil(top / s)):
            for ix in range(math.floor(left / s), math.ceil(right / s)):
                square = box(ix * s, iy * s, (ix + 1) * s, (iy + 1) * s, self.crs)
                if square.intersects(geom):
                    ids.append(self.tile_id(ix, iy))
        return ids
