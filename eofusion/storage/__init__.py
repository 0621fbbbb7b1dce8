"""Where bytes live: local folders or object stores (s3://, gs://, az://), and how GDAL reads remote files.

:class:`Location` is the one type outputs are written through (cubes, maps, STAC items, manifests, done
records), so the same code writes a folder or a bucket; :func:`configure_gdal_for_cloud` is the one place
GDAL's remote-read settings are made (client and every Dask worker).
"""

from eofusion.storage.gdal_env import (
    cloud_read_options,
    configure_gdal_for_cloud,
    open_raster,
    raster_env,
)
from eofusion.storage.location import Location, is_remote
from eofusion.storage.transient import is_transient_message

__all__ = [
    "Location",
    "cloud_read_options",
    "configure_gdal_for_cloud",
    "is_remote",
    "is_transient_message",
    "open_raster",
    "raster_env",
]
