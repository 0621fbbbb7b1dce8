"""Building a world on disk: the ordered steps, temp-then-rename, and the catalogs.

The whole world is written into a sibling temporary directory and renamed into place only when every
file, both catalogs and the manifest are complete, so an interrupted run never leaves a half-written world.
Running again with the same config on a finished world does nothing (same config -> same files).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pystac
import rasterio

from eofusion import __version__
from eofusion.errors import OutputLocationError
from eofusion.simulate import products
from eofusion.simulate.classes import CROP_TYPES, LANDCOVER_CLASSES
from eofusion.simulate.config import WorldConfig
from eofusion.simulate.products_unseen import write_landsat, write_naip
from eofusion.simulate.render_landsat import landsat_acquisitions
from eofusion.simulate.render_s1 import s1_acquisitions
from eofusion.simulate.render_s2 import s2_acquisitions
from eofusion.simulate.scene import build_scene, visible_parcels

logger = logging.getLogger(__name__)

MANIFEST = "world.json"
CATALOG_DIR = "catalog"
GEOPARQUET = "catalog.parquet"
FEATURES = "truth/features.parquet"
PARCELS = "truth/parcels.parquet"
CLASSES = "truth/classes.json"
GDAL_CACHE_MB = 64


@dataclass
class WorldBuild:
    """The steps that write one world; iterate :meth:`run` to execute them (e.g. under a progress bar)."""

    config: WorldConfig
    out_dir: Path
    steps: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    work_dir: Path | None = None  # the temporary sibling the world is assembled in

    @property
    def total(self) -> int:
        return len(self.steps)

    def run(self) -> Iterator[str]:
        """Run each step, yielding its name once done; a failure removes the partial world."""
        try:
            for name, step in self.steps:
                logger.debug("simulate: %s", name)
                # GDAL's block cache defaults to 5 % of RAM; written blocks need far less (bounded memory).
                with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
                    step()
                yield name
        except BaseException:
            if self.work_dir is not None:
                shutil.rmtree(self.work_dir, ignore_errors=True)
            raise


def existing_digest(out_dir: Path) -> str | None:
    """The config digest of a finished world in ``out_dir``, or None."""
    manifest = out_dir / MANIFEST
    if not manifest.is_file():
        return None
    try:
        return str(json.loads(manifest.read_text())["digest"])
    except (ValueError, KeyError):
        return None


def plan_world(config: WorldConfig, out_dir: str | os.PathLike[str], overwrite: bool = False) -> WorldBuild:
    """The steps that write ``config``'s world to ``out_dir`` (none if it is already there).

    Raises:
        OutputLocationError: ``out_dir`` holds something else (another world without ``overwrite=True``,
            or files that are not a world) or its parent cannot be written.
    """
    out = Path(out_dir).absolute()
    build = WorldBuild(config, out)
    digest = existing_digest(out)
    if digest == config.digest():
        logger.info("World %s already in %s; nothing to do.", digest, out)
        return build
    if out.exists():
        if digest is None and any(out.iterdir()):
            raise OutputLocationError(f"{out} exists and is not a demo world; choose an empty or new --out directory.")
        if digest is not None and not overwrite:
            raise OutputLocationError(
                f"{out} holds another demo world (config {digest}, asked {config.digest()}); "
                "pass overwrite=True (--overwrite) or choose another directory."
            )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputLocationError(f"Cannot create {out.parent}: {err}. Choose a writable --out.") from err
    if not os.access(out.parent, os.W_OK):
        raise OutputLocationError(f"{out.parent} is not writable; choose a writable --out.")

    work = out.parent / f".{out.name}.partial-{config.digest()}"
    build.work_dir = work
    state: dict[str, Any] = {}

    def start() -> None:
        shutil.rmtree(work, ignore_errors=True)  # leftovers of an interrupted run
        (work / "truth").mkdir(parents=True)
        scene = build_scene(config)
        scene.features.to_parquet(work / FEATURES)
        crops = visible_parcels(scene.features)
        parcels = crops[["parcel_id", "crop_id", "class_id", "geometry"]].copy()
        names = {c.id: c.name for c in CROP_TYPES}
        parcels.insert(2, "crop_name", parcels["crop_id"].map(names))
        parcels["area_m2"] = parcels.geometry.area
        parcels.to_parquet(work / PARCELS)
        (work / CLASSES).write_text(json.dumps(class_tables(), indent=2))
        state["ctx"] = products.Context(config, scene, work / CATALOG_DIR)

    def ctx() -> products.Context:
        return state["ctx"]  # type: ignore[no-any-return]

    build.steps.append(("scene and vectors", start))
    build.steps.append(("land-cover truth", lambda: products.write_landcover(ctx())))
    for acq in s2_acquisitions(config):
        build.steps.append((f"Sentinel-2 {acq.day}", partial(_call, products.write_s2, ctx, acq)))
    for s1 in s1_acquisitions(config):
        build.steps.append((f"Sentinel-1 {s1.day} {s1.orbit_state}", partial(_call, products.write_s1, ctx, s1)))
    build.steps.append(("aerial RGBN", lambda: products.write_aerial(ctx())))
    build.steps.append(("DSM and DTM", lambda: products.write_elevation(ctx())))
    # Sensors the model never sees in training (WorldConfig.landsat / .naip).
    for pas in landsat_acquisitions(config):
        build.steps.append((f"Landsat {pas.platform[-1]} {pas.day}", partial(_call, write_landsat, ctx, pas)))
    if config.naip:
        build.steps.append(("NAIP-like aerial RGBN", lambda: write_naip(ctx())))
    build.steps.append(("STAC catalogs", lambda: write_catalogs(ctx(), work)))
    build.steps.append(("commit", lambda: _commit(config, work, out)))
    return build


def _call(writer: Callable[[products.Context, Any], None], ctx: Callable[[], products.Context], arg: Any) -> None:
    writer(ctx(), arg)


def class_tables() -> dict[str, Any]:
    """The land-cover and crop tables as JSON-ready dicts."""
    return {
        "landcover": [{"id": c.id, "name": c.name, "colour": c.colour, "description": c.description}
                      for c in LANDCOVER_CLASSES],
        "landcover_nodata": 0,
        "crops": [{"id": c.id, "name": c.name, "colour": c.colour, "season": c.season} for c in CROP_TYPES],
        "crop_nodata": 0,
    }  # fmt: skip


def write_catalogs(ctx: products.Context, root: Path) -> None:
    """The static catalog (self-contained, relative hrefs) and the stac-geoparquet copy of its items."""
    import stac_geoparquet.arrow as sgpa

    catalog = pystac.Catalog(
        id="eofusion-demo-world",
        description=f"Simulated multi-sensor world (seed {ctx.config.seed}, config {ctx.config.digest()}).",
        title="eofusion demo world",
    )
    descriptions = {
        "s2": "Sentinel-2 L2A surface reflectance, one COG per band at native resolution (simulated).",
        "s1": "Sentinel-1 RTC gamma0 VV/VH, linear power, ascending and descending (simulated).",
        "aerial": "Aerial RGBN orthophoto in Lambert-93, IGN BD ORTHO-like (simulated).",
        "elevation": "DSM and DTM in metres, Lambert-93, IGN LiDAR HD-like (simulated).",
        "landcover": "Land-cover ground truth, FLAIR-like nomenclature (simulated).",
        "landsat": "Landsat 8/9 OLI Collection 2 Level-2 surface reflectance, 30 m, with QA_PIXEL (simulated; "
        "held out from training).",
        "naip": "Aerial RGBN with NAIP's band responses, UTM (simulated; held out from training).",
    }
    for kind, items in ctx.items.items():
        col = products.collection_of(kind, descriptions[kind], items)
        catalog.add_child(col)
    catalog.normalize_hrefs(str(root / CATALOG_DIR))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    rows = []
    for kind in sorted(ctx.items):
        for item in ctx.items[kind]:
            d = item.to_dict(include_self_link=False, transform_hrefs=False)
            # One link kept: the item's own JSON in the static catalog, relative to the parquet file like the
            # assets, so maps made from the item can point at it (derived_from).
            d["links"] = [{"rel": "self", "href": os.path.relpath(str(item.get_self_href()), root)}]
            for asset in d["assets"].values():  # relative to the parquet file's folder
                asset["href"] = (
                    f"{CATALOG_DIR}/{products.COLLECTIONS[kind]}/{item.id}/{asset['href'].removeprefix('./')}"
                )
            rows.append(d)
    reader = sgpa.parse_stac_items_to_arrow(rows)
    sgpa.to_parquet(reader, root / GEOPARQUET)


def _commit(config: WorldConfig, work: Path, out: Path) -> None:
    manifest = {"digest": config.digest(), "eofusion_version": __version__, "config": config.to_dict()}
    (work / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(work, out)
    shutil.rmtree(old, ignore_errors=True)
