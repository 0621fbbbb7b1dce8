"""STAC items and an embedded catalog for GeoTIFFs/COGs/VRTs a user already has.

Grid, data type and nodata are read from each file with rasterio. Band identity comes from the registry:
the sensor and band order from the user's rules or a known product name (:mod:`eofusion.catalog.file_rules`),
else the sensor from the path (``S2A_MSIL2A_...``, ``S1A_IW_GRDH_...``) and the band from a token of the file
name (``..._B04.tif``, ``..._B02_10m.tif``, ``VV.tif``) or the band descriptions. A multi-band file whose band
order nothing states is refused: eofusion never assumes an order (an IGN IRC file is NIR, red, green).
The acquisition time comes from ``acquired=``, an ``acquired.txt`` next to the file (one RFC 3339 line), or
a date in the path (``20170613T165043`` or ``20150711``). Files of one directory with the same sensor and
time become one item.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pystac

from eofusion.catalog.fields import parse_time
from eofusion.catalog.file_rules import FileRule, FileRules, band_tokens
from eofusion.catalog.file_time import file_acquisition_time
from eofusion.catalog.local_items import RasterFacts, make_item
from eofusion.catalog.writing import write_catalog
from eofusion.errors import InputDataError, SkippedInputWarning, UnknownBandError, UnknownSensorError
from eofusion.sensors import REGISTRY, Band, BandKind, Sensor, get_sensor

__all__ = ["BuildResult", "build_items", "find_rasters", "write_catalog"]  # write_catalog: kept importable here

logger = logging.getLogger(__name__)

RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".jp2")  # GeoTIFF/COG, GDAL VRT, JPEG 2000 (IGN)
_SENSOR_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?:^|[^A-Z0-9])S2([ABC])(?:[_-]|$)"), "sentinel-2{}"),
    (re.compile(r"(?:^|[^A-Z0-9])(?:S2|MSIL[12][AC]|SENTINEL-?2)(?:[_-]|$)"), "sentinel-2"),
    (re.compile(r"(?:^|[^A-Z0-9])(?:S1[ABC]?|SENTINEL-?1)(?:[_-]|$)|_GRDH_|_IW_"), "sentinel-1"),
    (re.compile(r"(?:^|[^A-Z0-9])L[CO]0?([89])(?:[_-]|$)"), "landsat-{}"),
    (re.compile(r"NAIP|(?:^|/)M_\d{7}_"), "naip"),
)


@dataclass(frozen=True)
class BuildResult:
    """Items built from local files and what was skipped (``"path: reason"``)."""

    items: tuple[pystac.Item, ...]
    skipped: tuple[str, ...] = ()


def find_rasters(paths: Iterable[str | Path]) -> list[Path]:
    """GeoTIFF files among ``paths`` (directories are searched recursively), sorted, without duplicates."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputDataError(f"{path} does not exist; give GeoTIFF files or directories that hold them.")
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.suffix.lower() in RASTER_SUFFIXES)
        else:
            found.append(path)
    return list(dict.fromkeys(p.resolve() for p in found))


