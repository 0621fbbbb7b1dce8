"""Writers of the two sensors the model never sees in training: Landsat 8/9 OLI and a NAIP-like camera.

Items are shaped like Planetary Computer's ``landsat-c2-l2`` (one COG per band under the band's common
name as asset key, ``raster:bands`` with the Collection 2 scale/offset, a ``qa_pixel`` asset) and
``naip`` (one 4-band ``image`` asset, RGBN, on a UTM grid), so the catalog code recognises them as it
recognises the providers' items: the platform names the Landsat satellite, the collection id NAIP.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import timedelta
from typing import Any

from shapely.geometry import box

from eofusion.sensors import get_sensor
from eofusion.sensors.landsat import SR_OFFSET, SR_SCALE
from eofusion.simulate import stac
from eofusion.simulate.cog import CogWriter
from eofusion.simulate.config import WorldConfig
from eofusion.simulate.grids import LANDSAT_RESOLUTION_M, iter_windows
from eofusion.simulate.parallel import ordered_map
from eofusion.simulate.products import COLLECTIONS, Context, reproject, window_in
from eofusion.simulate.render_landsat import (
    LANDSAT_BANDS,
    QA_CLEAR,
    QA_CLOUD,
    QA_CLOUD_CONF,
    QA_CLOUD_SHADOW,
    QA_DILATED_CLOUD,
    QA_SHADOW_CONF,
    QA_WATER,
    WRS_PATH,
    WRS_ROW,
    LandsatAcquisition,
    to_dn,
)
from eofusion.simulate.render_vhr import AERIAL_BANDS, NAIP_CAMERA, aerial_datetime

QA_FILL = 1  # QA_PIXEL value of fill pixels (bit 0): its nodata


def landsat_item_id(acq: LandsatAcquisition) -> str:
    number = acq.platform.rsplit("-", 1)[-1]
    return f"LC{int(number):02d}_L2SR_{WRS_PATH:03d}{WRS_ROW:03d}_{acq.day:%Y%m%d}_02_T1"


def naip_item_id(config: WorldConfig) -> str:
    return f"NAIP_LIKE_RGBN_{config.aerial_date:%Y%m%d}_{config.naip_resolution_m:g}M_DEMO"


def _bitfields() -> list[dict[str, Any]]:
    """The QA_PIXEL bits the simulator sets, in the STAC classification extension's form."""

    def flag(offset: int, name: str) -> dict[str, Any]:
        return {"offset": offset, "length": 1, "name": name,
                "classes": [{"value": 0, "name": f"not_{name}"}, {"value": 1, "name": name}]}  # fmt: skip

    def confidence(offset: int, name: str) -> dict[str, Any]:
        levels = ("not_set", "low", "medium", "high")
        return {"offset": offset, "length": 2, "name": name,
                "classes": [{"value": v, "name": n} for v, n in enumerate(levels)]}  # fmt: skip

    return [flag(0, "fill"), flag(QA_DILATED_CLOUD, "dilated_cloud"), flag(QA_CLOUD, "cloud"),
            flag(QA_CLOUD_SHADOW, "cloud_shadow"), flag(QA_CLEAR, "clear"), flag(QA_WATER, "water"),
            confidence(QA_CLOUD_CONF, "cloud_confidence"),
            confidence(QA_SHADOW_CONF, "cloud_shadow_confidence")]  # fmt: skip


