"""STAC items and an embedded catalog for GeoTIFFs/COGs a user already has.

Grid, data type and nodata are read from each file with rasterio. Band identity comes from the registry:
the sensor from ``sensor=`` or from the path (``S2A_MSIL2A_...``, ``S1A_IW_GRDH_...``, ``m_4208701_...``
for NAIP), the band from the file name's last token (``..._B04.tif``, ``VV.tif``) or the band descriptions.
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pystac

from eofusion.catalog.fields import parse_time
from eofusion.catalog.providers import S2_OFFSET_START
from eofusion.catalog.writing import write_catalog
from eofusion.errors import InputDataError, SkippedInputWarning, UnknownBandError, UnknownSensorError
from eofusion.sensors import REGISTRY, Band, BandKind, Sensor, get_sensor

__all__ = ["BuildResult", "build_items", "find_rasters", "write_catalog"]  # write_catalog: kept importable here

logger = logging.getLogger(__name__)

RASTER_SUFFIXES = (".tif", ".tiff")
SIDECAR_TIME = "acquired.txt"
_EXTENSIONS = [
    "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
]
_SENSOR_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?:^|[^A-Z0-9])S2([ABC])(?:[_-]|$)"), "sentinel-2{}"),
    (re.compile(r"(?:^|[^A-Z0-9])(?:S2|MSIL[12][AC]|SENTINEL-?2)(?:[_-]|$)"), "sentinel-2"),
    (re.compile(r"(?:^|[^A-Z0-9])(?:S1[ABC]?|SENTINEL-?1)(?:[_-]|$)|_GRDH_|_IW_"), "sentinel-1"),
    (re.compile(r"(?:^|[^A-Z0-9])L[CO]0?([89])(?:[_-]|$)"), "landsat-{}"),
    (re.compile(r"NAIP|(?:^|/)M_\d{7}_"), "naip"),
)
_DATE_TIME = re.compile(r"(?<!\d)((?:19|20)\d{6})T(\d{6})(?!\d)")
_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})(\d{2})(\d{2})(?!\d)")


@dataclass(frozen=True)
class _Raster:
    """One file's facts: where, what bands, when, and on which grid."""

    path: Path
    sensor: Sensor
    bands: tuple[Band, ...]  # band i of the file is bands[i - 1]
    when: datetime
    crs: str
    transform: tuple[float, float, float, float, float, float]
    shape: tuple[int, int]
    dtype: str
    nodata: float | None
    footprint: dict[str, Any]  # GeoJSON polygon in EPSG:4326
    notes: tuple[str, ...] = ()


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
    collection: str = "local",
    acquired: str | None = None,
    on_error: Literal["raise", "skip"] = "raise",
) -> BuildResult:
    """STAC items for the GeoTIFFs under ``paths`` (see the module docstring for how files are read).

    Raises:
        InputDataError: With ``on_error="raise"``: a file is unreadable, has no georeference, or its
            sensor, band or acquisition time cannot be told; the message names the file and the fix.
    """
    chosen = get_sensor(sensor) if sensor else None
    when = parse_time(acquired) if acquired else None
    rasters: list[_Raster] = []
    skipped: list[str] = []
    for path in find_rasters(paths):
        try:
            rasters.append(_read_raster(path, chosen, when))
        except InputDataError as err:
            if on_error == "raise":
                raise
            warnings.warn(f"Skipped: {err}", SkippedInputWarning, stacklevel=2)
            skipped.append(str(err))
    groups: dict[tuple[Path, str, datetime], list[_Raster]] = defaultdict(list)
    for raster in rasters:
        groups[(raster.path.parent, raster.sensor.name, raster.when)].append(raster)
    items: list[pystac.Item] = []
    used: set[str] = set()
    for (_parent, _sensor, _when), members in sorted(groups.items(), key=lambda kv: (str(kv[0][0]), kv[0][2])):
        item = _make_item(members, collection)
        base, n = item.id, 1
        while item.id in used:
            n += 1
            item.id = f"{base}-{n}"
        used.add(item.id)
        items.append(item)
    logger.info("Built %d item(s) from %d file(s); skipped %d", len(items), len(rasters), len(skipped))
    return BuildResult(tuple(items), tuple(skipped))


