"""Class maps as Cloud-Optimized GeoTIFFs, written window by window and published atomically.

Pixels stream into a tiled temporary GeoTIFF beside the destination; on close, rio-cogeo turns it into a COG
(internal overviews: mode for class ids, average for probabilities; embedded colour table), the COG is
validated, and only then renamed onto the destination. A failure at any point (ENOSPC included) removes the
temporaries: a destination path either holds a complete, valid COG or nothing new.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import rasterio
from odc.geo.geobox import GeoBox
from rasterio.windows import Window
from rio_cogeo.cogeo import cog_translate, cog_validate
from rio_cogeo.profiles import cog_profiles

from eofusion.errors import OutputLocationError
from eofusion.mapping.gis_sidecars import write_gis_sidecars
from eofusion.mapping.legend import CLASS_NODATA, MapLegend

logger = logging.getLogger(__name__)

_BLOCK = 512
PROBABILITY_NODATA = 255  # probabilities and confidence are stored as uint8 percent (0..100)


def ensure_writable_dir(directory: str | Path) -> Path:
    """Create ``directory`` if needed and prove a file can be written there, before any work starts."""
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".eofusion-write-probe-{uuid.uuid4().hex}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as err:
        raise OutputLocationError(
            f"Cannot write to output location {path}: {err.strerror or err}. "
            "Choose another output directory (--out / outputs.dir) or fix its permissions."
        ) from None
    return path


@dataclass(frozen=True)
class MapLayers:
    """Which layers a map gets besides its class ids (all uint8 percent, 0..100)."""

    confidence: bool = False  # the winning class's probability, one band
    probabilities: bool = False  # one band per class (implies the confidence layer)


@dataclass(frozen=True)
class MapFiles:
    """The COGs of one map."""

    classes: Path
    confidence: Path | None = None
    probabilities: Path | None = None
    sidecars: tuple[Path, ...] = ()  # class names for GIS tools: GDAL PAM (.aux.xml) and QGIS style (.qml)


def confidence_path(classes: Path) -> Path:
    """Where a class map's confidence layer goes: ``<name>_confidence.tif`` beside it."""
    stem = classes.with_suffix("")
    return stem.with_name(stem.name + "_confidence.tif")


def _temporary_name(dest: Path, tag: str) -> Path:
    return dest.with_name(f".{dest.name}.{tag}-{uuid.uuid4().hex[:8]}.tif")


class StreamedRaster:
    """One tiled temporary GeoTIFF that becomes a COG at ``dest`` on :meth:`publish`."""

    def __init__(
        self,
        dest: Path,
        geobox: GeoBox,
        count: int,
        nodata: int,
        descriptions: list[str],
        *,
        colormap: Mapping[int, Any] | None = None,
    ) -> None:
        self.dest = dest
        self.tmp = _temporary_name(dest, "part")
        if geobox.crs is None:
            raise OutputLocationError(f"The grid of {dest} has no CRS; maps are always georeferenced.")
        profile = {
            "driver": "GTiff",
            "dtype": "uint8",
            "count": count,
            "nodata": nodata,
            "width": geobox.width,
            "height": geobox.height,
            "crs": geobox.crs.to_wkt(),
            "transform": geobox.affine,
            "tiled": True,
            "blockxsize": _BLOCK,
            "blockysize": _BLOCK,
            "compress": "deflate",
            **self._photometric(count),
        }
        self.dataset = rasterio.open(self.tmp, "w", **profile)
        if colormap:  # before any pixel: the palette is part of the TIFF's header
            self.dataset.write_colormap(1, dict(colormap))
        for i, text in enumerate(descriptions, start=1):
            self.dataset.set_band_description(i, text)

    @staticmethod
    def _photometric(count: int) -> dict[str, str]:
        # Several uint8 bands would be taken for RGB(A) (band 4 = 0 meaning transparent): say they are
        # plain samples. A single band keeps GDAL's default so that a colour table makes it a palette.
        return {"photometric": "MINISBLACK"} if count > 1 else {}

    def write(self, data: npt.NDArray[np.uint8], window: Window) -> None:
        self.dataset.write(data if data.ndim == 3 else data[None], window=window)

    def publish(
        self,
        resampling: Literal["mode", "average", "nearest"],
        tags: Mapping[str, str],
    ) -> None:
        self.dataset.update_tags(**tags)
        self.dataset.close()
        staged = _temporary_name(self.dest, "cog")
        try:
            with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS"):
                cog_translate(
                    str(self.tmp),
                    str(staged),
                    {**cog_profiles.get("deflate"), **self._photometric(self.dataset.count)},
                    overview_resampling=resampling,
                    additional_cog_metadata=dict(tags),
                    forward_band_tags=True,
                    quiet=True,
                    in_memory=False,
                )
            valid, errors, _ = cog_validate(str(staged), quiet=True)
            if not valid:
                raise OutputLocationError(f"The COG written for {self.dest} does not validate: {errors}")
            os.replace(staged, self.dest)
        finally:
            staged.unlink(missing_ok=True)
            self.tmp.unlink(missing_ok=True)

    def discard(self) -> None:
        if not self.dataset.closed:
            self.dataset.close()
        self.tmp.unlink(missing_ok=True)


