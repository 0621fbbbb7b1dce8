"""Cloud-Optimized GeoTIFF output: write window by window, then let rio-cogeo lay the COG out.

Windows go to a tiled scratch GeoTIFF; rio-cogeo then copies it into COG layout with internal overviews.
The final file appears under its name only when complete (temporary name + ``os.replace``).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from odc.geo.geobox import GeoBox
from rasterio.windows import Window
from rio_cogeo.cogeo import cog_translate

# ZSTD + predictor decodes ~2x faster than DEFLATE on these machines (see ANCHORS.md).
_COMPRESSION = "ZSTD"


class CogWriter:
    """A raster written window by window and finalised as a COG on exit.

    Args:
        path: Final COG path.
        gbox: The raster's grid.
        dtype: numpy dtype name.
        descriptions: One description per band (their number is the band count).
        nodata: Nodata value written in the file (None for none; NaN allowed for floats).
        resampling: Overview resampling (``average`` for measurements, ``nearest`` for classes).
        blocksize: COG tile size.
        tags: Dataset-level GeoTIFF metadata (units, provenance).

    A class raster gets its colour table with :meth:`write_colormap` before the writer is closed.
    """

    def __init__(
        self,
        path: Path,
        gbox: GeoBox,
        dtype: str,
        *,
        descriptions: tuple[str, ...],
        nodata: float | None = None,
        resampling: str = "average",
        blocksize: int = 256,
        tags: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.resampling = resampling
        self.blocksize = blocksize
        self.tags = dict(tags or {})
        self.colormap: dict[int, tuple[int, int, int, int]] | None = None
        count = len(descriptions)
        self._scratch = self.path.with_name(f".{self.path.name}.scratch.tif")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        rows, cols = gbox.shape
        self._ds = rasterio.open(
            self._scratch,
            "w",
            driver="GTiff",
            width=cols,
            height=rows,
            count=count,
            dtype=dtype,
            crs=str(gbox.crs),
            transform=gbox.affine,
            nodata=nodata,
            tiled=True,
            blockxsize=256,
            blockysize=256,
            compress=_COMPRESSION,
            # Read once by cog_translate, which compresses the COG: the fastest level keeps the scratch
            # small at a fraction of the default level's time (the COG's bytes do not depend on it).
            zstd_level=1,
            BIGTIFF="IF_SAFER",
        )
        for i, text in enumerate(descriptions, start=1):
            self._ds.set_band_description(i, text)

    def write_colormap(self, colormap: dict[int, tuple[int, int, int, int]]) -> None:
        """Give band 1 a GDAL colour table (class rasters), written into the COG when it is finalised."""
        self.colormap = colormap

    def write(self, array: npt.NDArray[Any], window: Window) -> None:
        """Write ``array`` ([rows, cols] or [bands, rows, cols]) at ``window``."""
        data = array if array.ndim == 3 else array[None]
        self._ds.write(data.astype(self._ds.dtypes[0], copy=False), window=window)

    def __enter__(self) -> CogWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._ds.close()
        try:
            if exc_type is None:
                self._finalise()
        finally:
            self._scratch.unlink(missing_ok=True)

    def _finalise(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        predictor = 3 if np.dtype(self._ds.dtypes[0]).kind == "f" else 2
        profile = {
            "driver": "GTiff",
            "interleave": "pixel",
            "tiled": True,
            "blockxsize": self.blocksize,
            "blockysize": self.blocksize,
            "compress": _COMPRESSION,
            "predictor": predictor,
        }
        with (
            rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS", GDAL_TIFF_OVR_BLOCKSIZE=str(self.blocksize)),
            warnings.catch_warnings(),
        ):
            # With a colour table rio-cogeo announces the palette interpretation it sets: that is intended.
            warnings.filterwarnings("ignore", message="Dataset color interpretation was set to", category=UserWarning)
            cog_translate(
                self._scratch,
                tmp,
                profile,
                overview_resampling=self.resampling,  # type: ignore[arg-type]
                quiet=True,
                in_memory=False,
                additional_cog_metadata=self.tags or None,
                colormap=self.colormap,
            )
        os.replace(tmp, self.path)
