"""Class names that GIS tools read: GDAL itself (the libgdal rasterio ships) reads them back from our files."""

from __future__ import annotations

import ctypes
import glob
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import rasterio
from odc.geo.geobox import GeoBox

from eofusion.mapping import MapLegend
from eofusion.mapping.cog import write_class_map
from eofusion.mapping.mosaic import mosaic_class_maps

LEGEND = MapLegend.from_mapping({1: ("building", "#db0e9a"), 2: ("water", "#0000ff"), 5: ("deciduous", "#46e483")})


def _gdal() -> ctypes.CDLL:
    """GDAL's C API from the library rasterio loaded (the GDAL every rasterio user has)."""
    libs = glob.glob(os.path.join(os.path.dirname(rasterio.__file__), "..", "rasterio.libs", "libgdal*"))
    if not libs:
        pytest.skip("rasterio is not the wheel with a bundled libgdal")
    lib = ctypes.CDLL(libs[0])
    lib.GDALAllRegister()
    lib.GDALOpen.restype = ctypes.c_void_p
    lib.GDALOpen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    lib.GDALGetRasterBand.restype = ctypes.c_void_p
    lib.GDALGetRasterBand.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.GDALGetRasterCategoryNames.restype = ctypes.POINTER(ctypes.c_char_p)
    lib.GDALGetRasterCategoryNames.argtypes = [ctypes.c_void_p]
    lib.GDALGetDefaultRAT.restype = ctypes.c_void_p
    lib.GDALGetDefaultRAT.argtypes = [ctypes.c_void_p]
    lib.GDALRATGetRowCount.argtypes = [ctypes.c_void_p]
    lib.GDALRATGetColOfUsage.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.GDALRATGetValueAsString.restype = ctypes.c_char_p
    lib.GDALRATGetValueAsString.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.GDALRATGetValueAsInt.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.GDALClose.argtypes = [ctypes.c_void_p]
    return lib


def read_class_names(path: Path) -> tuple[list[str], dict[int, str]]:
    """(category names, {value: name} from the raster attribute table) as GDAL reads them."""
    lib = _gdal()
    dataset = lib.GDALOpen(str(path).encode(), 0)
    assert dataset, f"GDAL cannot open {path}"
    try:
        band = lib.GDALGetRasterBand(dataset, 1)
        rat = lib.GDALGetDefaultRAT(band)  # first: the GeoTIFF driver loads the PAM file on this call
        names, i = [], 0
        raw = lib.GDALGetRasterCategoryNames(band)
        while raw and raw[i] is not None:
            names.append(raw[i].decode())
            i += 1
        table = {}
        if rat:
            value_col, name_col = lib.GDALRATGetColOfUsage(rat, 5), lib.GDALRATGetColOfUsage(rat, 2)  # min-max, name
            for row in range(lib.GDALRATGetRowCount(rat)):
                table[lib.GDALRATGetValueAsInt(rat, row, value_col)] = lib.GDALRATGetValueAsString(
                    rat, row, name_col
                ).decode()
        return names, table
    finally:
        lib.GDALClose(dataset)


def test_gdal_reads_class_names_from_a_class_map_and_a_mosaic(tmp_path: Path) -> None:
    geobox = GeoBox.from_bbox((500000, 4800000, 500640, 4800640), "EPSG:32631", resolution=10)
    classes = np.tile(np.array([1, 2, 5, 255], dtype=np.uint8), (64, 16))
    files = write_class_map(classes, geobox, tmp_path / "tile.tif", LEGEND)
    assert {p.name for p in files.sidecars} == {"tile.tif.aux.xml", "tile.qml"}
    names, table = read_class_names(files.classes)
    assert names[1] == "building" and names[2] == "water" and names[5] == "deciduous" and names[0] == ""
    assert table == {1: "building", 2: "water", 5: "deciduous"}

    mosaic = mosaic_class_maps([files.classes], tmp_path / "mosaic.tif", LEGEND)
    assert read_class_names(mosaic.classes)[1] == table

    style = ET.parse(tmp_path / "tile.qml").getroot()
    entries = {e.get("value"): (e.get("label"), e.get("color")) for e in style.iter("paletteEntry")}
    assert entries == {"1": ("building", "#db0e9a"), "2": ("water", "#0000ff"), "5": ("deciduous", "#46e483")}
