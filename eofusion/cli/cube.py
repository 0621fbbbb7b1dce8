"""``eofusion cube build`` and ``eofusion cube info``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from eofusion.cli.common import echo_json
from eofusion.errors import ConfigError, GridError


def _aoi(value: str, resolutions: dict[str, float]) -> Any:
    """``minx,miny,maxx,maxy`` (EPSG:4326), a GeoJSON file, or a tile id (``32631_2560m_x234_y1953``)."""
    from eofusion.grid import parse_tile_id, scheme_of_tile

    try:
        parse_tile_id(value)
    except GridError:
        pass  # not a tile id: a file or a bbox
    else:
        return scheme_of_tile(value).grids(value, resolutions)
    path = Path(value)
    if path.exists():
        doc = json.loads(path.read_text())
        if doc.get("type") == "FeatureCollection":
            from shapely.geometry import shape
            from shapely.ops import unary_union

            return unary_union([shape(f["geometry"]) for f in doc["features"]])
        return doc
    try:
        parts = [float(v) for v in value.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 4:
        raise ConfigError(
            f"--aoi {value!r}: give minx,miny,maxx,maxy in EPSG:4326, a GeoJSON file or a tile id "
            "such as 32631_2560m_x234_y1953."
        )
    return tuple(parts)


def _pairs(value: str | None, option: str) -> dict[str, str]:
    """``s2=10,dsm=1`` -> {"s2": "10", "dsm": "1"}."""
    out: dict[str, str] = {}
    for part in filter(None, (value or "").split(";" if ";" in (value or "") else ",")):
        key, sep, val = part.partition("=")
        if not sep:
            raise ConfigError(f"{option} {value!r}: expected key=value pairs such as s2=10,dsm=1.")
        out[key.strip()] = val.strip()
    return out


@click.group("cube")
def cube() -> None:
    """Build aligned multi-sensor Zarr cubes and inspect them."""


@cube.command("build")
@click.option("--catalog", required=True, help="Catalog source: STAC API URL, static catalog, geoparquet, or name.")
@click.option("--aoi", required=True, help="minx,miny,maxx,maxy in EPSG:4326, a GeoJSON file, or a tile id.")
@click.option("--time", "time_", default=None, help="Dates, e.g. 2024-04-01/2024-06-30 or 2024-05.")
@click.option("--sensors", default="s2", show_default=True, help="Groups to build: s2,s1,aerial,dsm,landsat.")
@click.option(
    "--out",
    "out",
    required=True,
    help="Output Zarr store: a folder, or an object-store URL (s3://bucket/cube.zarr, gs://, az://; the cloud extra).",
)
@click.option("--collections", default=None, help="Restrict the search to these collections (comma-separated).")
@click.option("--resolution", default=None, help="Pixel size per group, e.g. s2=10,dsm=1,aerial=0.2.")
@click.option("--crs", default=None, help="Target CRS (default: the AOI's UTM zone).")
@click.option("--bands", default=None, help="Bands per group, e.g. 's2=B02 B03 B04 B08;s1=VV VH'.")
@click.option("--chunk-size", default=512, show_default=True, help="Dask block / resume unit edge, pixels.")
@click.option(
    "--no-cloud-mask", is_flag=True, help="Keep pixels flagged as cloud/shadow (Sentinel-2 SCL, Landsat QA_PIXEL)."
)
@click.option(
    "--on-error",
    type=click.Choice(["raise", "skip"]),
    default="raise",
    show_default=True,
    help="A missing or corrupt asset: stop, or skip it (recorded in the group attribute eofusion:skipped).",
)
@click.option(
    "--dtype",
    type=click.Choice(["float32", "source"]),
    default="float32",
    show_default=True,
    help="float32 physical values, or 'source': the provider's integers with CF scale_factor/add_offset where a "
    "group's files share them (half the bytes; float sources such as S1 and DSMs stay float32).",
)
@click.option("--scheduler", default=None, help="Dask scheduler address; default: a new LocalCluster; or 'threads'.")
@click.option("--memory-limit", default="4GiB", show_default=True, help="Worker memory of the LocalCluster.")
@click.option("--overwrite", is_flag=True, help="Replace a store built from another configuration.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def build(
    *,
    catalog: str,
    aoi: str,
    time_: str | None,
    sensors: str,
    out: str,
    collections: str | None,
    resolution: str | None,
    crs: str | None,
    bands: str | None,
    chunk_size: int,
    no_cloud_mask: bool,
    on_error: str,
    dtype: str,
    scheduler: str | None,
    memory_limit: str,
    overwrite: bool,
    progress: bool,
) -> None:
    """Search a catalog, align every sensor group on nested grids, write (or resume) a Zarr cube."""
    import logging
    import warnings

    from odc.geo.geom import box

    from eofusion.catalog import normalize_items, search
    from eofusion.cube import LoadOptions, WriteOptions, build_cube, default_resolution, group_key, group_keys
    from eofusion.errors import SkippedInputWarning
    from eofusion.grid import NestedGrids, as_geometry, nested_grids

    log = logging.getLogger("eofusion.cli.cube")
    groups = group_keys(s for s in sensors.split(",") if s.strip())
    user_res = {group_key(k): float(v) for k, v in _pairs(resolution, "--resolution").items()}
    res = {g: user_res.get(g, default_resolution(g)) for g in groups}
    region = _aoi(aoi, res)
    if isinstance(region, NestedGrids):
        bbox = box(*region.bounds, region.crs).to_crs("EPSG:4326").boundingbox
    else:
        bbox = as_geometry(region).to_crs("EPSG:4326").boundingbox
    raw = search(catalog, collections=collections, bbox=list(bbox), datetime=time_)
    # Items that are not sensor data (e.g. label layers in the same catalog) are not for the cube: log them.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkippedInputWarning)
        items = normalize_items(raw, on_error="skip")
    for w in caught:
        log.info("%s", w.message)
    log.info("%d items found, %d usable", len(raw), len(items))
    options = LoadOptions(chunk_size=chunk_size, mask_clouds=not no_cloud_mask, on_error=on_error, dtype=dtype)  # type: ignore[arg-type]
    band_map = {k: v.split() for k, v in _pairs(bands, "--bands").items()}
    grids = region if isinstance(region, NestedGrids) else nested_grids(region, res, crs=crs)
    bar = _Bar() if progress else None
    try:
        write = WriteOptions(scheduler=scheduler, overwrite=overwrite, progress=bar, memory_limit=memory_limit)
        summary = build_cube(items, grids, groups, out, resolutions=res, bands=band_map or None, options=options,
                             write=write)  # fmt: skip
    finally:
        if bar:
            bar.close()
    click.echo(
        f"{summary.store}: {summary.blocks_written} blocks written, {summary.blocks_skipped} already done "
        f"(groups {', '.join(summary.groups)})"
    )


class _Bar:
    """A rich progress bar fed by write_cube's (done, total) callback."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("cube blocks"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not console.is_terminal,
        )
        self._task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task("cube", total=total)
        self._progress.update(self._task, completed=done, total=total)

    def close(self) -> None:
        if self._task is not None:
            self._progress.stop()


