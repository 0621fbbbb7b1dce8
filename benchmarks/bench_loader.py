"""Training-chip loading benchmark: eofusion's cube loader vs torchgeo's RasterDataset over the source COGs.

Usage::

    .venv/bin/python benchmarks/bench_loader.py [--size-m 5120] [--dates 1] [--chips 150] [--repeat 3]

Data: a demo world (``eofusion.simulate``) with Sentinel-2 COGs on a 10 m UTM grid, its cube (group ``s2``,
bands B02/B03/B04/B08, built once with ``build_cube``) and, for the warping case, copies of the four band
COGs reprojected by GDAL (bilinear, 10 m) into the neighbouring UTM zone. Everything is written once into
``--workdir`` and reused.

Loaders, all in this process, one thread, ``DataLoader(num_workers=0)``, torchgeo's ``RandomGeoSampler``
drawing the same 256 x 256 px chips (2560 m at 10 m) for each:

- ``eofusion``: :class:`~eofusion.training.geodataset.CubeGeoDataset` over the cube (samples carry the
  normalised ``SensorInput`` with its validity mask and dates);
- ``torchgeo``: ``RasterDataset`` (separate band files, time series when ``--dates > 1``) over the COGs on
  the cube's grid (native) or in the other zone (warping: torchgeo warps each chip with a WarpedVRT).

Each runs "cold" (no decoded block reused across chips: eofusion's chunk cache off, GDAL's block cache
emptied before each chip, as in an epoch over an area larger than the caches) and "warm" (eofusion's
default chunk cache, GDAL's default block cache: this small area fits in both).
The cube is the same in both cases: reading chips from it does not depend on the sources' CRS (the warp
is paid once, when the cube is built; see ``benchmarks/bench_cube.py``). Each loader runs ``--repeat``
times, interleaved; medians are printed. Then one CPU training step of the tiny land-cover model
(forward + backward + AdamW on a batch of ``--batch`` chips) is timed beside the time to load that batch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

BANDS = ("B02", "B03", "B04", "B08")
CHIP_PX = 256
TARGETS = {"native": 5.0, "warping": 20.0}


# ---------------------------------------------------------------------------------------------- data
def make_world(workdir: Path, size_m: float, dates: int) -> Any:
    """The demo world (S2 only matters here; aerial/DSM kept tiny), simulated once."""
    from bench_worlds import s2_world

    return s2_world(workdir / "world", size_m, dates)


def make_cube(workdir: Path, world: Any) -> Path:
    """The world's S2 cube (4 bands, 10 m, the world's own grid), built once."""
    from eofusion.catalog import normalize_items, search
    from eofusion.cube import WriteOptions, build_cube
    from eofusion.grid import NestedGrids

    store = workdir / "cube.zarr"
    if (store / "zarr.json").exists():
        return store
    items = normalize_items(search(world.geoparquet_path, collections=["sentinel-2-l2a"]), on_error="raise")
    grid = world.grids["s2_10m"]
    grids = NestedGrids(grid.crs, tuple(grid.boundingbox), {"s2": 10.0})
    build_cube(items, grids, ["s2"], store, bands={"s2": list(BANDS)}, write=WriteOptions(scheduler="threads"))
    return store


def source_cogs(world: Any) -> list[Path]:
    """The world's S2 band COGs (one folder per date)."""
    paths = []
    for item in world.stac_items("sentinel-2-l2a"):
        paths += [Path(item.assets[b].href) for b in BANDS]
    return paths


def neighbour_zone(grid: Any) -> str:
    """The UTM zone next to the grid's own, on the side of the grid's centre (the least distorted neighbour)."""
    from odc.geo import CRS

    epsg = CRS(str(grid.crs)).epsg or 32631
    lon = grid.extent.centroid.to_crs("EPSG:4326").coords[0][0]
    central = (epsg % 100) * 6 - 183
    return f"EPSG:{epsg + 1 if lon > central else epsg - 1}"


