"""Readable summaries of the main objects (grids, cubes, job specs) for notebooks and logs.

Each helper returns a :class:`Summary`: plain text in ``repr``/``str``, a small table in Jupyter.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from typing import Any

import xarray as xr

from eofusion.cube import Cube, cube_info
from eofusion.grid import NestedGrids
from eofusion.pipeline import JobSpec


@dataclass(frozen=True)
class Summary:
    """A titled list of (field, value) rows."""

    title: str
    rows: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        width = max((len(k) for k, _ in self.rows), default=0)
        return "\n".join([self.title, *(f"  {k.ljust(width)}  {v}" for k, v in self.rows)])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        cell = "style='text-align:left'"
        body = "".join(
            f"<tr><th {cell}>{html.escape(k)}</th><td {cell}>{html.escape(v)}</td></tr>" for k, v in self.rows
        )
        return f"<b>{html.escape(self.title)}</b><table>{body}</table>"

    def as_dict(self) -> dict[str, str]:
        """The rows as a dict."""
        return dict(self.rows)


def _fmt_bounds(bounds: Any) -> str:
    return "(" + ", ".join(f"{float(v):,.1f}" for v in bounds) + ")"


def summarize_grids(grids: NestedGrids) -> Summary:
    """CRS, bounds and, per sensor, resolution and shape of a set of nested grids."""
    left, bottom, right, top = grids.bounds
    rows = [
        ("crs", str(grids.crs)),
        ("bounds", _fmt_bounds(grids.bounds)),
        ("extent", f"{(right - left) / 1000:.2f} km x {(top - bottom) / 1000:.2f} km"),
    ]
    for key in grids.keys:
        gb = grids.geobox(key)
        rows.append((key, f"{grids.resolutions[key]:g} m, {gb.shape[0]} x {gb.shape[1]} px"))
    return Summary("NestedGrids", tuple(rows))


def summarize_cube(store: str | os.PathLike[str]) -> Summary:
    """Groups, bands, dates, grid and validity of a cube store (from :func:`eofusion.cube.cube_info`)."""
    info = cube_info(store)
    rows = [("store", str(info["store"])), ("valid", "yes" if info["valid"] else "; ".join(info["problems"]))]
    for name, g in info["groups"].items():
        times = g["times"]
        span = f"{len(times)} date(s)" + (f" {times[0][:10]} .. {times[-1][:10]}" if times else "")
        shape = g["shape"]
        rows.append(
            (
                name,
                f"{len(g['bands'])} bands [{', '.join(g['bands'])}], {span}, {g['resolution']:g} m, "
                f"{shape.get('y')} x {shape.get('x')} px, {g['crs']}",
            )
        )
    return Summary("eofusion cube", tuple(rows))


def summarize_tree(tree: xr.DataTree) -> Summary:
    """Groups, bands and dates of an opened cube (a DataTree from :meth:`eofusion.cube.Cube.datatree`)."""
    rows = []
    for name, node in tree.children.items():
        ds = node.to_dataset()
        bands = [str(b) for b in ds["band"].values] if "band" in ds.coords else []
        sizes = dict(ds.sizes)
        rows.append(
            (
                str(name),
                f"{len(bands)} bands [{', '.join(bands)}], {sizes.get('time', 1)} date(s), "
                f"{sizes.get('y')} x {sizes.get('x')} px",
            )
        )
    return Summary("eofusion cube (opened)", tuple(rows))


def summarize_job(spec: JobSpec) -> Summary:
    """What a scheduled job will do: area, time, catalog, sensors, model and outputs."""
    aoi = spec.aoi
    where = (
        f"{len(aoi.tiles)} tile(s)" if aoi.tiles else f"bbox {aoi.bbox} ({aoi.crs})" if aoi.bbox else str(aoi.geojson)
    )
    rows = (
        ("name", spec.name),
        ("aoi", where),
        ("tiling", f"{spec.tiling.tile_size_m:g} m tiles in {spec.tiling.crs or 'the AOI UTM zone'}"),
        ("time", f"{spec.time.start} .. {spec.time.end}"),
        ("catalog", f"{spec.catalog.source} {spec.catalog.collections or ''}".strip()),
        ("sensors", ", ".join(f"{s} @ {spec.resolutions.get(s, '?')} m" for s in spec.sensors)),
        ("model", str(spec.model.checkpoint)),
        ("outputs", str(spec.outputs.dir)),
        ("run", f"{spec.run.workers} worker(s) x {spec.run.threads_per_worker} thread(s), {spec.run.memory_limit}"),
    )
    return Summary(f"JobSpec {spec.name!r}", rows)


def summarize(obj: Any) -> Summary:
    """A :class:`Summary` of a NestedGrids, JobSpec, Cube, cube DataTree or cube store path."""
    if isinstance(obj, NestedGrids):
        return summarize_grids(obj)
    if isinstance(obj, JobSpec):
        return summarize_job(obj)
    if isinstance(obj, xr.DataTree):
        return summarize_tree(obj)
    if isinstance(obj, Cube):
        return summarize_cube(obj.path)
    if isinstance(obj, str | os.PathLike):
        return summarize_cube(obj)
    raise TypeError(
        f"No summary for {type(obj).__name__}; give NestedGrids, JobSpec, a Cube, a DataTree or a cube path."
    )
