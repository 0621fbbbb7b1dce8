"""The .eofusion accessor on cube-like arrays and class maps."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import eofusion.explore  # noqa: F401  (registers the accessor)
from eofusion.errors import ConfigError, UnknownBandError
from eofusion.mapping import CLASS_NODATA, MapLegend
from eofusion.sensors import get_sensor


def s2_like(values: dict[str, float], shape: tuple[int, int] = (4, 5), dates: int = 3) -> xr.Dataset:
    """A cube group as load_aligned writes it: data[time, band, y, x] with the band coordinates."""
    sensor = get_sensor("sentinel-2a")
    bands = [sensor.band(name) for name in values]
    data = np.stack([np.full(shape, v, np.float32) for v in values.values()])[None].repeat(dates, axis=0)
    times = pd.date_range("2024-04-01", periods=dates, freq="30D")
    return xr.Dataset(
        {"data": (("time", "band", "y", "x"), data)},
        coords={
            "time": times,
            "band": [b.name for b in bands],
            "sensor": ("band", [sensor.name] * len(bands)),
            "centre_nm": ("band", [b.centre_nm for b in bands]),
            "bandwidth_nm": ("band", [b.bandwidth_nm for b in bands]),
            "kind": ("band", [b.kind.value for b in bands]),
            "units": ("band", [b.units for b in bands]),
            "y": 1000.0 - 10.0 * np.arange(shape[0]) - 5.0,
            "x": 500.0 + 10.0 * np.arange(shape[1]) + 5.0,
        },
    )


def test_bands_table_and_lookup_by_alias() -> None:
    ds = s2_like({"B02": 0.05, "B03": 0.08, "B04": 0.1, "B08": 0.4})
    table = ds.eofusion.bands()
    assert list(table.index) == ["B02", "B03", "B04", "B08"]
    assert table.loc["B04", "centre_nm"] == pytest.approx(664.6, abs=2.0)
    assert set(table.columns) == {"sensor", "centre_nm", "bandwidth_nm", "kind", "units"}
    assert ds.eofusion.band_name("red") == "B04"
    assert ds.eofusion.band_name("nir") == "B08"
    assert float(ds.eofusion.band("red").mean()) == pytest.approx(0.1)
    with pytest.raises(UnknownBandError, match="B11"):
        ds.eofusion.band("B11")


def test_ndvi_is_physical_and_nan_where_masked() -> None:
    ds = s2_like({"B04": 0.1, "B08": 0.4})
    ds["data"][1, :, 0, 0] = np.nan  # a cloudy pixel on the second date
    ndvi = ds.eofusion.ndvi()
    assert ndvi.dims == ("time", "y", "x")
    assert float(ndvi[0, 0, 0]) == pytest.approx((0.4 - 0.1) / (0.4 + 0.1))
    assert np.isnan(float(ndvi[1, 0, 0])) and int(ndvi.isnull().sum()) == 1


def test_rgb_picks_clearest_date_and_stretches_to_unit_range() -> None:
    ds = s2_like({"B02": 0.05, "B03": 0.08, "B04": 0.1})
    ds["data"][:, 2, :, :2] = 0.3  # brighter red on the left
    ds["data"][0, :, 0, :] = np.nan  # the first date is partly cloudy
    img = ds.eofusion.rgb()
    assert img.dims == ("y", "x", "rgb") and list(img["rgb"].values) == ["red", "green", "blue"]
    assert pd.Timestamp(img["time"].values) == pd.Timestamp("2024-05-01")  # the clearest date
    values = img.values
    assert np.nanmin(values) >= 0.0 and np.nanmax(values) <= 1.0
    assert values[0, 0, 0] > values[0, 4, 0]  # red stays brighter on the left after the stretch
    assert np.isnan(ds.eofusion.rgb(time=0).values[0]).all()  # an explicit date keeps its NaNs


def test_valid_fraction_and_time_series() -> None:
    ds = s2_like({"B04": 0.1, "B08": 0.4})
    ds["data"][2, 0, :2, :] = np.nan
    valid = ds.eofusion.valid_fraction()
    np.testing.assert_allclose(valid.values, [1.0, 1.0, 0.5])  # 2 of 4 rows cloudy
    series = ds.eofusion.time_series(x=516.0, y=984.0, bands=["red", "nir"])
    assert list(series.columns) == ["B04", "B08"] and len(series) == 3
    assert series["B08"].iloc[0] == pytest.approx(0.4)


def test_errors_name_the_problem() -> None:
    with pytest.raises(ConfigError, match="no 'data' variable"):
        xr.Dataset({"other": ("x", [1.0])}).eofusion.bands()
    with pytest.raises(ConfigError, match="'band' dimension"):
        xr.DataArray(np.zeros((2, 2)), dims=("y", "x")).eofusion.ndvi()
    with pytest.raises(ConfigError, match="2-D class map"):
        s2_like({"B04": 0.1}).eofusion.plot_map()


def class_map() -> xr.DataArray:
    ids = np.array([[1, 1, 5], [5, 11, CLASS_NODATA], [11, 11, 11]], dtype=np.uint8)
    return xr.DataArray(ids, dims=("y", "x"), coords={"y": [25.0, 15.0, 5.0], "x": [5.0, 15.0, 25.0]})


LEGEND = MapLegend.from_mapping({1: ("building", "#c8323c"), 5: ("water", "#1e64c8"), 11: ("crops", "#f0dc64")})


def test_plot_map_uses_legend_colours_and_hides_nodata() -> None:
    fig, ax = plt.subplots()
    class_map().eofusion.plot_map(LEGEND, ax=ax)
    image = ax.get_images()[0]
    rgba = image.to_rgba(image.get_array())
    assert tuple(np.round(rgba[0, 2, :3] * 255).astype(int)) == (0x1E, 0x64, 0xC8)  # water is the legend's blue
    assert np.ma.getmaskarray(image.get_array())[1, 2]  # nodata is transparent
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["building", "water", "crops"]
    assert image.get_extent() == [0.0, 30.0, 0.0, 30.0]
    plt.close(fig)


def test_plot_map_without_legend_and_class_fractions() -> None:
    fig, ax = plt.subplots()
    class_map().eofusion.plot_map(ax=ax)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 1", "class 5", "class 11"]
    plt.close(fig)
    fractions = class_map().eofusion.class_fractions(LEGEND)
    assert fractions.to_dict() == pytest.approx({"building": 0.25, "water": 0.25, "crops": 0.5})


def test_accessor_on_a_real_cube(small_cube) -> None:  # type: ignore[no-untyped-def]
    from eofusion.cube import open_datatree

    tree = open_datatree(small_cube)
    s2, aerial = tree["s2"].to_dataset(), tree["aerial"].to_dataset()
    assert s2.eofusion.band_name("nir") == "B08" and aerial.eofusion.band_name("nir") == "nir"
    ndvi = s2.eofusion.ndvi().max("time").values
    assert 0.3 < np.nanmedian(ndvi) < 1.0  # a summer of crops, woods and meadows
    assert aerial.eofusion.rgb().shape == (960, 960, 3)
    valid = s2.eofusion.valid_fraction().values
    assert valid.max() == 1.0 and valid.min() < 0.9  # the simulator's cloudy dates are masked
    fig, ax = plt.subplots()
    s2.eofusion.plot_rgb(ax=ax)
    assert len(ax.get_images()) == 1
    plt.close(fig)


def test_plot_map_of_a_written_cog_uses_its_own_colour_table_and_names(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import rioxarray
    from odc.geo.geobox import GeoBox

    from eofusion.mapping.cog import write_class_map

    geobox = GeoBox.from_bbox((500000, 4800000, 500040, 4800040), "EPSG:32631", resolution=10)
    ids = np.array([[1, 1, 5, 5], [1, 11, 11, 5], [11, 11, 11, CLASS_NODATA], [1, 5, 11, 11]], dtype=np.uint8)
    files = write_class_map(ids, geobox, tmp_path / "map.tif", LEGEND)
    fig, ax = plt.subplots()
    rioxarray.open_rasterio(files.classes).eofusion.plot_map(ax=ax)  # no legend given: the file's own
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["building", "water", "crops"]
    image = ax.get_images()[0]
    rgba = image.to_rgba(image.get_array())
    assert tuple(np.round(rgba[0, 2, :3] * 255).astype(int)) == (0x1E, 0x64, 0xC8)  # water: the COG's colour
    plt.close(fig)
