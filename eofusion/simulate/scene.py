"""The world's vectors: parcels, woods, water, roads, a village and farmsteads, in the world CRS.

Everything a sensor sees is derived from one z-ordered GeoDataFrame of polygons (later rows lie on top)
plus the continuous fields of :mod:`eofusion.simulate.fields`. Each row carries the attributes renderers
need (class, crop, materials, building geometry), so a raster of row ids (``fid``) rendered on any grid is
enough to look everything else up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from eofusion.simulate.classes import CROP, LC
from eofusion.simulate.config import WorldConfig
from eofusion.simulate.fields import terrain

MARGIN_M = 150.0  # content extends this far beyond the world square (covers other CRSs' grids)


class Material(IntEnum):
    """Surface material where a class has several (roofs, paved surfaces)."""

    DEFAULT = 0
    ROOF_TILE = 1
    ROOF_GREY = 2
    ASPHALT = 3
    CONCRETE = 4


@dataclass(frozen=True)
class Scene:
    """The world's geometry: its square (``aoi``), content extent and z-ordered features, in ``crs``."""

    crs: str
    aoi: Polygon
    extent: Polygon
    features: gpd.GeoDataFrame


_COLUMNS = (
    "class_id", "crop_id", "parcel_id", "material", "height_m", "pitch_deg", "orient_rad",
    "cx", "cy", "length_m", "width_m", "pheno_shift", "brightness",
)  # fmt: skip


def world_origin(config: WorldConfig) -> tuple[float, float]:
    """Lower-left corner of the world square in the world CRS, snapped to 60 m."""
    to_world = Transformer.from_crs("EPSG:4326", config.world_crs, always_xy=True)
    cx, cy = to_world.transform(*config.centre_lonlat)
    half = config.world_size_m / 2
    return round((cx - half) / 60.0) * 60.0, round((cy - half) / 60.0) * 60.0


class _Builder:
    """Accumulates features in z-order while the layout is generated."""

    def __init__(self, config: WorldConfig) -> None:
        self.config = config
        self.rng = np.random.default_rng([config.seed, 20240])
        x0, y0 = world_origin(config)
        size = config.world_size_m
        self.aoi = box(x0, y0, x0 + size, y0 + size)
        self.extent = box(x0 - MARGIN_M, y0 - MARGIN_M, x0 + size + MARGIN_M, y0 + size + MARGIN_M)
        self.cx, self.cy = x0 + size / 2, y0 + size / 2
        self.theta = float(self.rng.uniform(-25, 25))  # field-pattern orientation, degrees
        self.half = (size / 2 + MARGIN_M) * 1.45  # local half-extent covering the rotated square
        self.rows: list[dict[str, Any]] = []

    def to_world(self, geom: BaseGeometry) -> BaseGeometry:
        moved = affinity.translate(geom, self.cx, self.cy)
        return affinity.rotate(moved, self.theta, origin=(self.cx, self.cy))

    def add(self, geom: BaseGeometry, class_id: int, **attrs: Any) -> None:
        geom = geom.intersection(self.extent)
        if geom.is_empty or geom.area < 1.0:
            return
        row: dict[str, Any] = dict.fromkeys(_COLUMNS, 0)
        row.update(class_id=class_id, brightness=1.0, orient_rad=math.radians(self.theta))
        row.update(attrs)
        row["geometry"] = geom
        self.rows.append(row)


def _split(rng: np.random.Generator, rect: tuple[float, float, float, float], area_max: Any) -> list[tuple]:
    """Recursive rectangle split (local frame) until each piece is below its target area."""
    u0, v0, u1, v1 = rect
    w, h = u1 - u0, v1 - v0
    limit, min_side = area_max((u0 + u1) / 2, (v0 + v1) / 2)
    if w * h <= limit * rng.uniform(0.7, 1.3) or max(w, h) < 2 * min_side:
        return [rect]
    ratio = rng.uniform(0.3, 0.7)
    if w > h * 1.3 or (h <= w * 1.3 and rng.uniform() < 0.5):
        cut = u0 + ratio * w
        return _split(rng, (u0, v0, cut, v1), area_max) + _split(rng, (cut, v0, u1, v1), area_max)
    cut = v0 + ratio * h
    return _split(rng, (u0, v0, u1, cut), area_max) + _split(rng, (u0, cut, u1, v1), area_max)