def make_warped(workdir: Path, cogs: list[Path], dst_crs: str) -> Path:
    """Copies of the COGs reprojected by GDAL into ``dst_crs`` (bilinear, 10 m, tiled + DEFLATE + overviews)."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import calculate_default_transform, reproject

    root = workdir / f"warped-{dst_crs.replace(':', '')}"
    for src_path in cogs:
        out = root / src_path.parent.name / src_path.name
        if out.exists():
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        with rasterio.open(src_path) as src:
            transform, width, height = calculate_default_transform(
                src.crs, dst_crs, src.width, src.height, *src.bounds, resolution=10.0
            )
            pixels = np.zeros((height, width), dtype=src.dtypes[0])
            reproject(
                src.read(1),
                pixels,
                src_transform=src.transform,
                src_crs=src.crs,
                src_nodata=src.nodata,
                dst_transform=transform,
                dst_crs=dst_crs,
                dst_nodata=src.nodata,
                resampling=Resampling.bilinear,
            )
            profile = src.profile | {
                "driver": "GTiff",
                "crs": dst_crs,
                "transform": transform,
                "width": width,
                "height": height,
                "tiled": True,
                "blockxsize": 512,
                "blockysize": 512,
                "compress": "deflate",
                "predictor": 2,
            }
        with rasterio.open(out, "w", **profile) as dst:
            dst.write(pixels, 1)
            dst.build_overviews([2, 4, 8], Resampling.average)
    return root


# ---------------------------------------------------------------------------------------------- loaders
def torchgeo_dataset(root: Path, crs: Any, time_series: bool) -> Any:
    """torchgeo's RasterDataset over one folder per date with one COG per band, warped to ``crs``."""
    from pyproj import CRS
    from torchgeo.datasets import RasterDataset

    class S2Bands(RasterDataset):  # type: ignore[misc]
        filename_glob = "B02.tif"
        filename_regex = r"^(?P<band>B0[2348])\.tif$"
        separate_files = True
        all_bands = BANDS

    return S2Bands(paths=str(root), crs=CRS.from_user_input(str(crs)), res=10.0, time_series=time_series)


def random_sampler(dataset: Any, length: int, seed: int) -> Any:
    import torch
    from torchgeo.samplers import RandomGeoSampler

    with warnings.catch_warnings():  # deprecated in torchgeo 0.10 in favour of RandomPatchSampler
        warnings.simplefilter("ignore", DeprecationWarning)
        return RandomGeoSampler(dataset, size=CHIP_PX, length=length, generator=torch.Generator().manual_seed(seed))


class FlushedGdalCache:
    """A torchgeo dataset whose chips each start with an empty GDAL block cache (no reuse across chips).

    Within a chip GDAL keeps its default cache, so each source block is decoded once per chip, as
    eofusion's cube decodes each Zarr chunk once per chip with its chunk cache off.
    """

    def __init__(self, dataset: Any, cache_bytes: int) -> None:
        self.dataset, self.cache_bytes = dataset, cache_bytes

    def __getitem__(self, index: Any) -> Any:
        import rasterio.env

        rasterio.env.set_gdal_config("GDAL_CACHEMAX", 0)  # drops every cached block
        rasterio.env.set_gdal_config("GDAL_CACHEMAX", self.cache_bytes)
        return self.dataset[index]


