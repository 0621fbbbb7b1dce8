"""Writers for each product of the world: render window by window, write COGs, return the STAC item."""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pystac
import shapely
from odc.geo.geobox import GeoBox
from pyproj import Transformer
from rasterio.windows import Window
from shapely.geometry import Polygon, box

from eofusion.sensors.elevation import ELEVATION_NODATA
from eofusion.sensors.sentinel1 import C_BAND_FREQUENCY_GHZ
from eofusion.sensors.sentinel2 import SCL_CLASSES
from eofusion.simulate import stac
from eofusion.simulate.classes import LANDCOVER_NODATA, landcover_colormap
from eofusion.simulate.cog import CogWriter
from eofusion.simulate.config import WorldConfig
from eofusion.simulate.grids import AERIAL_CRS, FeatureRasteriser, iter_windows, world_grids
from eofusion.simulate.parallel import ordered_map
from eofusion.simulate.render_landsat import LANDSAT_BANDS, LandsatRenderer
from eofusion.simulate.render_s1 import POLARISATIONS, S1Acquisition, S1Renderer
from eofusion.simulate.render_s2 import (
    BAND_RES,
    PROCESSING_BASELINE,
    S2_BANDS,
    S2Acquisition,
    S2Renderer,
    to_dn,
)
from eofusion.simulate.render_vhr import AERIAL_BANDS, NAIP_CAMERA, VhrRenderer, aerial_datetime
from eofusion.simulate.scene import Scene, world_origin
from eofusion.simulate.surface import FeatureTable

COLLECTIONS = {
    "s2": "sentinel-2-l2a",
    "s1": "sentinel-1-rtc",
    "aerial": "aerial-ign",
    "elevation": "elevation",
    "landcover": "landcover",
    # Sensors the model never sees in training (WorldConfig.landsat / .naip); see products_unseen.
    "landsat": "landsat-c2-l2",
    "naip": "aerial-naip",
}


def reproject(geom: Polygon, src: str, dst: str) -> Polygon:
    tr = Transformer.from_crs(src, dst, always_xy=True)
    return shapely.transform(geom.segmentize(50.0), tr.transform, interleaved=False)  # type: ignore[no-any-return]