def _read_raster(path: Path, sensor: Sensor | None, when: datetime | None) -> _Raster:
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
        guessed = sensor or _guess_sensor(path)
        if sensor is not None and len(sensor.bands) == 1 and src.count == 1:
            bands: tuple[Band, ...] = sensor.bands  # the user's choice of a one-band sensor names the band
        else:
            bands = _file_bands(path, guessed, src.count, src.descriptions, given=sensor is not None)
        # A band found outside the guessed sensor (DEM.tif in a "..._s2_..." folder) decides the sensor.
        sensor = guessed if guessed and any(b is bands[0] for b in guessed.bands) else _sensor_of(bands[0])
        acquired = _acquisition_time(path, src.tags(), fallback=when)
        epsg = src.crs.to_epsg()
        crs = f"EPSG:{epsg}" if epsg else src.crs.to_wkt()
        w, s, e, n = src.bounds
        box = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
        footprint = transform_geom(src.crs, "EPSG:4326", box, precision=7)
        notes = _backscatter_units(src, bands)
        return _Raster(
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


def _band_tokens(path: Path) -> list[str]:
    stem = path.stem
    tokens = re.split(r"[_\-. ]+", stem)
    return [t for t in (tokens[-1], stem) if t]


def _file_bands(
    path: Path, sensor: Sensor | None, count: int, descriptions: Sequence[str | None], *, given: bool
) -> tuple[Band, ...]:
    if count > 1:
        if sensor is None:
            raise InputDataError(f"{path} has {count} bands and no sensor could be told from its name; pass --sensor.")
        if all(descriptions):
            try:
                return tuple(sensor.band(str(d)) for d in descriptions)
            except UnknownBandError as err:
                raise InputDataError(f"{path}: band descriptions do not name {sensor.name} bands ({err}).") from None
        if sensor.family == "aerial" and count <= len(sensor.bands):
            return tuple(sensor.band(f"B{i}") for i in range(1, count + 1))  # the delivered RGBN order
        raise InputDataError(
            f"{path} has {count} bands without descriptions; eofusion cannot tell which {sensor.name} band each "
            "is. Set the band descriptions (e.g. `rio edit-info --bidx 1 --description B04`) or write one "
            "file per band named after it."
        )
    for token in _band_tokens(path):
        if sensor is not None and _has_band(sensor, token):
            return (sensor.band(token),)
    for token in _band_tokens(path):
        matches = [s.band(token) for s in REGISTRY if _has_band(s, token)]
        if len({(m.name, m.kind) for m in matches}) == 1 or (matches and _single_family(token)):
            return (matches[0],)
    how = "given" if given else "guessed from the path"
    where = f"{sensor.name} ({how}) or any registered sensor" if sensor else "any registered sensor"
    raise InputDataError(
        f"{path}: the file name does not name a band of {where} (tried {', '.join(_band_tokens(path))}); "
        "name the file after the band (e.g. ..._B04.tif) or pass --sensor."
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


def _acquisition_time(path: Path, tags: dict[str, str], fallback: datetime | None = None) -> datetime:
    """The file's own time (sidecar, TIFF tags, name); ``fallback`` (``--datetime``) only when it has none."""
    sidecar = path.parent / SIDECAR_TIME
    if sidecar.exists():
        text = sidecar.read_text().strip()
        try:
            parsed = parse_time(text)
        except ValueError:
            raise InputDataError(f"{sidecar} does not hold an RFC 3339 time (got {text[:40]!r}).") from None
        if parsed is not None:
            return parsed
    for key in ("ACQUISITIONDATETIME", "acquisition_time", "DATETIME_ACQUIRED"):
        if tags.get(key):
            return parse_time(tags[key].replace(":", "-", 2) if tags[key][4:5] == ":" else tags[key])  # type: ignore[return-value]
    for part in (path.stem, *reversed(path.parent.parts[-2:])):
        found = _DATE_TIME.search(part)
        if found:
            return datetime.strptime(found[1] + found[2], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        date = _DATE.search(part)
        if date:
            try:
                return datetime(int(date[1]), int(date[2]), int(date[3]), tzinfo=UTC)
            except ValueError:
                continue
    if fallback is not None:
        return fallback
    raise InputDataError(
        f"{path}: no acquisition time in its name, TIFF tags or an {SIDECAR_TIME} next to it; "
        "pass --datetime (acquired=...)."
    )


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


def safe_item_id(text: str, fallback: str) -> str:
    """``text`` usable as an item id and a file name: characters other than ``A-Za-z0-9._-`` become ``_``,
    leading dots go (no ``..``, no hidden files); ``fallback`` when nothing is left."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", text).lstrip(".")
    return cleaned or fallback


def _make_item(members: list[_Raster], collection: str) -> pystac.Item:
    import shapely.geometry
    from shapely.ops import unary_union

    first = members[0]
    sensor, when = first.sensor, first.when
    footprint = unary_union([shapely.geometry.shape(m.footprint) for m in members])
    stems = [m.path.stem for m in members]
    prefix = _common_prefix(stems)
    if len(members) > 1:  # cut at a token boundary: ..._87_48_VH / ..._87_48_VV -> ..._87_48
        prefix = re.sub(r"[^_\-. ]*$", "", prefix)
    prefix = prefix.rstrip("_- .")
    raw_id = prefix if len(prefix) >= 8 else (first.path.parent.name if len(members) > 1 else first.path.stem)
    item_id = safe_item_id(raw_id, fallback=f"{sensor.name}-{when:%Y%m%dT%H%M%S}")
    properties: dict[str, Any] = {
        "datetime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eofusion:sensor": sensor.name,
    }
    if sensor.platforms:
        properties["platform"] = sensor.platforms[0]
    if sensor.instrument:
        properties["instruments"] = [sensor.instrument]
    units = {n for m in members for n in m.notes}
    if units:
        properties["eofusion:backscatter_units"] = sorted(units)[0]
        properties["sar:polarizations"] = [b.polarisation for m in members for b in m.bands if b.polarisation]
    assets = {}
    for member in members:
        key = member.bands[0].name if len(member.bands) == 1 else member.path.stem
        assets[key] = _asset_dict(member)
    data = {
        "type": "Feature",
        "stac_version": pystac.get_stac_version(),
        "stac_extensions": _EXTENSIONS,
        "id": item_id,
        "collection": collection,
        "geometry": shapely.geometry.mapping(footprint),
        "bbox": list(footprint.bounds),
        "properties": properties,
        "links": [],
        "assets": assets,
    }
    return pystac.Item.from_dict(data, preserve_dict=False)


def _asset_dict(raster: _Raster) -> dict[str, Any]:
    proj_key = "proj:code" if raster.crs.startswith("EPSG:") else "proj:wkt2"
    raster_bands, eo_bands = [], []
    for band in raster.bands:
        offset = band.offset
        if (
            band.kind is BandKind.REFLECTANCE
            and raster.sensor.family == "sentinel-2"
            and raster.when >= S2_OFFSET_START
        ):
            offset = band.offset - 0.1  # baseline >= 04.00 products (see eofusion.sensors.radiometric_offset)
        raster_bands.append(
            {
                "data_type": raster.dtype,
                "nodata": raster.nodata,
                "scale": band.scale,
                "offset": offset,
                "spatial_resolution": abs(raster.transform[0]),
            }
        )
        eo_bands.append({"name": band.name, **({"common_name": band.common_name} if band.common_name else {})})
    asset = {
        "href": str(raster.path),
        "type": pystac.MediaType.GEOTIFF,
        "roles": ["data"],
        proj_key: raster.crs,
        "proj:transform": list(raster.transform),
        "proj:shape": list(raster.shape),
        "raster:bands": raster_bands,
    }
    if any(b.is_spectral for b in raster.bands):
        asset["eo:bands"] = eo_bands
    return asset


def _common_prefix(texts: list[str]) -> str:
    if not texts:
        return ""
    first, last = min(texts), max(texts)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]
