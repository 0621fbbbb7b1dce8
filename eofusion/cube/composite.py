"""Temporal composites of an aligned group (median or mean, over all dates or per period), lazily with Dask."""

from __future__ import annotations

import json
from typing import Literal

import numpy as np
import xarray as xr

from eofusion.config import short_hash


def composite(ds: xr.Dataset, how: Literal["median", "mean"] = "median", freq: str | None = None) -> xr.Dataset:
    """Temporal composite with Dask: over all dates, or per period (``freq="1MS"`` for monthly).

    NaN (masked) pixels are ignored; the result keeps the cube layout (``time`` = first date of each
    period) and records which items went into each composite. Each Dask task holds one spatial block of
    every date it reduces, so memory stays bounded by ``chunk_size`` x dates.
    """
    data = ds["data"].chunk({"time": -1})
    times = data["time"].values
    if freq is None:
        reduced = getattr(data, how)("time", skipna=True).expand_dims(time=[times[0]])
        members = [np.arange(len(times))]
    else:
        reduced = getattr(data.resample(time=freq), how)(skipna=True)
        starts = reduced["time"].values
        ends = np.append(starts[1:], np.datetime64("2262-01-01"))
        members = [np.flatnonzero((times >= lo) & (times < hi)) for lo, hi in zip(starts, ends, strict=True)]
    out = reduced.transpose("time", "band", "y", "x").astype(np.float32).chunk({"time": 1, "band": -1})
    out = out.assign_coords(spatial_ref=ds["spatial_ref"])
    result = xr.Dataset({"data": out}, attrs=dict(ds.attrs))
    result["data"].attrs = dict(ds["data"].attrs)
    slots = json.loads(str(ds.attrs.get("eofusion:items", "[]")))
    spec = f"{how}:{freq or 'all'}"
    result.attrs.update(
        {
            "eofusion:composite": spec,
            "eofusion:items": json.dumps([[i for k in m for i in slots[k]] for m in members] if slots else []),
            "eofusion:config_hash": short_hash([ds.attrs.get("eofusion:config_hash"), spec]),
        }
    )
    return result