def build_items(
    paths: Sequence[str | Path],
    *,
    sensor: str | None = None,
    bands: Sequence[str] | None = None,
    rules: Sequence[FileRule] = (),
    collection: str = "local",
    acquired: str | None = None,
    on_error: Literal["raise", "skip"] = "raise",
) -> BuildResult:
    """STAC items for the rasters under ``paths`` (see the module docstring for how files are read).

    Args:
        paths: Files or folders (searched recursively for .tif, .tiff, .vrt, .jp2).
        sensor: The sensor of every file no rule names.
        bands: The band order of every multi-band file no rule orders (e.g. ``("nir", "red", "green")``).
        rules: Per-file sensors / band orders by file-name glob, first match wins.
        collection: Collection id of the items.
        acquired: Acquisition time of files whose name, tags or sidecar carry none.
        on_error: ``raise`` at the first file that cannot be read or identified, or ``skip`` it (recorded).

    Raises:
        InputDataError: With ``on_error="raise"``: a file is unreadable, has no georeference, or its
            sensor, band or acquisition time cannot be told; the message names the file and the fix.
    """
    fallback = [FileRule(None, sensor, tuple(bands) if bands else None)] if (sensor or bands) else []
    file_rules = FileRules((*rules, *fallback))
    when = parse_time(acquired) if acquired else None
    rasters: list[RasterFacts] = []
    skipped: list[str] = []
    for path in find_rasters(paths):
        try:
            rasters.append(_read_raster(path, file_rules, when))
        except InputDataError as err:
            if on_error == "raise":
                raise
            warnings.warn(f"Skipped: {err}", SkippedInputWarning, stacklevel=2)
            skipped.append(str(err))
    groups: dict[tuple[Path, str, datetime], list[RasterFacts]] = defaultdict(list)
    for raster in rasters:
        groups[(raster.path.parent, raster.sensor.name, raster.when)].append(raster)
    items: list[pystac.Item] = []
    used: set[str] = set()
    for (_parent, _sensor, _when), members in sorted(groups.items(), key=lambda kv: (str(kv[0][0]), kv[0][2])):
        item = make_item(members, collection)
        base, n = item.id, 1
        while item.id in used:
            n += 1
            item.id = f"{base}-{n}"
        used.add(item.id)
        items.append(item)
    logger.info("Built %d item(s) from %d file(s); skipped %d", len(items), len(rasters), len(skipped))
    return BuildResult(tuple(items), tuple(skipped))


def _read_raster(path: Path, rules: FileRules, when: datetime | None) -> RasterFacts:
    import rasterio
    from rasterio.errors import RasterioIOError
    from rasterio.warp import transform_geom

    try:
        with warnings.catch_warnings():  # we raise our own, clearer error for a missing georeference
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            src = rasterio.open(path)
    except RasterioIOError as err:
        raise InputDataError(f"{path} cannot be read as a raster ({err}).") from None
    with src:
        if src.crs is None or (src.transform.is_identity and not src.gcps[0]):
            raise InputDataError(
                f"{path} has no georeference (no CRS or geotransform); georeference it first (e.g. "
                "`gdal_translate -a_srs EPSG:xxxx -a_ullr ...`) or leave it out."
            )
        identity = rules.identify(path, src.count)
        stated = _stated_sensor(path, identity.sensor, identity.source)
        guessed = stated or _guess_sensor(path)
        order = identity.band_order(path, src.count)
        bands: tuple[Band, ...]
        if order is not None:
            bands = _ordered_bands(path, guessed, order, identity.source)
        elif stated is not None and len(stated.bands) == 1 and src.count == 1:
            bands = stated.bands  # the user's choice of a one-band sensor names the band
        else:
            bands = _file_bands(path, guessed, src.count, src.descriptions, given=stated is not None)
        # A band found outside the guessed sensor (DEM.tif in a "..._s2_..." folder) decides the sensor.
        sensor = guessed if guessed and any(b is bands[0] for b in guessed.bands) else _sensor_of(bands[0])
        acquired = file_acquisition_time(path, src.tags(), fallback=when)
        epsg = src.crs.to_epsg()
        crs = f"EPSG:{epsg}" if epsg else src.crs.to_wkt()
        w, s, e, n = src.bounds
        box = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
        footprint = transform_geom(src.crs, "EPSG:4326", box, precision=7)
        notes = _backscatter_units(src, bands)
        return RasterFacts(
            path=path,
            sensor=sensor,
            bands=bands,
            when=acquired,
            crs=crs,
            transform=tuple(src.transform)[:6],  # type: ignore[arg-type]
            shape=(src.height, src.width),
            dtype=str(src.dtypes[0]),
            nodata=None if src.nodata is None else float(src.nodata),
            footprint=dict(footprint),
            notes=notes,
        )


def _guess_sensor(path: Path) -> Sensor | None:
    # Only the file and its directory: a project folder named "..._s2_..." says nothing about a DEM in it.
    text = f"{path.parent.name}/{path.name}".upper()
    for pattern, name in _SENSOR_PATTERNS:
        match = pattern.search(text)
        if match:
            letter = match.group(1).lower() if match.groups() and match.group(1) else None
            return get_sensor(name.format(letter) if "{}" in name and letter else name.replace("{}", ""))
    return None


def _stated_sensor(path: Path, name: str | None, source: str) -> Sensor | None:
    if name is None:
        return None
    try:
        return get_sensor(name)
    except UnknownSensorError as err:
        raise InputDataError(
            f"{path}: the {source} names sensor {name!r}, which is not registered ({err}); register it with "
            "--sensor-file my-sensor.yaml (README: your own sensor) or fix the name (`eofusion sensors` lists them)."
        ) from None


