"""Object heights above the terrain (nDSM): hipped roofs of buildings and tree crowns.

Both are analytic in world coordinates (building rectangles from their stored centre, axes and size;
crowns from :func:`eofusion.simulate.fields.crowns`), so the DSM, the aerial image's shading and shadows,
and any other grid see the same objects at the same places.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from eofusion.simulate.classes import LC
from eofusion.simulate.fields import crowns, sampled, stride_for, terrain
from eofusion.simulate.surface import FeatureTable

FloatArray = npt.NDArray[np.float64]
MAX_OBJECT_HEIGHT_M = 30.0
UNDERSTOREY_M = 1.0


def object_heights(
    fid: npt.NDArray[np.int32], x: FloatArray, y: FloatArray, table: FeatureTable, seed: int
) -> FloatArray:
    """Height above ground (m) of buildings, trees and scrub at each pixel; 0 elsewhere."""
    out = np.zeros(fid.shape)
    safe = np.where(fid < 0, 0, fid)
    cls = table.class_id[safe]
    cls = np.where(fid < 0, 0, cls)

    bld = cls == LC["building"]
    if bld.any():
        f = safe[bld]
        dx, dy = x[bld] - table.cx[f], y[bld] - table.cy[f]
        cos, sin = np.cos(table.orient[f]), np.sin(table.orient[f])
        u = dx * cos + dy * sin
        v = -dx * sin + dy * cos
        edge = np.minimum(table.length[f] / 2 - np.abs(u), table.width[f] / 2 - np.abs(v))
        edge = np.clip(edge, 0.0, None)
        out[bld] = table.height[f] + np.tan(np.radians(table.pitch[f])) * edge

    for cid, spacing, height, conical in (
        (LC["deciduous"], 7.0, (12.0, 22.0), False),
        (LC["coniferous"], 5.0, (14.0, 24.0), True),
        (LC["brushwood"], 3.0, (1.0, 3.0), False),
    ):
        m = cls == cid
        if m.any():
            h = crowns(x[m], y[m], seed, spacing=spacing, height=height, conical=conical)
            out[m] = np.maximum(h, UNDERSTOREY_M if cid != LC["brushwood"] else 0.2)
    return out


def surface_model(
    fid: npt.NDArray[np.int32], x: FloatArray, y: FloatArray, table: FeatureTable, seed: int, *, res: float
) -> tuple[FloatArray, FloatArray]:
    """(DTM, DSM) in metres at the given world coordinates (a grid of pixel size ``res``)."""
    dtm = sampled(lambda a, b: terrain(a, b, seed), x, y, stride_for(110.0, res))
    return dtm, dtm + object_heights(fid, x, y, table, seed)