@dataclass
class Context:
    """What every writer shares: config, scene, renderers, grids and footprints."""

    config: WorldConfig
    scene: Scene
    catalog_dir: Path
    items: dict[str, list[pystac.Item]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cfg = self.config
        self.table = FeatureTable.from_features(self.scene.features)
        self.rasteriser = FeatureRasteriser(self.scene.features)
        self.grids = world_grids(cfg)
        self.s2 = S2Renderer(cfg, self.table, self.rasteriser)
        self.s1 = S1Renderer(cfg, self.table, self.rasteriser)
        self.vhr = VhrRenderer(cfg, self.table, self.rasteriser)
        self.landsat = LandsatRenderer(cfg, self.table, self.rasteriser)
        self.naip = VhrRenderer(cfg, self.table, self.rasteriser, NAIP_CAMERA)
        self.footprint = reproject(self.scene.aoi, cfg.world_crs, "EPSG:4326")
        x0, y0 = world_origin(cfg)
        part = cfg.aerial_size_m or cfg.world_size_m
        lo = (cfg.world_size_m - part) / 2
        survey = box(x0 + lo, y0 + lo, x0 + lo + part, y0 + lo + part)
        self.survey_l93 = reproject(survey, cfg.world_crs, AERIAL_CRS)
        self.vhr_footprint = reproject(box(*self.grids["aerial"].boundingbox), AERIAL_CRS, "EPSG:4326")

    def item_dir(self, kind: str, item_id: str) -> Path:
        return self.catalog_dir / COLLECTIONS[kind] / item_id

    def add(self, kind: str, item: pystac.Item) -> None:
        self.items.setdefault(kind, []).append(item)


def s2_item_id(acq: S2Acquisition) -> str:
    letter = acq.platform[-1].upper()
    return f"S2{letter}_MSIL2A_{acq.datetime:%Y%m%dT%H%M%S}_N{PROCESSING_BASELINE.replace('.', '')}_R051_DEMO"


def s1_item_id(acq: S1Acquisition) -> str:
    return f"S1A_IW_GRDH_1SDV_{acq.start:%Y%m%dT%H%M%S}_{acq.end:%Y%m%dT%H%M%S}_{acq.absolute_orbit:06d}_DEMO_rtc"


def aerial_item_id(config: WorldConfig) -> str:
    return f"IGN_BDORTHO_RGBN_{config.aerial_date:%Y%m%d}_{config.aerial_resolution_m:g}M_DEMO"


def elevation_item_id(config: WorldConfig) -> str:
    return f"IGN_LIDARHD_DSM_DTM_{config.aerial_date:%Y}_{config.dsm_resolution_m:g}M_DEMO"


def landcover_item_id(config: WorldConfig) -> str:
    return f"LANDCOVER_TRUTH_{config.aerial_date:%Y%m%d}_SEED{config.seed}"


def write_landcover(ctx: Context) -> None:
    """The land-cover truth COG on the Lambert-93 truth grid, and its item."""
    gbox = ctx.grids["landcover"]
    item_id = landcover_item_id(ctx.config)
    path = ctx.item_dir("landcover", item_id) / "landcover.tif"
    with CogWriter(path, gbox, "uint8", nodata=LANDCOVER_NODATA, resampling="mode", blocksize=512,
                   tags={"classes": "see classification:classes in the STAC item"},
                   descriptions=("land cover class",)) as w:  # fmt: skip
        w.write_colormap(landcover_colormap())
        for window, g in iter_windows(gbox, ctx.config.window_px):
            fid = ctx.rasteriser.fid(g)
            w.write(np.where(fid < 0, LANDCOVER_NODATA, ctx.table.class_id[np.maximum(fid, 0)]), window)
    item = stac.new_item(
        item_id, ctx.vhr_footprint, aerial_datetime(ctx.config), collection=COLLECTIONS["landcover"],
        properties={"proj:epsg": stac.epsg(gbox), "gsd": abs(gbox.affine.a)},
        extensions=("proj", "raster", "classification"),
    )  # fmt: skip
    stac.add_asset(
        item, "landcover", href="./landcover.tif", title="Land cover (FLAIR-like nomenclature)", gbox=gbox,
        raster_bands=[{"data_type": "uint8", "nodata": LANDCOVER_NODATA, "spatial_resolution": abs(gbox.affine.a)}],
        **{"classification:classes": stac.classification_classes()},
    )  # fmt: skip
    ctx.add("landcover", item)


def write_s2(ctx: Context, acq: S2Acquisition) -> None:
    """Twelve band COGs (native 10/20/60 m) and the SCL of one date, and the item."""
    item_id = s2_item_id(acq)
    folder = ctx.item_dir("s2", item_id)
    counts: Counter[int] = Counter()
    units = {"units": "DN; reflectance = DN * 1e-4 - 0.1 (processing baseline >= 04.00)"}
    with ExitStack() as stack:
        writers = {
            b: stack.enter_context(
                CogWriter(folder / f"{b}.tif", ctx.s2.grids[b], "uint16", nodata=0, descriptions=(b,), tags=units)
            )
            for b in S2_BANDS
        }
        scl_w = stack.enter_context(
            CogWriter(
                folder / "SCL.tif", ctx.s2.grid_20m, "uint8", nodata=0, resampling="nearest", descriptions=("SCL",)
            )
        )
        for win60 in ctx.s2.windows():
            out = ctx.s2.render(acq, win60)
            for b, refl in out.reflectance.items():
                writers[b].write(to_dn(refl), window_in(ctx.s2.grids[b], win60))
            scl_w.write(out.scl, window_in(ctx.s2.grid_20m, win60))
            counts.update(dict(enumerate(np.bincount(out.scl.ravel(), minlength=12).tolist())))
    total = max(sum(counts.values()), 1)

    def pct(*classes: int) -> float:
        return round(100.0 * sum(counts[c] for c in classes) / total, 4)

    zen, az = ctx.s2.sun(acq)
    props = {
        "platform": f"Sentinel-2{acq.platform[-1].upper()}",
        "constellation": "Sentinel 2",
        "instruments": ["msi"],
        "proj:epsg": stac.epsg(ctx.s2.grid_20m),
        "eo:cloud_cover": pct(8, 9, 10),
        "sat:orbit_state": "descending",
        "sat:relative_orbit": 51,
        "s2:product_type": "S2MSI2A",
        "s2:processing_baseline": PROCESSING_BASELINE,
        "s2:mean_solar_zenith": round(zen, 4),
        "s2:mean_solar_azimuth": round(az, 4),
        "s2:high_proba_clouds_percentage": pct(9),
        "s2:medium_proba_clouds_percentage": pct(8),
        "s2:cloud_shadow_percentage": pct(3),
        "s2:vegetation_percentage": pct(4),
        "s2:not_vegetated_percentage": pct(5),
        "s2:water_percentage": pct(6),
    }
    item = stac.new_item(
        item_id, ctx.footprint, acq.datetime, collection=COLLECTIONS["s2"], properties=props,
        extensions=("eo", "raster", "proj", "sat"),
    )  # fmt: skip
    for b in S2_BANDS:
        res = BAND_RES[b]
        stac.add_asset(
            item, b, href=f"./{b}.tif", title=f"Band {b.removeprefix('B').lstrip('0')} - {res}m", gbox=ctx.s2.grids[b],
            raster_bands=[{"data_type": "uint16", "nodata": 0, "spatial_resolution": res, "scale": 0.0001,
                           "offset": -0.1}],
            eo_bands=[stac.eo_band(acq.platform, b)],
        )  # fmt: skip
    scl_classes = [{"value": k, "name": v} for k, v in SCL_CLASSES.items()]
    stac.add_asset(
        item, "SCL", href="./SCL.tif", title="Scene classification map (SCL)", gbox=ctx.s2.grid_20m,
        raster_bands=[{"data_type": "uint8", "nodata": 0, "spatial_resolution": 20}],
        **{"classification:classes": scl_classes},
    )  # fmt: skip
    ctx.add("s2", item)


def window_in(gbox: GeoBox, sub: GeoBox) -> Window:
    """The window of ``gbox`` that the (nested) sub-grid ``sub`` covers at ``gbox``'s resolution."""
    a, s = gbox.affine, sub.affine
    col = round((s.c - a.c) / a.a)
    row = round((s.f - a.f) / a.e)
    w = round(sub.shape[1] * s.a / a.a)
    h = round(sub.shape[0] * s.e / a.e)
    return Window(col, row, w, h)


def write_s1(ctx: Context, acq: S1Acquisition) -> None:
    """VV and VH COGs (linear gamma0, float32) of one pass, and the item."""
    item_id = s1_item_id(acq)
    folder = ctx.item_dir("s1", item_id)
    grid = ctx.s1.grid
    tags = {"units": "linear power (gamma0, terrain-flattened); dB = 10 * log10(value)"}
    with ExitStack() as stack:
        writers = {
            p: stack.enter_context(
                CogWriter(
                    folder / f"{p.lower()}.tif", grid, "float32", nodata=float("nan"), descriptions=(p,), tags=tags
                )
            )
            for p in POLARISATIONS
        }
        for i, win in ctx.s1.windows():
            out = ctx.s1.render(acq, i, win)
            for p in POLARISATIONS:
                writers[p].write(out[p], window_in(grid, win))
    mid = acq.start + (acq.end - acq.start) / 2
    props = {
        "platform": "SENTINEL-1A",
        "constellation": "Sentinel-1",
        "start_datetime": acq.start.isoformat().replace("+00:00", "Z"),
        "end_datetime": acq.end.isoformat().replace("+00:00", "Z"),
        "proj:epsg": stac.epsg(grid),
        **{k: v for k, v in stac.proj_fields(grid).items() if k != "proj:bbox"},
        "sar:frequency_band": "C",
        "sar:center_frequency": C_BAND_FREQUENCY_GHZ,
        "sar:polarizations": list(POLARISATIONS),
        "sar:product_type": "GRD",
        "sar:instrument_mode": "IW",
        "sar:observation_direction": "right",
        "sar:looks_range": 5,
        "sar:looks_azimuth": 1,
        "sar:looks_equivalent_number": ctx.config.s1_looks,
        "sar:resolution_range": 20,
        "sar:resolution_azimuth": 22,
        "sar:pixel_spacing_range": 10,
        "sar:pixel_spacing_azimuth": 10,
        "sat:orbit_state": acq.orbit_state,
        "sat:relative_orbit": acq.relative_orbit,
        "sat:absolute_orbit": acq.absolute_orbit,
        "sat:platform_international_designator": "2014-016A",
        "view:incidence_angle": acq.incidence_deg,
        "eofusion:backscatter_units": "linear power",
    }
    item = stac.new_item(
        item_id, ctx.footprint, mid, collection=COLLECTIONS["s1"], properties=props,
        extensions=("sar", "sat", "proj", "raster", "view"),
    )  # fmt: skip
    names = {"V": "vertical", "H": "horizontal"}
    for p in POLARISATIONS:
        stac.add_asset(
            item, p.lower(), href=f"./{p.lower()}.tif", title=f"{p}: {names[p[0]]} transmit, {names[p[1]]} receive",
            gbox=grid,
            raster_bands=[{"data_type": "float32", "nodata": "nan", "spatial_resolution": ctx.config.s1_resolution_m,
                           "unit": "linear power"}],
            description=f"Terrain-corrected gamma naught, {p}, linear power (not dB).",
        )  # fmt: skip
    ctx.add("s1", item)


def write_aerial(ctx: Context) -> None:
    """The RGBN orthophoto COG (Lambert-93) and its item."""
    gbox = ctx.grids["aerial"]
    item_id = aerial_item_id(ctx.config)
    path = ctx.item_dir("aerial", item_id) / "image.tif"
    tags = {"units": "DN (uint8), gamma-encoded: DN = 255 * (reflectance x illumination / 0.6) ** (1 / 2.2)"}
    with CogWriter(path, gbox, "uint8", blocksize=512, descriptions=AERIAL_BANDS, tags=tags) as w:
        windows = list(enumerate(iter_windows(gbox, ctx.config.window_px)))
        render = lambda job: ctx.vhr.aerial(job[1][1], job[0])  # noqa: E731
        for (_, (window, _)), image in zip(windows, ordered_map(render, windows), strict=True):
            w.write(image, window)
    res = abs(gbox.affine.a)
    props = {"gsd": res, "proj:epsg": stac.epsg(gbox), "instruments": ["digital-aerial-camera"],
             "platform": "aircraft", "view:sun_elevation": round(90.0 - ctx.vhr.zenith, 3),
             "view:sun_azimuth": round(ctx.vhr.azimuth, 3)}  # fmt: skip
    item = stac.new_item(
        item_id, ctx.vhr_footprint, aerial_datetime(ctx.config), collection=COLLECTIONS["aerial"], properties=props,
        extensions=("eo", "raster", "proj", "view"),
    )  # fmt: skip
    stac.add_asset(
        item, "image", href="./image.tif", title="RGBN orthophoto COG", gbox=gbox,
        raster_bands=[{"data_type": "uint8", "spatial_resolution": res} for _ in AERIAL_BANDS],
        eo_bands=[stac.eo_band("aerial-ign", b) for b in AERIAL_BANDS],
    )  # fmt: skip
    ctx.add("aerial", item)


def write_elevation(ctx: Context) -> None:
    """DSM and DTM COGs (float32 metres, Lambert-93, nodata outside the survey) and their item."""
    gbox = ctx.grids["dsm"]
    item_id = elevation_item_id(ctx.config)
    folder = ctx.item_dir("elevation", item_id)
    tags = {"units": "metres above the reference (heights are simulated)"}
    dsm_w = CogWriter(
        folder / "dsm.tif", gbox, "float32", nodata=ELEVATION_NODATA, blocksize=512, descriptions=("dsm",), tags=tags
    )
    dtm_w = CogWriter(
        folder / "dtm.tif", gbox, "float32", nodata=ELEVATION_NODATA, blocksize=512, descriptions=("dtm",), tags=tags
    )
    with dsm_w, dtm_w:
        windows = list(enumerate(iter_windows(gbox, ctx.config.window_px)))
        render = lambda job: ctx.vhr.elevation(job[1][1], job[0], ctx.survey_l93)  # noqa: E731
        for (_, (window, _)), (dsm, dtm) in zip(windows, ordered_map(render, windows), strict=True):
            dsm_w.write(dsm, window)
            dtm_w.write(dtm, window)
    res = abs(gbox.affine.a)
    props = {"gsd": res, "proj:epsg": stac.epsg(gbox), "instruments": ["lidar"], "platform": "aircraft"}
    item = stac.new_item(
        item_id, ctx.vhr_footprint, aerial_datetime(ctx.config), collection=COLLECTIONS["elevation"],
        properties=props, extensions=("raster", "proj"),
    )  # fmt: skip
    band = {"data_type": "float32", "nodata": ELEVATION_NODATA, "unit": "m", "spatial_resolution": res}
    for key, title in (("dsm", "Digital surface model"), ("dtm", "Digital terrain model")):
        stac.add_asset(item, key, href=f"./{key}.tif", title=title, gbox=gbox, raster_bands=[dict(band)])
    ctx.add("elevation", item)


def collection_of(kind: str, description: str, items: list[pystac.Item]) -> pystac.Collection:
    """The collection of one product kind, with summaries like the providers'."""
    summaries: dict[str, object] = {"eofusion:simulated": [True]}
    if kind == "s2":
        summaries["platform"] = sorted({str(i.properties["platform"]) for i in items})
        summaries["eo:bands"] = [stac.eo_band("sentinel-2a", b) for b in S2_BANDS]
        summaries["gsd"] = [10, 20, 60]
    elif kind == "s1":
        summaries["sar:polarizations"] = list(POLARISATIONS)
        summaries["sar:frequency_band"] = ["C"]
        summaries["sat:orbit_state"] = sorted({str(i.properties["sat:orbit_state"]) for i in items})
    elif kind == "landcover":
        summaries["classification:classes"] = stac.classification_classes()
    elif kind == "landsat":
        summaries["platform"] = sorted({str(i.properties["platform"]) for i in items})
        summaries["eo:bands"] = [stac.eo_band("landsat-8", b) for b in LANDSAT_BANDS]
        summaries["gsd"] = [30]
    elif kind == "naip":
        summaries["eo:bands"] = [stac.eo_band("naip", b) for b in AERIAL_BANDS]
        summaries["gsd"] = sorted({float(i.properties["gsd"]) for i in items})
    return stac.collection_for(COLLECTIONS[kind], description, items, summaries)