@cube.command("info")
@click.argument("store")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info(*, store: str, as_json: bool) -> None:
    """Describe a cube: groups, grids, bands, dates, chunking, provenance; exit 1 if the schema is wrong."""
    from eofusion.cube import cube_info
    from eofusion.errors import CubeSchemaError

    summary = cube_info(store)
    if as_json:
        echo_json(summary)
    else:
        attrs = summary["attrs"]
        click.echo(f"{store}  (eofusion {attrs.get('eofusion:version')}, build {attrs.get('eofusion:build_hash')})")
        for name, g in summary["groups"].items():
            shape = " x ".join(f"{k}={v}" for k, v in g["shape"].items())
            click.echo(f"  {name}: {shape}  {g['crs']} @ {g['resolution']:g}  bounds {g['bounds']}")
            click.echo(f"      bands {', '.join(g['bands'])}")
            packing = g.get("packing")
            stored = (
                f"{g['dtype']} x {packing['scale_factor']:g} + {packing['add_offset']:g} (CF packed)"
                if packing
                else g["dtype"]
            )
            click.echo(f"      stored as {stored}")
            click.echo(
                f"      {len(g['times'])} date(s) {g['times'][0] if g['times'] else ''} .. "
                f"{g['times'][-1] if g['times'] else ''}; chunks {g['chunks']}; {g['items']} items; "
                f"{len(g['skipped'])} skipped"
            )
    if summary["problems"]:
        raise CubeSchemaError("; ".join(summary["problems"]))
