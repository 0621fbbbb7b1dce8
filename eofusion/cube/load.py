"""Items -> one lazily loaded, aligned ``xr.Dataset`` per sensor group (Dask arrays, one task per block).

Dataset layout (fixed, documented, relied upon by the cube writer and readers):
``data[time, band, y, x]`` float32 in physical units (reflectance, dB, metres), NaN = no data or masked;
coordinates ``time`` (solar-day mosaics; one step for single-date groups), ``band`` with ``sensor``,
``centre_nm``, ``bandwidth_nm``, ``kind``, ``units``, and ``x``/``y``/``spatial_ref`` (CF grid mapping).
"""

from __future__ import annotations

import functools
import json
import logging
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any, Literal

import dask.array as da
import numpy as np
import rasterio
import xarray as xr
from odc.geo import CRS
from odc.geo.geobox import GeoBox
from odc.geo.geom import BoundingBox, box
from odc.geo.xr import xr_coords

import eofusion
from eofusion.catalog import BandAsset, NormalizedItem
from eofusion.config import short_hash
from eofusion.cube.block import BlockPlan, Slot, load_block
from eofusion.cube.groups import SINGLE_DATE_GROUPS, choose_resampling, default_bands, group_key, item_group
from eofusion.cube.masking import check_bits, cloud_mask_rule
from eofusion.cube.packing import Packing, SourceEncoding, StoredDtype, source_packing
from eofusion.cube.reader import asset_error, footprint, forget_remote_answers, network_retrying
from eofusion.errors import ConfigError, CubeError, GridError, InputDataError, SkippedInputWarning, TransientInputError
from eofusion.fingerprint import asset_identity
from eofusion.grid import NestedGrids
from eofusion.sensors import QA_PIXEL_DEFAULT_MASKED_BITS, SCL_DEFAULT_MASKED, Band
from eofusion.sensors.sentinel1 import DB_FLOOR
from eofusion.storage import configure_gdal_for_cloud, open_raster, raster_env
from eofusion.storage.transient import is_denied_message

log = logging.getLogger(__name__)

OnError = Literal["raise", "skip"]


