"""The ``.eofusion`` accessor on xarray objects: band identity, RGB, NDVI, time series and map plots.

It works on a cube group (``data[time, band, y, x]`` with the band coordinates ``sensor``, ``centre_nm``,
``bandwidth_nm``, ``kind``, ``units``; a Dataset delegates to its ``data`` variable) and on class maps
(2-D integer rasters, e.g. a map COG opened with rioxarray). Bands are picked by registry name, alias or
common name — never by position — so the same call works for Sentinel-2, aerial or Landsat cubes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from eofusion.errors import ConfigError, UnknownBandError
from eofusion.mapping import CLASS_NODATA, MapLegend
from eofusion.sensors import get_band

if TYPE_CHECKING:
    from matplotlib.axes import Axes

BAND_COORDS = ("sensor", "centre_nm", "bandwidth_nm", "kind", "units")
LegendLike = MapLegend | Mapping[int, tuple[str, Any]]


def _as_legend(legend: LegendLike) -> MapLegend:
    return legend if isinstance(legend, MapLegend) else MapLegend.from_mapping(legend)


class _Accessor:
    def __init__(self, obj: xr.DataArray | xr.Dataset) -> None:
        self._obj = obj

    @property
    def _data(self) -> xr.DataArray:
        obj = self._obj
        if isinstance(obj, xr.Dataset):
            if "data" not in obj:
                raise ConfigError(
                    f"This Dataset has no 'data' variable (it has {', '.join(map(str, obj.data_vars))}); "
                    "use a cube group, e.g. open_cube(store).dataset('s2')."
                )
            return obj["data"]
        return obj

    def _require_bands(self) -> xr.DataArray:
        data = self._data
        if "band" not in data.dims:
            raise ConfigError(f"Expected a cube array with a 'band' dimension; this one has dims {data.dims}.")
        return data

    # -- band identity -------------------------------------------------------------------------------
    def bands(self) -> pd.DataFrame:
        """One row per band: name and every band coordinate present (sensor, wavelengths, kind, units)."""
        data = self._require_bands()
        table = {"band": [str(b) for b in data["band"].values]}
        for name in BAND_COORDS:
            if name in data.coords and data[name].dims == ("band",):
                table[name] = list(data[name].values)
        return pd.DataFrame(table).set_index("band")

    def band_name(self, wanted: str) -> str:
        """The cube's name of a band given by registry name, alias or common name (``"red"`` -> ``"B04"``)."""
        data = self._require_bands()
        names = [str(b) for b in data["band"].values]
        if wanted in names:
            return wanted
        sensors = [str(s) for s in data["sensor"].values] if "sensor" in data.coords else [None] * len(names)
        for name, sensor in zip(names, sensors, strict=True):
            if sensor is None:
                continue
            try:
                if get_band(sensor, wanted).name == name:
                    return name
            except UnknownBandError:
                continue
        raise UnknownBandError(f"No band {wanted!r} in this array; it has {', '.join(names)} (see .eofusion.bands()).")

    def band(self, wanted: str) -> xr.DataArray:
        """One band (by name, alias or common name), without the ``band`` dimension."""
        data = self._require_bands()
        return data.sel(band=self.band_name(wanted))

    # -- derived layers ------------------------------------------------------------------------------
    def ndvi(self, nir: str = "nir", red: str = "red") -> xr.DataArray:
        """(NIR - red) / (NIR + red), NaN where either is missing (clouds, nodata)."""
        n, r = self.band(nir).astype("float32"), self.band(red).astype("float32")
        out = (n - r) / (n + r)
        return out.where(np.isfinite(out)).rename("ndvi").assign_attrs(long_name="NDVI", units="1")

    def rgb(
        self,
        time: Any = None,
        bands: Sequence[str] = ("red", "green", "blue"),
        percentiles: tuple[float, float] = (2.0, 98.0),
    ) -> xr.DataArray:
        """A display-ready ``[y, x, rgb]`` image in 0..1 (one percentile stretch for all channels; NaN stays NaN).

        Args:
            time: Label or integer position of the date to show; default the clearest (fewest NaNs) date.
            bands: Three bands by name, alias or common name.
            percentiles: Stretch range (over the three channels together).
        """
        data = self._require_bands()
        if "time" in data.dims:
            data = self._pick_time(data, time)
        img = xr.concat([data.sel(band=self.band_name(b)) for b in bands], dim="rgb").transpose("y", "x", "rgb")
        values = np.asarray(img.values, dtype=np.float64)
        if np.isfinite(values).any():
            # One stretch for all three channels keeps the colour balance (per-channel stretches tint scenes).
            lo, hi = np.nanpercentile(values, percentiles)
            values = np.clip((values - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
        return img.copy(data=values).assign_coords(rgb=list(bands))

    def _pick_time(self, data: xr.DataArray, time: Any) -> xr.DataArray:
        if time is None:
            missing = data.isnull().sum(dim=[d for d in data.dims if d != "time"])
            return data.isel(time=int(np.argmin(missing.values)))
        if isinstance(time, int):
            return data.isel(time=time)
        return data.sel(time=time, method="nearest")

    def valid_fraction(self) -> xr.DataArray:
        """Per date, the fraction of pixels with every band valid (clouds and nodata are NaN in a cube)."""
        data = self._require_bands()
        valid = data.notnull().all("band")
        return valid.mean(dim=[d for d in valid.dims if d != "time"]).rename("valid_fraction")

    def time_series(self, x: float, y: float, bands: Sequence[str] | None = None) -> pd.DataFrame:
        """Values of the pixel nearest to ``(x, y)`` (the cube's CRS) over time: one column per band."""
        data = self._require_bands()
        names = [self.band_name(b) for b in bands] if bands is not None else [str(b) for b in data["band"].values]
        px = data.sel(band=names).sel(x=x, y=y, method="nearest")
        if "time" not in px.dims:
            px = px.expand_dims(time=[pd.NaT])
        frame = pd.DataFrame(np.asarray(px.transpose("time", "band").values), index=px["time"].values, columns=names)
        frame.index.name = "time"
        return frame

    # -- plots -------------------------------------------------------------------------------------
    def plot_rgb(self, time: Any = None, ax: Axes | None = None, **rgb_kwargs: Any) -> Axes:
        """Show :meth:`rgb` with map coordinates on the axes."""
        import matplotlib.pyplot as plt

        img = self.rgb(time=time, **rgb_kwargs)
        ax = ax or plt.subplots(figsize=(5, 5))[1]
        ax.imshow(np.nan_to_num(img.values, nan=0.0), extent=_extent(img), interpolation="nearest")
        ax.set_aspect("equal")
        return ax

    def plot_map(
        self, legend: LegendLike | None = None, ax: Axes | None = None, alpha: float = 1.0, show_legend: bool = True
    ) -> Axes:
        """Plot a class map with its legend colours (nodata transparent).

        Without a legend, the map's own: the class names eofusion writes (``class_names`` tag) and the COG's
        colour table, read from the file the array came from (``rioxarray.open_rasterio``); ids without either
        get tab20 colours and "class N" names.
        """
        import matplotlib.pyplot as plt
        from matplotlib.colors import ListedColormap
        from matplotlib.patches import Patch

        data = self._data.squeeze(drop=True)
        if data.ndim != 2:
            raise ConfigError(f"plot_map needs a 2-D class map; this array has dims {data.dims}.")
        ids = np.asarray(data.values)
        nodata = _nodata(data)
        present = sorted(int(v) for v in np.unique(ids[np.isfinite(ids)]) if v != nodata) if ids.size else []
        if legend is not None:
            leg = _as_legend(legend)
        else:
            leg = _legend_of_map(self._data, present) or _generic_legend(present)
        values = [c.value for c in leg.classes]
        lut = np.full(256, -1, dtype=np.int64)
        lut[values] = np.arange(len(values))
        index = np.where((ids >= 0) & (ids < 256), lut[np.clip(ids, 0, 255).astype(np.int64)], -1)
        colours = ListedColormap([_unit_rgb(c.colour) for c in leg.classes])
        ax = ax or plt.subplots(figsize=(6, 6))[1]
        ax.imshow(
            np.ma.masked_less(index, 0),
            cmap=colours,
            vmin=-0.5,
            vmax=len(values) - 0.5,
            extent=_extent(data),
            interpolation="nearest",
            alpha=alpha,
        )
        ax.set_aspect("equal")
        if show_legend:
            handles = [Patch(color=_unit_rgb(c.colour), label=c.name) for c in leg.classes if c.value in present]
            ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
        return ax

    def class_fractions(self, legend: LegendLike | None = None) -> pd.Series:
        """Share of each class id among the valid pixels of a class map (named when a legend is given)."""
        ids = np.asarray(self._data.values).ravel()
        ids = ids[np.isfinite(ids) & (ids != _nodata(self._data))].astype(np.int64)
        values, counts = np.unique(ids, return_counts=True)
        names = _as_legend(legend).names() if legend is not None else {}
        total = int(counts.sum()) or 1
        series = pd.Series(counts / total, index=[names.get(int(v), int(v)) for v in values])
        return series.rename("fraction")


def _generic_legend(present: Sequence[int]) -> MapLegend:
    import matplotlib.pyplot as plt

    cmap20 = plt.get_cmap("tab20")
    return MapLegend.from_mapping(
        {v: (f"class {v}", [int(255 * c) for c in cmap20(i % 20)[:3]]) for i, v in enumerate(present)}
    )


def _legend_of_map(data: xr.DataArray, present: Sequence[int]) -> MapLegend | None:
    """The legend a class-map file carries: names from its ``class_names`` tag, colours from its colour table."""
    import json

    names: dict[int, str] = {}
    raw = data.attrs.get("class_names")
    if isinstance(raw, str):
        names = {int(k): str(v) for k, v in json.loads(raw).items()}
    colours: dict[int, tuple[int, int, int]] = {}
    source = data.encoding.get("source")
    if source:
        import rasterio

        try:
            with rasterio.open(source) as src:
                colours = {int(k): tuple(v[:3]) for k, v in src.colormap(1).items()}  # type: ignore[misc]
        except (ValueError, rasterio.errors.RasterioError):  # no colour table, or not a file GDAL opens
            colours = {}
    if not names and not colours:
        return None
    fallback = _generic_legend(present)
    table = {}
    for value in sorted(set(names) | set(present)):
        default = next((c for c in fallback.classes if c.value == value), None)
        colour = colours.get(value) or (default.colour if default else (128, 128, 128))
        table[value] = (names.get(value, f"class {value}"), colour)
    return MapLegend.from_mapping(table)


def _nodata(data: xr.DataArray) -> float:
    """A class map's nodata: its CF/rioxarray fill value, else eofusion's class-map nodata (255)."""
    value = data.attrs.get("_FillValue", data.attrs.get("nodata"))
    if value is None and "spatial_ref" in data.coords and hasattr(data, "rio"):
        value = data.rio.nodata
    return float(CLASS_NODATA if value is None else value)


def _unit_rgb(colour: tuple[int, int, int]) -> tuple[float, float, float]:
    return (colour[0] / 255.0, colour[1] / 255.0, colour[2] / 255.0)


def _extent(data: xr.DataArray) -> tuple[float, float, float, float] | None:
    if "x" not in data.coords or "y" not in data.coords or data.sizes.get("x", 0) < 2 or data.sizes.get("y", 0) < 2:
        return None
    x, y = data["x"].values, data["y"].values
    dx, dy = abs(float(x[1] - x[0])), abs(float(y[1] - y[0]))
    return (float(x.min() - dx / 2), float(x.max() + dx / 2), float(y.min() - dy / 2), float(y.max() + dy / 2))


@xr.register_dataarray_accessor("eofusion")
class DataArrayAccessor(_Accessor):
    """``da.eofusion``: band identity, RGB, NDVI, time series and plots of a cube array or class map."""


@xr.register_dataset_accessor("eofusion")
class DatasetAccessor(_Accessor):
    """``ds.eofusion``: the same as on its ``data`` variable (a cube group)."""