def chips_per_second(
    dataset: Any, length: int, seed: int, collate: Callable[..., Any] | None = None, cold_gdal: int | None = None
) -> tuple[float, float]:
    """Chips per wall second and per CPU second of a DataLoader (main process) over ``length`` random chips.

    ``cold_gdal``: flush GDAL's block cache (of this size) before every chip (see :class:`FlushedGdalCache`).
    """
    from torch.utils.data import DataLoader

    sampler = random_sampler(dataset, length, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        boxes = list(sampler)  # drawn before the clock starts: the same boxes for every loader
    kwargs: dict[str, Any] = {"collate_fn": collate} if collate else {}
    source = dataset if cold_gdal is None else FlushedGdalCache(dataset, cold_gdal)
    loader = DataLoader(source, sampler=boxes, batch_size=8, num_workers=0, **kwargs)
    start, cpu = time.perf_counter(), time.process_time()
    count = 0
    for batch in loader:
        count += len(batch["bounds"])
    return count / (time.perf_counter() - start), count / (time.process_time() - cpu)


# ---------------------------------------------------------------------------------------------- training step
def training_step_vs_load(store: Path, world: Any, batch_size: int, steps: int) -> tuple[float, float, int]:
    """Median seconds of one forward/backward/AdamW step of the tiny land-cover model, and of loading its batch."""
    import torch
    from torch.utils.data import DataLoader

    from eofusion.cube import open_cube
    from eofusion.models import model_config
    from eofusion.training.cube_dataset import IGNORE_INDEX, LabelRaster
    from eofusion.training.geodataset import CubeGeoDataset, collate_geo_samples
    from eofusion.training.landcover import ClassTable, landcover_model

    cube = open_cube(store, cache_bytes=0)
    classes = ClassTable.from_mapping(world.class_names, world.class_colours)
    geobox = cube.geobox(10.0)
    labels = LabelRaster(classes.to_indices(world.rasterize_landcover(geobox)), geobox)
    dataset = CubeGeoDataset(cube, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        boxes = list(random_sampler(dataset, batch_size * (steps + 1), seed=7))
    loader = DataLoader(dataset, sampler=boxes, batch_size=batch_size, collate_fn=collate_geo_samples)
    model = landcover_model(model_config("tiny"), len(classes.ids))
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX)
    load_s, step_s = [], []
    it = iter(loader)
    for i in range(steps + 1):
        start = time.perf_counter()
        batch = next(it)
        loaded = time.perf_counter()
        logits = model(batch["inputs"], (CHIP_PX, CHIP_PX))
        loss = loss_fn(logits, batch["mask"])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        done = time.perf_counter()
        if i:  # the first step warms up allocators and kernels
            load_s.append(loaded - start)
            step_s.append(done - loaded)
    return statistics.median(step_s), statistics.median(load_s), torch.get_num_threads()


# ---------------------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--size-m", type=float, default=5120.0, help="side of the demo world (m)")
    parser.add_argument("--dates", type=int, default=1, help="S2 dates (chips are [T, 4, 256, 256])")
    parser.add_argument("--chips", type=int, default=120, help="chips per measurement")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4, help="training batch size")
    parser.add_argument("--steps", type=int, default=2, help="timed training steps (after one warm-up step)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/eofusion-bench-loader"))
    args = parser.parse_args()

    import torch

    from eofusion.cube import open_cube
    from eofusion.training.geodataset import CubeGeoDataset, collate_geo_samples

    torch.set_num_threads(1)
    os.environ.setdefault("GDAL_NUM_THREADS", "1")
    args.workdir.mkdir(parents=True, exist_ok=True)
    world = make_world(args.workdir, args.size_m, args.dates)
    store = make_cube(args.workdir, world)
    cogs = source_cogs(world)
    cube_crs = world.grids["s2_10m"].crs
    other = neighbour_zone(world.grids["s2_10m"])
    warped = make_warped(args.workdir, cogs, other)
    native_root = cogs[0].parent.parent
    series = args.dates > 1
    cold = CubeGeoDataset(open_cube(store, cache_bytes=0))
    warm = CubeGeoDataset(open_cube(store))
    meta = open_cube(store).groups["s2"]
    print(
        f"world {args.size_m:.0f} m = {meta.shape[0]}x{meta.shape[1]} px at 10 m, {args.dates} date(s), "
        f"bands {', '.join(BANDS)}; chips {CHIP_PX}x{CHIP_PX} px ([T={args.dates}, 4, {CHIP_PX}, {CHIP_PX}]); "
        f"cube chunks {meta.chunk[0]} px; cube CRS {cube_crs}, warped COGs in {other}; "
        f"1 thread, num_workers=0, {args.chips} chips x {args.repeat} runs (median)"
    )
    import rasterio.env

    gdal_default = int(rasterio.env.get_gdal_config("GDAL_CACHEMAX"))
    native, warping = torchgeo_dataset(native_root, cube_crs, series), torchgeo_dataset(warped, cube_crs, series)
    # name -> (dataset, collate, flush GDAL's cache before each chip); "cold" = no reuse across chips
    loaders: dict[str, tuple[Any, Callable[..., Any] | None, int | None]] = {
        "eofusion cold": (cold, collate_geo_samples, None),
        "eofusion warm": (warm, collate_geo_samples, None),
        "torchgeo native cold": (native, None, gdal_default),
        "torchgeo native warm": (native, None, None),
        "torchgeo warping cold": (warping, None, gdal_default),
        "torchgeo warping warm": (warping, None, None),
    }
    print(
        "cold: no decoded block reused across chips (eofusion's chunk cache off; GDAL's block cache emptied "
        "before each chip), as in an epoch over an area larger than the caches; warm: eofusion's "
        f"{warm.cube.cache_bytes / 2**20:.0f} MiB chunk cache, GDAL's {gdal_default / 2**20:.0f} MiB block "
        "cache (this small area fits in both)"
    )
    for ds, collate, flush in loaders.values():  # warm the page cache and the file handles
        chips_per_second(ds, 8, seed=99, collate=collate, cold_gdal=flush)
    wall: dict[str, list[float]] = {name: [] for name in loaders}
    cpu: dict[str, list[float]] = {name: [] for name in loaders}
    for run in range(args.repeat):
        for name, (ds, collate, flush) in loaders.items():
            w, c = chips_per_second(ds, args.chips, seed=run, collate=collate, cold_gdal=flush)
            wall[name].append(w)
            cpu[name].append(c)
    print("\nchips per wall second / per CPU second (median of the runs; CPU time is less disturbed by other load)")
    for name in loaders:
        runs = ", ".join(f"{v:.0f}" for v in wall[name])
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"  {name:22s} {w:7.1f} / {c:7.1f}   (wall: {runs})")
    print("\nspeed-up of the eofusion loader over torchgeo (median of the interleaved runs' ratios), wall / CPU")
    for case, target in TARGETS.items():
        for state in ("cold", "warm"):
            ours, peer = f"eofusion {state}", f"torchgeo {case} {state}"
            r_wall = statistics.median(a / b for a, b in zip(wall[ours], wall[peer], strict=True))
            r_cpu = statistics.median(a / b for a, b in zip(cpu[ours], cpu[peer], strict=True))
            verdict = "met" if min(r_wall, r_cpu) >= target else "MISSED" if max(r_wall, r_cpu) < target else "mixed"
            print(f"  {case:8s} {state}: {r_wall:6.1f}x / {r_cpu:6.1f}x   (target >= {target:.0f}x: {verdict})")

    torch.set_num_threads(os.cpu_count() or 1)
    step_s, load_s, threads = training_step_vs_load(store, world, args.batch, args.steps)
    print(f"\nCPU training step, tiny land-cover model, batch {args.batch} x [T={args.dates}, 4, 256, 256] (median):")
    print(f"  load the batch (main process, cache off): {load_s * 1e3:8.1f} ms")
    print(f"  forward + backward + AdamW ({threads} threads): {step_s * 1e3:8.1f} ms")
    share = load_s / step_s
    verdict = "not the bottleneck" if share < 1 else "THE BOTTLENECK"
    print(f"  loading = {100 * share:.1f} % of the step: the loader is {verdict} (even without workers)")


if __name__ == "__main__":
    main()
