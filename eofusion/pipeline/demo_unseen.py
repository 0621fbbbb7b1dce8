"""The demo world's held-out sensors as a cube: Landsat 8/9 and a NAIP-like camera, never seen in training.

:func:`unseen_cube` builds it exactly as the demo's training run builds the training
cube (same catalog, same nested-grid bounds and CRS, same ``build_cube``), with groups ``landsat``
and ``aerial`` (from the NAIP items only) in place of ``s2`` and the IGN-like ``aerial``, and the same
``s1`` and ``dsm``. A model trained on the training cube reads its chips with the same chip windows, and
each chip's ``SensorInput.sensor`` (``landsat-8``/``landsat-9``, ``naip``) gives the model those sensors'
band descriptors: what it has to generalise to.

Decision: Landsat is stored on the 10 m grid, not at its native 30 m. Chips are snapped to the coarsest
grid of the cube and the demo's 160 m chips are not a whole number of 30 m pixels (160 / 30 = 5.33), so a
30 m group could not be cut into the chips the training cube uses. Each 30 m pixel is replicated onto the
3 x 3 nested 10 m pixels (nearest-neighbour resampling, exact since the grids nest): the values stay the
delivered surface reflectance and the pixels stay visibly 30 m blocks, with no detail invented between
them (bilinear would blur each pixel into its neighbours). The registry still says the bands are 30 m.
Landsat clouds are masked from ``QA_PIXEL``, as Sentinel-2's are from its SCL.
"""

from __future__ import annotations

from pathlib import Path

from eofusion.catalog import normalize_items, search
from eofusion.cube import LoadOptions, WriteOptions, build_cube
from eofusion.errors import ConfigError
from eofusion.pipeline.demo import DemoConfig, Stage, world_bbox4326, world_grids
from eofusion.sensors import get_sensor
from eofusion.simulate import DemoWorld
from eofusion.simulate.products import COLLECTIONS as WORLD_COLLECTIONS

UNSEEN_SENSORS = ("landsat", "aerial", "s1", "dsm")
# Group -> the demo world's collection it is built from; "aerial" is the NAIP-like camera only.
UNSEEN_COLLECTIONS = {
    "landsat": WORLD_COLLECTIONS["landsat"],
    "aerial": WORLD_COLLECTIONS["naip"],
    "s1": WORLD_COLLECTIONS["s1"],
    "dsm": WORLD_COLLECTIONS["elevation"],
}
LANDSAT_CUBE_RES_M = 10.0  # see the module docstring: 160 m chips are whole 10 m pixels, not 30 m ones
UNSEEN_CUBE = "unseen-cube.zarr"


def unseen_resolutions(config: DemoConfig) -> dict[str, float]:
    """Pixel size per group: the training cube's for ``aerial``/``s1``/``dsm``, 10 m for ``landsat``."""
    return {
        "landsat": LANDSAT_CUBE_RES_M,
        "aerial": config.resolutions["aerial"],
        "s1": config.resolutions["s1"],
        "dsm": config.resolutions["dsm"],
    }


def unseen_cube(config: DemoConfig, world: DemoWorld, say: Stage) -> Path:
    """The world's landsat/aerial (NAIP)/s1/dsm cube under ``out/unseen-cube.zarr`` (resumed if partly there).

    Raises:
        ConfigError: The world was rendered without Landsat or NAIP (``WorldConfig.landsat``/``naip``
            False); render it again with both on.
    """
    missing = [name for name, on in (("landsat", world.config.landsat), ("naip", world.config.naip)) if not on]
    if missing:
        raise ConfigError(
            f"The demo world at {world.root} has no {' and no '.join(missing)} images (WorldConfig."
            f"{'/'.join(missing)} is False); render it with {', '.join(f'{m}=True' for m in missing)}."
        )
    collections = list(UNSEEN_COLLECTIONS.values())
    items = search(world.geoparquet_path, collections=collections, bbox=world_bbox4326(world))
    normalised = normalize_items(items, on_error="skip")
    say("catalog", f"{len(items)} items of the held-out sensors found ({', '.join(collections)})")
    resolutions = unseen_resolutions(config)
    grids = world_grids(world, resolutions)
    landsat_bands = get_sensor("landsat-8").band_names
    options = LoadOptions(resampling=dict.fromkeys(landsat_bands, "nearest"))
    config.out.mkdir(parents=True, exist_ok=True)
    store = config.out / UNSEEN_CUBE
    # Derived from the demo world alone: replaced when it changes, resumed otherwise.
    write = WriteOptions(scheduler="threads", overwrite=True)
    summary = build_cube(
        normalised, grids, list(UNSEEN_SENSORS), store, resolutions=resolutions, options=options, write=write
    )
    say("cube", f"{store} ({summary.blocks_written} blocks written, {summary.blocks_skipped} already there)")
    return store
