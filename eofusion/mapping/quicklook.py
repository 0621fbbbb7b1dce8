"""A PNG preview of a class map with its legend (matplotlib, headless)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from eofusion.mapping.legend import CLASS_NODATA, MapLegend

_MAX_SIDE = 1024  # quicklooks are previews: decimate larger maps


def write_quicklook(classes: npt.NDArray[np.integer], legend: MapLegend, path: str | Path, title: str = "") -> Path:
    """Render class ids with the legend's colours and a legend box; nodata is white."""
    # A Figure without pyplot: no global backend switch (a Jupyter kernel keeps its inline plots).
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    step = max(1, int(np.ceil(max(classes.shape) / _MAX_SIDE)))
    ids = np.asarray(classes)[::step, ::step]
    rgb = np.full((*ids.shape, 3), 255, dtype=np.uint8)
    for c in legend.classes:
        rgb[ids == c.value] = c.colour
    rgb[ids == CLASS_NODATA] = 255
    present = [c for c in legend.classes if np.any(ids == c.value)]
    fig = Figure(figsize=(8, 6), dpi=110)
    ax = fig.subplots()
    ax.imshow(rgb, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    handles = [Patch(facecolor=c.hex, edgecolor="black", label=c.name) for c in present]
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, bbox_inches="tight")
    os.replace(tmp, path)
    return path
