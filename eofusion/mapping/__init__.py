"""From predictions to products: class-map COGs, their STAC items and quicklooks."""

from eofusion.mapping.cog import ClassMapWriter, MapFiles, ensure_writable_dir, write_class_map
from eofusion.mapping.legend import CLASS_NODATA, MapClass, MapLegend
from eofusion.mapping.quicklook import write_quicklook
from eofusion.mapping.stac import map_item, write_item

__all__ = [
    "CLASS_NODATA",
    "ClassMapWriter",
    "MapClass",
    "MapFiles",
    "MapLegend",
    "ensure_writable_dir",
    "map_item",
    "write_class_map",
    "write_item",
    "write_quicklook",
]