def _wavy_line(rng: np.random.Generator, half: float, offset: float, along_u: bool, amp: float) -> LineString:
    t = np.linspace(-half, half, 60)
    phase, wavelength = rng.uniform(0, 2 * np.pi), rng.uniform(300, 600)
    off = offset + amp * np.sin(t / wavelength * 2 * np.pi + phase)
    pts = np.column_stack([t, off]) if along_u else np.column_stack([off, t])
    return LineString(pts)


def _rect(cu: float, cv: float, length: float, width: float, angle_deg: float) -> Polygon:
    r = box(cu - length / 2, cv - width / 2, cu + length / 2, cv + width / 2)
    return affinity.rotate(r, angle_deg, origin=(cu, cv))


def build_scene(config: WorldConfig) -> Scene:
    """Generate the world's vectors from the config (deterministic in the seed)."""
    b = _Builder(config)
    rng, half, size = b.rng, b.half, config.world_size_m
    b.add(b.extent, LC["herbaceous vegetation"])  # fid 0: verges and field margins everywhere

    # Roads and the village at their crossing (local frame: u along the field pattern).
    v_main = rng.uniform(-0.15, 0.15) * size
    u_sec = rng.uniform(-0.2, 0.2) * size
    main = _wavy_line(rng, half, v_main, True, 10.0)
    secondary = _wavy_line(rng, half, u_sec, False, 14.0)
    track = _wavy_line(rng, half, v_main + rng.choice([-1, 1]) * rng.uniform(0.25, 0.4) * size, True, 6.0)
    village = Point(u_sec + rng.uniform(-40, 40), v_main + rng.uniform(-40, 40))
    radius = min(260.0, max(150.0, 0.14 * size))

    def area_max(u: float, v: float) -> tuple[float, float]:
        if village.distance(Point(u, v)) < radius:
            return 7000.0, 45.0
        return float(rng.uniform(2.5e4, 6e4)), 90.0

    rects = _split(rng, (-half, -half, half, half), area_max)
    parcels = [box(*r) for r in rects]
    world_parcels = [b.to_world(p) for p in parcels]
    keep = [i for i, p in enumerate(world_parcels) if p.intersects(b.extent)]
    urban = [i for i in keep if village.distance(parcels[i].centroid) < radius]
    rural = [i for i in keep if i not in urban]

    cents = np.array([world_parcels[i].centroid.coords[0] for i in rural]).reshape(-1, 2)
    assigned, lake_parcel = _assign_uses(b, cents)
    _add_parcels(b, [world_parcels[i] for i in rural], assigned, lake_parcel)
    for i in urban:  # gardens of the village blocks
        b.add(world_parcels[i].buffer(-4.0, join_style="mitre"), LC["herbaceous vegetation"],
              brightness=float(rng.uniform(0.95, 1.1)))  # fmt: skip
    if lake_parcel >= 0:
        _add_water(b, cents[lake_parcel])

    b.add(b.to_world(track).buffer(2.0, cap_style="flat"), LC["pervious surface"])
    for line, width in ((main, 7.0), (secondary, 5.5)):
        b.add(b.to_world(line).buffer(width / 2, cap_style="flat"), LC["impervious surface"],
              material=int(Material.ASPHALT))  # fmt: skip
    roads_local = main.buffer(8).union(secondary.buffer(7)).union(track.buffer(5))

    _add_village(b, [parcels[i] for i in urban], village, roads_local)
    _add_farms(b, main=main, secondary=secondary, village=village, radius=radius, roads=roads_local)

    gdf = gpd.GeoDataFrame(b.rows, geometry="geometry", crs=config.world_crs)
    gdf.insert(0, "fid", np.arange(len(gdf), dtype=np.int32))
    return Scene(crs=config.world_crs, aoi=b.aoi, extent=b.extent, features=gdf)


_USES = ("crop", "herbaceous vegetation", "deciduous", "coniferous", "brushwood", "vineyard", "plowed land",
         "bare soil")  # fmt: skip
_USE_P = np.array([0.56, 0.12, 0.09, 0.05, 0.05, 0.07, 0.045, 0.015])
_CROPS = ("soft wheat", "winter barley", "rapeseed", "maize", "sunflower", "soybean")
_CROP_P = np.array([0.28, 0.12, 0.1, 0.16, 0.24, 0.1])