@dataclass(frozen=True)
class LoadOptions:
    """How items become aligned arrays.

    Attributes:
        resampling: One resampling name for every non-categorical band, or band -> name; None chooses by
            band kind (see :func:`eofusion.cube.groups.choose_resampling`).
        mask_clouds: Mask cloudy pixels (NaN in every band of that item) from each item's quality band:
            Sentinel-2 pixels whose SCL class is in ``scl_masked``, Landsat pixels with any of the
            ``qa_pixel_masked_bits`` set in QA_PIXEL. Items without the quality asset stay unmasked.
        scl_masked: SCL classes to mask (default: no data, defective, cloud shadows, clouds, cirrus).
        qa_pixel_masked_bits: Landsat Collection 2 QA_PIXEL bit positions to mask (default: fill, dilated
            cloud, cirrus, cloud, cloud shadow; snow, bit 5, is kept as SCL's snow class is). See
            :data:`eofusion.sensors.QA_PIXEL_BITS`.
        db_floor: Floor of SAR backscatter in dB.
        sar_input: ``linear`` (power) or ``db``: how SAR files store backscatter when the item does not say
            (item property ``eofusion:backscatter_units``). Either way values are resampled and mosaicked
            in linear power and written in dB.
        chunk_size: Spatial block edge in pixels: one Dask task, one Zarr shard.
        use_overviews: Read from COG overviews when the target is coarser than the source.
        on_error: ``raise`` on a missing/corrupt asset, or ``skip`` it (recorded in ``attrs``).
        skip_records: Folder where block tasks record what they leave out while reading (an asset that
            fails mid-build, values outside the band's physical range); :func:`eofusion.cube.build_cube`
            sets it and moves the records into the cube. Where results go, not what they are: not hashed.
        dtype: How the cube stores the values: ``float32`` physical values, or ``source``: the provider's
            integers with CF ``scale_factor`` / ``add_offset`` where every band of a group shares them (half
            the bytes; see :mod:`eofusion.cube.packing`). Groups with float sources stay float32 either way.
    """

    resampling: str | Mapping[str, str] | None = None
    mask_clouds: bool = True
    scl_masked: frozenset[int] = SCL_DEFAULT_MASKED
    qa_pixel_masked_bits: frozenset[int] = QA_PIXEL_DEFAULT_MASKED_BITS
    db_floor: float = DB_FLOOR
    sar_input: Literal["linear", "db"] = "linear"
    chunk_size: int = 512
    use_overviews: bool = True
    on_error: OnError = "raise"
    time_range: tuple[str, str] | None = field(default=None)
    skip_records: str | None = None
    dtype: StoredDtype = "float32"

    def __post_init__(self) -> None:
        check_bits(frozenset(self.qa_pixel_masked_bits), "LoadOptions.qa_pixel_masked_bits")
        if self.dtype not in ("float32", "source"):
            raise ConfigError(f"LoadOptions.dtype must be 'float32' or 'source', got {self.dtype!r}.")

    def resampling_for(self, band: str) -> str | None:
        """The user's resampling override for ``band``, if any."""
        if isinstance(self.resampling, Mapping):
            return self.resampling.get(band)
        return self.resampling

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, for the configuration hash and provenance."""
        d = asdict(self)
        d.pop("skip_records")
        if self.dtype == "float32":  # the default leaves the hashes of cubes built before the option unchanged
            d.pop("dtype")
        d["scl_masked"] = sorted(self.scl_masked)
        d["qa_pixel_masked_bits"] = sorted(self.qa_pixel_masked_bits)
        d["resampling"] = dict(self.resampling) if isinstance(self.resampling, Mapping) else self.resampling
        return d


def solar_day(item: NormalizedItem) -> str:
    """The local solar date of an acquisition (UTC shifted by the footprint's longitude)."""
    lon = (item.bbox[0] + item.bbox[2]) / 2.0
    return (item.datetime + timedelta(hours=lon / 15.0)).date().isoformat()


def _to_target_bbox(item: NormalizedItem, crs: CRS) -> BoundingBox:
    """The union of an item's asset footprints, in the target CRS."""
    boxes = [box(*footprint(a), a.crs).to_crs(crs).boundingbox for a in item.assets.values()]
    return BoundingBox(
        min(b.left for b in boxes), min(b.bottom for b in boxes), max(b.right for b in boxes), max(b.top for b in boxes)
    )


REMOTE_RECHECKS = (0.5, 2.0)  # seconds before asking a remote header again after an unexplained failure


@dataclass(frozen=True)
class Probed:
    """What opening an asset's header found: why it cannot be read (None: it can), and its band's data type."""

    problem: str | None
    file_dtype: str | None = None
    file_nodata: float | None = None


def _probe(asset: BandAsset, *, rechecks: tuple[float, ...] = REMOTE_RECHECKS) -> Probed:
    """Why an asset cannot be read (``problem`` None when its header opens and has the band).

    Raises:
        TransientInputError: The header could not be fetched because of the network (after GDAL's retries):
            that says nothing about the asset, so it is never a reason to leave it out.
    """
    if "://" not in asset.href:
        import os

        if not os.path.exists(asset.href):
            return Probed("does not exist")
    try:
        with raster_env(asset.href), open_raster(asset.href) as src:  # its `with` outside an Env would build a session
            if asset.band_index > src.count:
                return Probed(f"has {src.count} band(s), asset asks for band {asset.band_index}")
            file_dtype, file_nodata = str(src.dtypes[asset.band_index - 1]), src.nodata
    except rasterio.errors.RasterioError as err:
        error = asset_error([asset], err)
        if isinstance(error, TransientInputError):
            raise error from err
        if rechecks and "://" in asset.href and not is_denied_message(str(err)):
            # A remote "missing" or "not recognized" can be GDAL's memory of an earlier failure (dropped by
            # asset_error) or a failed size request whose HTTP status GDAL does not report (a 503 on the
            # HEAD): ask again after a pause; a file that is really bad fails every time.
            time.sleep(rechecks[0])
            return _probe(asset, rechecks=rechecks[1:])
        if is_denied_message(str(err)):
            return Probed(
                f"cannot be opened: {err} (access refused: check the credentials in the environment, "
                "AWS_REQUEST_PAYER=requester for requester-pays buckets, or re-sign the catalog's hrefs)"
            )
        return Probed(f"cannot be opened: {err}")
    return Probed(None, file_dtype, file_nodata)


# Asset headers are fetched this many at a time: over HTTP each open is a round trip (GDAL releases the GIL).
PROBE_THREADS = 16


def _probe_retrying(asset: BandAsset) -> Probed:
    """:func:`_probe`, tried again with backoff while the network fails (as block reads are)."""
    return network_retrying(lambda _: forget_remote_answers(asset.href))(_probe, asset)


def probe_assets(assets: Sequence[BandAsset]) -> list[Probed]:
    """:func:`_probe` of every asset, concurrently, in the given order."""
    from concurrent.futures import ThreadPoolExecutor

    configure_gdal_for_cloud()
    if len(assets) <= 1:
        return [_probe_retrying(a) for a in assets]
    with ThreadPoolExecutor(max_workers=min(PROBE_THREADS, len(assets))) as pool:
        return list(pool.map(_probe_retrying, assets))


def _slots(items: list[NormalizedItem], group: str) -> tuple[Slot, ...]:
    """Time steps: one per solar day (and orbit direction), or one for a single-date group."""

    def order(i: NormalizedItem) -> tuple[Any, str]:
        return (i.datetime, i.id)

    if group in SINGLE_DATE_GROUPS:
        newest_first = sorted(items, key=order, reverse=True)  # the newest survey wins where they overlap
        return (Slot(np.datetime64(newest_first[0].datetime.replace(tzinfo=None), "ns"), tuple(newest_first), None),)
    by_day: dict[tuple[str, str], list[NormalizedItem]] = defaultdict(list)
    for item in items:
        by_day[(solar_day(item), item.orbit_direction or "")].append(item)
    slots = []
    for (_, orbit), members in by_day.items():
        members.sort(key=order)
        when = np.datetime64(members[0].datetime.replace(tzinfo=None), "ns")
        slots.append(Slot(when, tuple(members), orbit or None))
    return tuple(sorted(slots, key=lambda s: (s.time, s.orbit or "")))


def _in_time_range(item: NormalizedItem, time_range: tuple[str, str] | None) -> bool:
    if time_range is None:
        return True
    when = np.datetime64(item.datetime.replace(tzinfo=None), "ns")
    start, end = (np.datetime64(t) for t in time_range)
    # An end given as a date includes that whole day.
    end_excl = end + np.timedelta64(1, "D") if len(str(time_range[1])) <= 10 else end
    return bool(start <= when < end_excl)


def _select_items(
    items: Sequence[NormalizedItem], group: str, geobox: GeoBox, options: LoadOptions
) -> tuple[list[NormalizedItem], dict[str, BoundingBox]]:
    members = [i for i in items if item_group(i) == group and _in_time_range(i, options.time_range)]
    if not members:
        raise CubeError(
            f"No {group} items among the {len(items)} given"
            + (f" within {options.time_range}" if options.time_range else "")
            + "; check the catalog query or the --sensors list."
        )
    if geobox.crs is None:
        raise GridError("The target grid has no CRS; build it with eofusion.grid.nested_grids or give GeoBox a crs.")
    crs = geobox.crs
    grid_box = geobox.extent.boundingbox
    footprints = {}
    kept = []
    for item in members:
        fp = _to_target_bbox(item, crs)
        if (
            fp.left < grid_box.right
            and fp.right > grid_box.left
            and fp.bottom < grid_box.top
            and fp.top > grid_box.bottom
        ):
            footprints[item.id] = fp
            kept.append(item)
    if not kept:
        raise CubeError(
            f"The AOI grid {tuple(round(v, 1) for v in grid_box)} ({geobox.crs}) intersects none of the "
            f"{len(members)} {group} items (e.g. {members[0].id!r} covers lon/lat {members[0].bbox}); "
            "check the AOI, its CRS, or the catalog."
        )
    return kept, footprints


def _res_m(asset: BandAsset) -> float:
    """Native pixel size in metres (degrees converted at the equator: good enough to pick a resampling)."""
    return asset.resolution_m * (111_320.0 if CRS(asset.crs).geographic else 1.0)


def _band_coords(bands: Sequence[Band], sensor_name: str) -> dict[str, Any]:
    nan = float("nan")
    return {
        "band": ("band", [b.name for b in bands]),
        "sensor": ("band", [sensor_name] * len(bands)),
        "centre_nm": ("band", np.array([b.centre_nm if b.centre_nm else nan for b in bands], dtype=np.float64)),
        "bandwidth_nm": ("band", np.array([b.bandwidth_nm if b.bandwidth_nm else nan for b in bands], "float64")),
        "kind": ("band", [b.kind.value for b in bands]),
        "units": ("band", ["dB" if b.kind.value == "backscatter" else b.units for b in bands]),
    }


def load_aligned(
    items: Sequence[NormalizedItem],
    grid: GeoBox | NestedGrids,
    sensor: str,
    bands: Sequence[str] | None = None,
    options: LoadOptions | None = None,
) -> xr.Dataset:
    """Items of one sensor group -> a lazy, aligned Dataset on the group's grid.

    Args:
        items: Normalised items (items of other groups are ignored).
        grid: The target GeoBox, or nested grids (the grid keyed by the group is used).
        sensor: Group or sensor name: ``s2``, ``s1``, ``aerial``, ``dsm`` (aliases: ``sentinel-2``, ``naip``...).
        bands: Registry band names/aliases; default: every non-mask band present.
        options: Resampling, masking, units, chunking and error policy.

    Returns:
        ``data[time, band, y, x]`` float32 backed by Dask, one task per (time, block).

    Raises:
        CubeError: No item of the group, or none intersecting the grid, or a band in no item.
        InputDataError: A missing/corrupt asset with ``on_error="raise"``.
    """
    opts = options or LoadOptions()
    group = group_key(sensor)
    geobox = grid.geobox(group) if isinstance(grid, NestedGrids) else grid
    members, footprints = _select_items(items, group, geobox, opts)
    rep_sensor = Counter(i.sensor.name for i in members).most_common(1)[0][0]
    sensor_obj = next(i.sensor for i in members if i.sensor.name == rep_sensor)
    band_names = tuple(sensor_obj.band(b).name for b in bands) if bands else default_bands(members)
    for name in band_names:
        if not any(name in i.assets for i in members):
            raise CubeError(f"Band {name!r} is in none of the {len(members)} {group} items; drop it from bands.")
    missing = [(i.id, b) for i in members for b in band_names if b not in i.assets]
    for item_id, b in missing:
        log.info("Item %s has no band %s; its pixels stay NaN for that band.", item_id, b)

    skipped: list[dict[str, str]] = []
    mask_rule = (
        cloud_mask_rule(group, sensor_obj, scl_masked=opts.scl_masked, qa_pixel_masked_bits=opts.qa_pixel_masked_bits)
        if opts.mask_clouds
        else None
    )
    needed = set(band_names) | ({mask_rule.band} if mask_rule is not None else set())
    wanted = [(item, name, asset) for item in members for name, asset in item.assets.items() if name in needed]
    probed = probe_assets([asset for _, _, asset in wanted])
    good: dict[str, dict[str, BandAsset]] = {item.id: {} for item in members}
    headers: dict[tuple[str, int], Probed] = {}
    for (item, name, asset), found in zip(wanted, probed, strict=True):
        if found.problem is None:
            good[item.id][name] = asset
            headers[(asset.href, asset.band_index)] = found
            continue
        message = f"Item {item.id!r} band {name!r}: {asset.href} {found.problem}."
        if opts.on_error == "raise":
            raise InputDataError(
                message + " Fix the asset, or leave such inputs out: on_error='skip' (`cube build --on-error "
                "skip`, `catalog.on_error: skip` in a job spec)."
            )
        warnings.warn(message + " Skipped.", SkippedInputWarning, stacklevel=2)
        skipped.append({"item": item.id, "band": name, "href": asset.href, "reason": found.problem})

    bands_obj = tuple(sensor_obj.band(b) for b in band_names)
    target_res = abs(geobox.resolution.x)
    resampling = tuple(
        choose_resampling(
            b,
            min((_res_m(a) for i in members for n, a in good[i.id].items() if n == b.name), default=b.resolution_m),
            target_res,
            opts.resampling_for(b.name),
        ).name
        for b in bands_obj
    )
    slots = _slots(members, group)
    plan = BlockPlan(
        group=group,
        geobox=geobox,
        slots=slots,
        bands=band_names,
        resampling=resampling,
        assets={i.id: good[i.id] for i in members},
        footprints={k: tuple(v) for k, v in footprints.items()},  # type: ignore[misc]
        cloud_mask=mask_rule,
        to_db=group == "s1",
        db_items=frozenset(
            i.id
            for i in members
            if opts.sar_input == "db" or str(i.properties.get("eofusion:backscatter_units", "")).lower() == "db"
        ),
        db_floor=opts.db_floor,
        use_overviews=opts.use_overviews,
        on_error=opts.on_error,
        skip_records=opts.skip_records,
    )
    packing = _packing(group, opts, band_names, good, headers) if group != "s1" else None  # S1: dB floats
    config = {
        "group": group,
        "grid": {"crs": str(geobox.crs), "transform": list(geobox.transform)[:6], "shape": list(geobox.shape)},
        "bands": list(band_names),
        "resampling": list(resampling),
        "slots": [[str(s.time), s.orbit, [i.id for i in s.items]] for s in slots],
        # What each item's pixels come from, not only its id: other files under the same ids rebuild.
        "inputs": {
            item_id: {b: asset_identity(a.href) for b, a in sorted(assets.items())}
            for item_id, assets in sorted(good.items())
        },
        "options": opts.as_dict(),
        "skipped": skipped,
        "version": eofusion.__version__,
    }
    config_hash = short_hash({**config, **({"packing": packing.as_dict()} if packing else {})})

    cs = max(1, opts.chunk_size)
    ny, nx = geobox.shape
    chunks = (
        (1,) * len(slots),
        (len(band_names),),
        tuple(min(cs, ny - i) for i in range(0, ny, cs)),
        tuple(min(cs, nx - i) for i in range(0, nx, cs)),
    )
    data = da.map_blocks(
        functools.partial(_block_task, plan, cs),
        chunks=chunks,
        dtype=np.float32,
        meta=np.array((), dtype=np.float32),
        name=f"eofusion-load-{group}-{config_hash}",
    )
    coords: dict[str, Any] = {str(k): v for k, v in xr_coords(geobox, crs_coord_name="spatial_ref").items()}
    coords["time"] = ("time", np.array([s.time for s in slots], dtype="datetime64[ns]"))
    if group == "s1":
        coords["orbit_direction"] = ("time", [s.orbit or "" for s in slots])
    coords["time_sensor"] = ("time", [Counter(i.sensor.name for i in s.items).most_common(1)[0][0] for s in slots])
    coords.update(_band_coords(bands_obj, rep_sensor))
    var = xr.DataArray(data, dims=("time", "band", "y", "x"), attrs={"grid_mapping": "spatial_ref"})
    ds = xr.Dataset({"data": var}, coords=coords)
    ds.attrs.update(
        {
            "eofusion:group": group,
            "eofusion:config_hash": config_hash,
            "eofusion:version": eofusion.__version__,
            "eofusion:items": json.dumps([[i.id for i in s.items] for s in slots]),
            "eofusion:resampling": json.dumps(dict(zip(band_names, resampling, strict=True))),
            "eofusion:skipped": json.dumps(skipped),
            "eofusion:options": json.dumps(opts.as_dict(), sort_keys=True),
            "eofusion:resolution": target_res,
            **({"eofusion:packing": json.dumps(packing.as_dict())} if packing else {}),
        }
    )
    return ds


def _packing(
    group: str,
    opts: LoadOptions,
    band_names: Sequence[str],
    good: Mapping[str, Mapping[str, BandAsset]],
    headers: Mapping[tuple[str, int], Probed],
) -> Packing | None:
    """The group's CF packing when ``opts.dtype`` is ``source`` and its band assets allow it (else None).

    The data type is the file's own (read from its header), not the catalog's statement: a catalog that says
    uint16 for files holding float reflectance must not get its values rounded to integers. No data is what
    the reader uses: the catalog's value, else the file's.
    """
    if opts.dtype != "source":
        return None
    return source_packing(
        group,
        (
            SourceEncoding(
                headers[(a.href, a.band_index)].file_dtype or "unknown",
                a.nodata if a.nodata is not None else headers[(a.href, a.band_index)].file_nodata,
                a.scale,
                a.offset,
            )
            for assets in good.values()
            for name, a in assets.items()
            if name in band_names
        ),
    )


def _block_task(plan: BlockPlan, cs: int, block_info: dict[Any, Any] | None = None) -> np.ndarray:
    if block_info is None:  # dask probes with no block_info when inferring meta
        return np.zeros((0, 0, 0, 0), dtype=np.float32)
    t, _, iy, ix = block_info[None]["chunk-location"]
    return load_block(plan, t, iy * cs, ix * cs, block_info[None]["chunk-shape"][2:])