class ClassMapWriter:
    """Write a class map (and optionally confidence and per-class probabilities) window by window.

    Use as a context manager; leaving the block normally publishes COGs, an exception discards everything::

        with ClassMapWriter(path, geobox, legend, probabilities=True) as writer:
            for window, ids, probs in tiles:
                writer.write(window, ids, probs)
        files = writer.files
    """

    def __init__(
        self,
        path: str | Path,
        geobox: GeoBox,
        legend: MapLegend,
        *,
        probabilities: bool = False,
        confidence: bool | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self.geobox = geobox
        self.legend = legend
        self.tags = {k: v if isinstance(v, str) else json.dumps(v, default=str) for k, v in (tags or {}).items()}
        self.tags["class_names"] = json.dumps({str(k): v for k, v in legend.names().items()})
        self.files: MapFiles | None = None
        self._with_probabilities = probabilities
        self._with_confidence = probabilities if confidence is None else confidence
        self._parts: dict[str, StreamedRaster] = {}

    def __enter__(self) -> ClassMapWriter:
        ensure_writable_dir(self.path.parent)
        try:
            self._parts["classes"] = StreamedRaster(
                self.path, self.geobox, 1, CLASS_NODATA, ["class"], colormap=self.legend.colormap()
            )
            stem = self.path.with_suffix("")
            if self._with_confidence:
                self._parts["confidence"] = StreamedRaster(
                    confidence_path(self.path), self.geobox, 1, PROBABILITY_NODATA, ["confidence_percent"]
                )
            if self._with_probabilities:
                names = [c.name for c in self.legend.classes]
                self._parts["probabilities"] = StreamedRaster(
                    stem.with_name(stem.name + "_probabilities.tif"),
                    self.geobox,
                    len(names),
                    PROBABILITY_NODATA,
                    [f"p_{n}_percent" for n in names],
                )
        except OSError as err:
            self._discard()
            raise OutputLocationError(f"Cannot start writing {self.path}: {err}") from None
        return self

    def write(
        self, window: Window, classes: npt.NDArray[np.integer], probabilities: npt.NDArray[np.floating] | None = None
    ) -> None:
        """Write one window: class ids ``[h, w]`` (CLASS_NODATA where unknown), probabilities ``[C, h, w]``."""
        self._parts["classes"].write(np.asarray(classes, dtype=np.uint8), window)
        if not (self._with_probabilities or self._with_confidence):
            return
        if probabilities is None:
            raise ValueError("This writer makes confidence or probability layers; pass the probabilities too.")
        nodata = np.asarray(classes) == CLASS_NODATA
        percent = np.clip(np.rint(np.asarray(probabilities, dtype=np.float32) * 100), 0, 100).astype(np.uint8)
        percent[:, nodata] = PROBABILITY_NODATA
        if self._with_confidence:
            confidence = percent.max(axis=0)
            confidence[nodata] = PROBABILITY_NODATA
            self._parts["confidence"].write(confidence, window)
        if self._with_probabilities:
            self._parts["probabilities"].write(percent, window)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self._discard()
            return
        try:
            self._parts["classes"].publish("mode", self.tags)
            sidecars = write_gis_sidecars(self._parts["classes"].dest, self.legend)
            for key in ("confidence", "probabilities"):
                if key in self._parts:
                    self._parts[key].publish("average", self.tags)
        except OSError as err:
            self._discard()
            raise OutputLocationError(
                f"Writing the map {self.path} failed ({err}); no partial file was left behind. "
                "Free disk space or choose another output location, then run again."
            ) from None
        self.files = MapFiles(
            classes=self._parts["classes"].dest,
            confidence=self._parts["confidence"].dest if "confidence" in self._parts else None,
            probabilities=self._parts["probabilities"].dest if "probabilities" in self._parts else None,
            sidecars=sidecars,
        )

    def _discard(self) -> None:
        for part in self._parts.values():
            part.discard()


def write_class_map(
    classes: npt.NDArray[np.integer],
    geobox: GeoBox,
    path: str | Path,
    legend: MapLegend,
    *,
    probabilities: npt.NDArray[np.floating] | None = None,
    tags: Mapping[str, Any] | None = None,
) -> MapFiles:
    """Write an in-memory class map (``[H, W]``, optional ``[C, H, W]`` probabilities) as COGs."""
    if classes.shape != tuple(geobox.shape):
        raise ValueError(f"classes has shape {classes.shape} but the grid is {tuple(geobox.shape)}.")
    writer = ClassMapWriter(path, geobox, legend, probabilities=probabilities is not None, tags=tags)
    with writer:
        for row in range(0, geobox.height, _BLOCK):
            for col in range(0, geobox.width, _BLOCK):
                h, w = min(_BLOCK, geobox.height - row), min(_BLOCK, geobox.width - col)
                window = Window(col, row, w, h)  # type: ignore[call-arg]
                probs = None if probabilities is None else probabilities[:, row : row + h, col : col + w]
                writer.write(window, classes[row : row + h, col : col + w], probs)
    if writer.files is None:  # pragma: no cover - __exit__ sets it on success
        raise OutputLocationError(f"The map {path} was not written.")
    return writer.files