def _assign_uses(b: _Builder, cents: npt.NDArray[np.float64]) -> tuple[list[str], int]:
    """Land use per rural parcel (woods favour steep ground; every class at least once) and the lake parcel."""
    rng, seed, n = b.rng, b.config.seed, len(cents)
    if n == 0:
        return [], -1
    x, y = cents[:, 0], cents[:, 1]
    slope = np.hypot(
        terrain(x + 20, y, seed) - terrain(x - 20, y, seed), terrain(x, y + 20, seed) - terrain(x, y - 20, seed)
    )
    slope /= 40.0
    # The lake lies in the lowest parcel well inside the world square (so every sensor sees it).
    inner = b.aoi.buffer(-min(100.0, b.config.world_size_m / 5))
    z = np.where([inner.contains(Point(c)) for c in cents], terrain(x, y, seed), np.inf)
    lake = int(np.argmin(z)) if np.isfinite(z).any() else -1
    assigned: list[str] = []
    for k in range(n):
        p = _USE_P.copy()
        p[2:5] *= 1.0 + 25.0 * slope[k]
        use = _USES[int(rng.choice(len(_USES), p=p / p.sum()))]
        assigned.append(str(rng.choice(_CROPS, p=_CROP_P)) if use == "crop" else use)
    wanted = [*_USES[1:], *_CROPS]
    for name in wanted:
        if name not in assigned and n > len(wanted):
            candidates = [k for k, a in enumerate(assigned) if a in _CROPS and assigned.count(a) > 1]
            if candidates:
                assigned[int(rng.choice(candidates))] = name
    if lake >= 0:
        assigned[lake] = "herbaceous vegetation"
    return assigned, lake


def _add_parcels(b: _Builder, parcels: list[BaseGeometry], assigned: list[str], lake_parcel: int) -> None:
    """Rural parcels with their land use; fields and meadows keep a 4 m grass margin, woods do not."""
    rng = b.rng
    for k, (parcel, use) in enumerate(zip(parcels, assigned, strict=True)):
        attrs: dict[str, Any] = {
            "parcel_id": k + 1,
            "pheno_shift": float(rng.uniform(-8, 8)),
            "brightness": float(rng.uniform(0.9, 1.1)),
        }
        geom = parcel if use in ("deciduous", "coniferous") else parcel.buffer(-2.0, join_style="mitre")
        if use in _CROPS:
            cls, attrs["crop_id"] = LC["agricultural land"], CROP[use]
        else:
            cls = LC[use]
            if use == "vineyard":
                attrs["crop_id"] = CROP["vineyard"]
            elif use == "herbaceous vegetation" and k != lake_parcel and rng.uniform() < 0.6:
                attrs["crop_id"] = CROP["grassland"]
        b.add(geom, cls, **attrs)


def _add_water(b: _Builder, centre: npt.NDArray[np.float64]) -> None:
    """A lake at ``centre`` and a stream through it, lined with riparian trees."""
    rng = b.rng
    lx, ly = float(centre[0]), float(centre[1])
    ang = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    r = rng.uniform(65, 95) * (1 + 0.15 * np.sin(3 * ang + rng.uniform(0, 6)) + 0.08 * np.sin(5 * ang))
    lake = Polygon(np.column_stack([lx + r * np.cos(ang), ly + 0.8 * r * np.sin(ang)]))
    local = affinity.rotate(affinity.translate(Point(lx, ly), -b.cx, -b.cy), -b.theta, origin=(0, 0))
    stream = b.to_world(_wavy_line(rng, b.half, local.x, False, 35.0))
    b.add(stream.buffer(16.0), LC["deciduous"], brightness=1.0)
    b.add(lake.buffer(6.0), LC["herbaceous vegetation"])
    b.add(stream.buffer(3.0), LC["water"])
    b.add(lake, LC["water"])


def _building(b: _Builder, rect: tuple[float, float, float, float, float], height: float, material: Material) -> None:
    """A building (local centre u, v, length, width, angle) with a hipped roof; geometry kept for the DSM."""
    cu, cv, length, width, angle = rect
    poly = b.to_world(_rect(cu, cv, length, width, angle))
    c = poly.centroid
    b.add(poly, LC["building"], material=int(material), height_m=height, pitch_deg=30.0,
          orient_rad=math.radians(angle + b.theta), cx=c.x, cy=c.y, length_m=length, width_m=width)  # fmt: skip