def write_landsat(ctx: Context, acq: LandsatAcquisition) -> None:
    """Seven surface-reflectance COGs and QA_PIXEL (30 m, world UTM grid) of one date, and the item."""
    item_id = landsat_item_id(acq)
    folder = ctx.item_dir("landsat", item_id)
    grid = ctx.landsat.grid
    units = {"units": f"DN; surface reflectance = DN * {SR_SCALE} + {SR_OFFSET} (Collection 2 Level-2)"}
    cloudy = total = 0
    with ExitStack() as stack:
        writers = {
            b: stack.enter_context(
                CogWriter(folder / f"SR_{b}.tif", grid, "uint16", nodata=0, descriptions=(f"SR_{b}",), tags=units)
            )
            for b in LANDSAT_BANDS
        }
        qa_w = stack.enter_context(
            CogWriter(folder / "QA_PIXEL.tif", grid, "uint16", nodata=QA_FILL, resampling="nearest",
                      descriptions=("QA_PIXEL",), tags={"units": "bit flags (Collection 2 QA_PIXEL)"})
        )  # fmt: skip
        windows = list(ctx.landsat.windows())
        rendered = ordered_map(lambda w: ctx.landsat.render(acq, w), windows)
        for win60, out in zip(windows, rendered, strict=True):
            window = window_in(grid, win60)
            for b in LANDSAT_BANDS:
                writers[b].write(to_dn(out.reflectance[b]), window)
            qa_w.write(out.qa_pixel, window)
            cloudy += int(((out.qa_pixel >> QA_DILATED_CLOUD) & 1).sum())
            total += out.qa_pixel.size
    zen, az = ctx.landsat.sun(acq)
    cover = round(100.0 * cloudy / max(total, 1), 2)
    props = {
        "platform": acq.platform,
        "instruments": ["oli", "tirs"],
        "proj:epsg": stac.epsg(grid),
        "gsd": LANDSAT_RESOLUTION_M,
        "eo:cloud_cover": cover,
        "view:off_nadir": 0,
        "view:sun_elevation": round(90.0 - zen, 4),
        "view:sun_azimuth": round(az, 4),
        "landsat:cloud_cover_land": cover,
        "landsat:wrs_type": "2",
        "landsat:wrs_path": f"{WRS_PATH:03d}",
        "landsat:wrs_row": f"{WRS_ROW:03d}",
        "landsat:collection_category": "T1",
        "landsat:collection_number": "02",
        "landsat:correction": "L2SR",  # surface reflectance only: no thermal band (see render_landsat)
        "landsat:processing_date": f"{acq.day + timedelta(days=7):%Y-%m-%d}",
    }
    item = stac.new_item(
        item_id, ctx.footprint, acq.datetime, collection=COLLECTIONS["landsat"], properties=props,
        extensions=("eo", "raster", "proj", "view", "classification"),
    )  # fmt: skip
    sensor = get_sensor(acq.platform)
    for b in LANDSAT_BANDS:
        band = sensor.band(b)
        stac.add_asset(
            item, str(band.common_name), href=f"./SR_{b}.tif", title=f"{band.description} surface reflectance",
            gbox=grid,
            raster_bands=[{"data_type": "uint16", "nodata": 0, "spatial_resolution": LANDSAT_RESOLUTION_M,
                           "scale": SR_SCALE, "offset": SR_OFFSET}],
            eo_bands=[stac.eo_band(acq.platform, b)],
        )  # fmt: skip
    stac.add_asset(
        item, "qa_pixel", href="./QA_PIXEL.tif", title="Pixel Quality Assessment Band (QA_PIXEL)", gbox=grid,
        raster_bands=[{"data_type": "uint16", "nodata": QA_FILL, "spatial_resolution": LANDSAT_RESOLUTION_M,
                       "unit": "bit index"}],
        **{"classification:bitfields": _bitfields()},
    )  # fmt: skip
    ctx.add("landsat", item)


def write_naip(ctx: Context) -> None:
    """The NAIP-like RGBN image COG (world UTM grid, NAIP's band responses) and its item."""
    gbox = ctx.grids["naip"]
    item_id = naip_item_id(ctx.config)
    path = ctx.item_dir("naip", item_id) / "image.tif"
    tags = {"units": "DN (uint8), gamma-encoded: DN = 255 * (reflectance x illumination / 0.6) ** (1 / 2.2)"}
    with CogWriter(path, gbox, "uint8", blocksize=512, descriptions=AERIAL_BANDS, tags=tags) as w:
        windows = list(enumerate(iter_windows(gbox, ctx.config.window_px)))
        rendered = ordered_map(lambda job: ctx.naip.aerial(job[1][1], job[0]), windows)
        for (_, (window, _)), image in zip(windows, rendered, strict=True):
            w.write(image, window)
    res = abs(gbox.affine.a)
    props = {"gsd": res, "proj:epsg": stac.epsg(gbox), "platform": "aircraft", "naip:year": str(ctx.config.year),
             "view:sun_elevation": round(90.0 - ctx.naip.zenith, 3),
             "view:sun_azimuth": round(ctx.naip.azimuth, 3)}  # fmt: skip
    footprint = reproject(box(*gbox.boundingbox), ctx.config.world_crs, "EPSG:4326")
    item = stac.new_item(
        item_id, footprint, aerial_datetime(ctx.config, NAIP_CAMERA), collection=COLLECTIONS["naip"],
        properties=props, extensions=("eo", "raster", "proj", "view"),
    )  # fmt: skip
    stac.add_asset(
        item, "image", href="./image.tif", title="RGBIR COG tile", gbox=gbox,
        raster_bands=[{"data_type": "uint8", "spatial_resolution": res} for _ in AERIAL_BANDS],
        eo_bands=[stac.eo_band("naip", b) for b in AERIAL_BANDS],
    )  # fmt: skip
    ctx.add("naip", item)
