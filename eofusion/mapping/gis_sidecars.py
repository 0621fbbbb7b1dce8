"""Class names GIS tools read without help: a GDAL PAM sidecar (category names + raster attribute table) and a
QGIS style, beside every class-map COG.

GeoTIFF has no place for category names or a raster attribute table: GDAL keeps both in the dataset's PAM
file, ``<map>.tif.aux.xml``, which GDAL (``gdalinfo``, rasterio's GDAL), QGIS and ArcGIS read when they open
the map. The attribute table holds Value, Class_Name and Red/Green/Blue/Alpha columns with GDAL's field usages
(name, min-max, colours), so ArcGIS labels the classes and QGIS 3.30+ can classify by it. ``<map>.qml`` is a
QGIS paletted style (colours and labels) that QGIS applies on load. Both are written atomically after the COG.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from eofusion.atomic import write_text_atomic
from eofusion.mapping.legend import CLASS_NODATA, MapLegend

# GDAL's GDALRATFieldType and GDALRATFieldUsage codes (gdal.h): how the PAM XML names a column's kind.
_INTEGER, _STRING = 0, 2
_USAGE_GENERIC, _USAGE_NAME, _USAGE_MINMAX, _USAGE_RED, _USAGE_GREEN, _USAGE_BLUE, _USAGE_ALPHA = 0, 2, 5, 6, 7, 8, 9
_RAT_COLUMNS = (
    ("Value", _INTEGER, _USAGE_MINMAX),
    ("Class_Name", _STRING, _USAGE_NAME),
    ("Red", _INTEGER, _USAGE_RED),
    ("Green", _INTEGER, _USAGE_GREEN),
    ("Blue", _INTEGER, _USAGE_BLUE),
    ("Alpha", _INTEGER, _USAGE_ALPHA),
)


def pam_path(cog: Path) -> Path:
    """Where GDAL looks for a dataset's PAM file."""
    return cog.with_name(cog.name + ".aux.xml")


def style_path(cog: Path) -> Path:
    """Where QGIS looks for a layer's default style."""
    return cog.with_suffix(".qml")


def pam_xml(legend: MapLegend) -> str:
    """The PAM document: band 1's category names (index = class id) and its raster attribute table."""
    root = ET.Element("PAMDataset")
    band = ET.SubElement(root, "PAMRasterBand", band="1")
    names = legend.names()
    categories = ET.SubElement(band, "CategoryNames")
    for value in range(max(names) + 1):
        ET.SubElement(categories, "Category").text = names.get(value, "")
    table = ET.SubElement(band, "GDALRasterAttributeTable", tableType="thematic")
    for index, (name, kind, usage) in enumerate(_RAT_COLUMNS):
        field = ET.SubElement(table, "FieldDefn", index=str(index))
        ET.SubElement(field, "Name").text = name
        ET.SubElement(field, "Type").text = str(kind)
        ET.SubElement(field, "Usage").text = str(usage)
    for row, cls in enumerate(legend.classes):
        entry = ET.SubElement(table, "Row", index=str(row))
        for text in (str(cls.value), cls.name, *(str(c) for c in cls.colour), "255"):
            ET.SubElement(entry, "F").text = text
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def qgis_style(legend: MapLegend) -> str:
    """A QGIS paletted-renderer style: each class id with its colour and name; nodata transparent."""
    root = ET.Element("qgis", version="3.28", styleCategories="Symbology")
    pipe = ET.SubElement(root, "pipe")
    renderer = ET.SubElement(pipe, "rasterrenderer", type="paletted", band="1", opacity="1", alphaBand="-1")
    ET.SubElement(renderer, "rasterTransparency")
    palette = ET.SubElement(renderer, "colorPalette")
    for cls in legend.classes:
        if cls.value != CLASS_NODATA:
            ET.SubElement(palette, "paletteEntry", value=str(cls.value), color=cls.hex, label=cls.name, alpha="255")
    ET.indent(root)
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode") + "\n"


def write_gis_sidecars(cog: Path, legend: MapLegend) -> tuple[Path, Path]:
    """Write ``<cog>.aux.xml`` and ``<cog stem>.qml`` for a class map; returns their paths."""
    return (
        write_text_atomic(pam_path(cog), pam_xml(legend)),
        write_text_atomic(style_path(cog), qgis_style(legend)),
    )