def _add_village(b: _Builder, blocks: list[Polygon], centre: Point, roads: BaseGeometry) -> None:
    rng = b.rng
    placed: list[Polygon] = []
    if not blocks:
        return
    central = min(range(len(blocks)), key=lambda k: blocks[k].centroid.distance(centre))
    for k, block in enumerate(blocks):
        inner = block.buffer(-5.0, join_style="mitre").difference(roads)
        if inner.is_empty:
            continue
        if k == central:  # the square with a church
            c = inner.centroid if inner.area > 0 else block.centroid
            b.add(b.to_world(inner.intersection(c.buffer(35, cap_style="square"))), LC["impervious surface"],
                  material=int(Material.CONCRETE))  # fmt: skip
            _building(b, (c.x, c.y, 26.0, 12.0, 0.0), 11.0, Material.ROOF_TILE)
            continue
        u0, v0, u1, v1 = block.bounds
        bc = block.centroid
        for side in range(4):
            horizontal = side in (0, 1)
            start, stop = (u0, u1) if horizontal else (v0, v1)
            pos = start + rng.uniform(6, 14)
            while pos < stop - 10:
                length, width = rng.uniform(9, 16), rng.uniform(8, 11)
                setback = width / 2 + rng.uniform(5, 9)
                if horizontal:
                    cu, cv, ang = pos + length / 2, (v0 + setback if side == 0 else v1 - setback), 0.0
                else:
                    cu, cv, ang = (u0 + setback if side == 2 else u1 - setback), pos + length / 2, 90.0
                pos += length + rng.uniform(4, 12)
                house = _rect(cu, cv, length, width, ang)
                if not inner.contains(house) or any(house.buffer(2).intersects(p) for p in placed):
                    continue
                placed.append(house)
                roof = Material.ROOF_TILE if rng.uniform() < 0.85 else Material.ROOF_GREY
                # Yard on the street side, pool on the garden side, when they fit.
                toward = np.array([bc.x - cu, bc.y - cv])
                toward /= max(float(np.hypot(*toward)), 1e-6)
                yard = _rect(cu - toward[0] * (width / 2 + 3), cv - toward[1] * (width / 2 + 3), 8, 6, ang)
                if inner.contains(yard):
                    b.add(b.to_world(yard), LC["impervious surface"], material=int(Material.CONCRETE))
                if rng.uniform() < 0.4:
                    pool = _rect(cu + toward[0] * (width / 2 + 6), cv + toward[1] * (width / 2 + 6), 8, 4, ang)
                    if inner.contains(pool) and not any(pool.buffer(1).intersects(p) for p in placed):
                        b.add(b.to_world(pool), LC["swimming pool"])
                        placed.append(pool)
                _building(b, (cu, cv, length, width, ang), float(rng.uniform(3.5, 7.0)), roof)


def _add_farms(b: _Builder, *, main: LineString, secondary: LineString, village: Point, radius: float,
               roads: BaseGeometry) -> None:  # fmt: skip
    rng = b.rng
    n = max(2, round(b.config.world_size_m**2 / 1e6 * 1.2))
    size = b.config.world_size_m
    for _ in range(n * 4):
        if n == 0:
            break
        road = main if rng.uniform() < 0.6 else secondary
        p = road.interpolate(rng.uniform(0.15, 0.85), normalized=True)
        side = rng.choice([-1.0, 1.0])
        offset = rng.uniform(30, 45) * side
        along_u = road is main
        cu, cv = (p.x, p.y + offset) if along_u else (p.x + offset, p.y)
        if Point(cu, cv).distance(village) < radius + 60 or max(abs(cu), abs(cv)) > size / 2 - 40:
            continue
        yard = box(cu - 32, cv - 24, cu + 32, cv + 24)
        if yard.intersects(roads):
            continue
        b.add(b.to_world(yard), LC["pervious surface"])
        barn = (cu - 10, cv, float(rng.uniform(26, 38)), float(rng.uniform(12, 16)), 0.0)
        roof = Material.ROOF_GREY if rng.uniform() < 0.7 else Material.ROOF_TILE
        _building(b, barn, float(rng.uniform(6, 8.5)), roof)
        house = (cu + 20, cv + 4, float(rng.uniform(11, 14)), float(rng.uniform(9, 11)), 90.0)
        _building(b, house, float(rng.uniform(5, 7)), Material.ROOF_TILE)
        n -= 1


def visible_parcels(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Crop parcels (``crop_id > 0``) minus whatever lies on top of them (roads, streams, the lake).

    Rasterising these polygons gives the same crop labels as the z-ordered features do.
    """
    crops = features[features["crop_id"] > 0]
    index = features.sindex
    geoms = features.geometry.to_numpy()
    visible = []
    for fid, geom in zip(crops["fid"].to_numpy(), crops.geometry.to_numpy(), strict=True):
        above = [int(h) for h in index.query(geom, predicate="intersects") if h > fid]
        visible.append(geom.difference(shapely.union_all(geoms[above])) if above else geom)
    out = crops.copy()
    out["geometry"] = visible
    return out[~out.geometry.is_empty]
