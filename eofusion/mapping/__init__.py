"""From predictions to products: class-map COGs, their STAC items and quicklooks."""

from eofusion.mapping.cog import ClassMapWriter, MapFiles, MapLayers, ensure_writable_dir, write_class_map
from eofusion.mapping.legend import CLASS_NODATA, MapClass, MapLegend
from eofusion.mapping.quicklook import write_quicklook
from eofusion.mapping.stac import MapExtras, MapSources, map_item, write_item
from eofusion.mapping.stac_collection import job_collection

__all__ = [
    "CLASS_NODATA",
    "ClassMapWriter",
    "MapClass",
    "MapExtras",
    "MapFiles",
    "MapLayers",
    "MapLegend",
    "MapSources",
    "ensure_writable_dir",
    "job_collection",
    "map_item",
    "write_class_map",
    "write_item",
    "write_quicklook",
]