def _ordered_bands(path: Path, sensor: Sensor | None, order: Sequence[str], source: str) -> tuple[Band, ...]:
    """The bands of a stated order (``nir,red,green``), each looked up in the file's sensor."""
    if sensor is None:
        raise InputDataError(
            f"{path}: the {source} gives the band order {','.join(order)} but no sensor; name it with --sensor "
            f"(or '--sensor {path.name}=SENSOR')."
        )
    try:
        return tuple(sensor.band(name) for name in order)
    except UnknownBandError as err:
        raise InputDataError(
            f"{path}: the band order from the {source} names a band {sensor.name} does not have ({err}); "
            f"{sensor.name}'s bands are {', '.join(b.name for b in sensor.bands)}."
        ) from None


def _file_bands(
    path: Path, sensor: Sensor | None, count: int, descriptions: Sequence[str | None], *, given: bool
) -> tuple[Band, ...]:
    if count > 1:
        if sensor is None:
            raise InputDataError(
                f"{path} has {count} bands and no sensor could be told from its name; pass --sensor (and --bands "
                "with their order unless the file's band descriptions name them)."
            )
        if all(descriptions):
            try:
                return tuple(sensor.band(str(d)) for d in descriptions)
            except UnknownBandError as err:
                raise InputDataError(f"{path}: band descriptions do not name {sensor.name} bands ({err}).") from None
        # Never assumed: the same 3-band aerial product comes as red,green,blue (IGN RVB) and nir,red,green (IRC).
        raise InputDataError(
            f"{path} has {count} bands without descriptions and no stated order; eofusion cannot tell which "
            f"{sensor.name} band each is. Give the order with --bands (e.g. --bands "
            f"{','.join(b.name for b in sensor.bands[:count])}, or '--bands GLOB=...' per file pattern), set "
            "the band descriptions (`rio edit-info --bidx 1 --description red`), or write one file per band."
        )
    tokens = band_tokens(path)
    for token in tokens:
        if sensor is not None and _has_band(sensor, token):
            return (sensor.band(token),)
    for token in tokens:
        matches = [s.band(token) for s in REGISTRY if _has_band(s, token)]
        if len({(m.name, m.kind) for m in matches}) == 1 or (matches and _single_family(token)):
            return (matches[0],)
    how = "given" if given else "guessed from the path"
    where = f"{sensor.name} ({how}) or any registered sensor" if sensor else "any registered sensor"
    raise InputDataError(
        f"{path}: the file name does not name a band of {where} (tried {', '.join(tokens[:6])}); name the file "
        "after the band (e.g. ..._B04.tif), or pass --bands BAND (e.g. --bands dsm) with --sensor."
    )


def _has_band(sensor: Sensor, key: str) -> bool:
    try:
        sensor.band(key)
    except UnknownBandError:
        return False
    return True


def _single_family(token: str) -> bool:
    families = {s.family for s in REGISTRY if _has_band(s, token)}
    return len(families) == 1


def _sensor_of(band: Band) -> Sensor:
    # Family defaults (sentinel-2 -> sentinel-2a) keep the choice deterministic when only a band name is known.
    for sensor in REGISTRY:
        if any(b is band for b in sensor.bands):
            try:
                family = get_sensor(sensor.family)
            except UnknownSensorError:
                return sensor
            return family if _has_band(family, band.name) else sensor
    raise InputDataError(f"Band {band.name} belongs to no registered sensor.")


def _backscatter_units(src: Any, bands: tuple[Band, ...]) -> tuple[str, ...]:
    """Float SAR files store either linear power (>= 0) or dB (mostly < 0): a decimated read tells which."""
    if not all(b.kind is BandKind.BACKSCATTER for b in bands) or not str(src.dtypes[0]).startswith("float"):
        return ()
    import numpy as np

    sample = src.read(1, out_shape=(min(src.height, 64), min(src.width, 64)), masked=True).compressed()
    sample = sample[np.isfinite(sample)]
    if sample.size and float(np.mean(sample < 0)) > 0.5:
        return ("dB",)
    return ("linear",)
