"""``eofusion catalog``: inspect items, build catalogs for local files, search STAC APIs and local catalogs."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from eofusion.cli.common import echo_json


@click.group("catalog")
def catalog() -> None:
    """Inspect STAC items, build catalogs for local GeoTIFFs, search catalogs."""


@contextmanager
def _reported_skips() -> Iterator[list[str]]:
    """Collect SkippedInputWarnings and print them once, readably, on stderr."""
    from eofusion.errors import SkippedInputWarning

    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkippedInputWarning)
        yield messages
    for w in caught:
        if issubclass(w.category, SkippedInputWarning):
            messages.append(str(w.message))
            click.secho(f"warning: {w.message}", fg="yellow", err=True)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


# ---------------------------------------------------------------------------------------------- inspect
@catalog.command("inspect")
@click.argument("source")
@click.option("--sensor", help="Registry sensor to use instead of detecting it from the item.")
@click.option("--bands", help="Comma-separated bands the item must have (names, aliases or common names).")
@click.option("--catalog", "source_name", help="Catalog source whose asset-key map to apply (e.g. earth-search).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def inspect_cmd(source: str, sensor: str | None, bands: str | None, source_name: str | None, as_json: bool) -> None:
    """How eofusion understands the item(s) in SOURCE (an item JSON file or URL, or an ItemCollection)."""
    from eofusion.catalog.documents import read_items
    from eofusion.catalog.normalize import normalize_item
    from eofusion.catalog.sources import load_catalog_source
    from eofusion.errors import EofusionError, ItemError

    items = read_items(source)
    catalog_source = load_catalog_source(source_name) if source_name else None
    wanted = [b.strip() for b in bands.split(",")] if bands else None
    results: list[dict[str, Any]] = []
    for raw in items:
        asset_map = catalog_source.asset_map(raw.get("collection")) if catalog_source else None
        try:
            item = normalize_item(raw, sensor=sensor, bands=wanted, asset_map=asset_map)
        except EofusionError as err:
            results.append({"id": raw.get("id"), "collection": raw.get("collection"), "error": str(err)})
            continue
        results.append(_describe(item))
    if as_json:
        echo_json(results if len(results) != 1 else results[0])
    else:
        _print_items(results)
    failed = [r for r in results if "error" in r]
    if failed and len(failed) == len(results):
        raise ItemError(f"No item in {source} could be normalised ({len(failed)} failed; see above).")


def _describe(item: Any) -> dict[str, Any]:
    return {
        "id": item.id,
        "collection": item.collection,
        "sensor": item.sensor.name,
        "datetime": item.datetime.isoformat(),
        "bbox": list(item.bbox),
        "orbit_direction": item.orbit_direction,
        "polarisations": list(item.polarisations),
        "bands": [
            {
                "band": name,
                "kind": a.band.kind.value,
                "common_name": a.band.common_name,
                "centre_nm": a.band.centre_nm,
                "bandwidth_nm": a.band.bandwidth_nm,
                "polarisation": a.band.polarisation,
                "asset_key": a.asset_key,
                "band_index": a.band_index,
                "href": a.href,
                "dtype": a.dtype,
                "scale": a.scale,
                "offset": a.offset,
                "nodata": a.nodata,
                "crs": a.crs,
                "resolution": a.resolution_m,
                "shape": list(a.shape),
                "transform": list(a.transform),
            }
            for name, a in item.assets.items()
        ],
        "notes": list(item.properties.get("eofusion:notes", ())),
    }


def _print_items(results: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if Console().is_terminal else 200)
    for r in results:
        if "error" in r:
            console.print(f"[bold]{r['id']}[/bold] ({r.get('collection')}): [red]{r['error']}[/red]")
            continue
        extra = f", orbit {r['orbit_direction']}" if r["orbit_direction"] else ""
        pols = f", pol {'/'.join(r['polarisations'])}" if r["polarisations"] else ""
        title = f"{r['id']} — {r['sensor']}, {r['datetime']}{extra}{pols} ({r['collection']})"
        table = Table(
            "band", "identity", "asset", "scale", "offset", "nodata", "dtype", "CRS", "res", "href", title=title
        )
        for b in r["bands"]:
            identity = (
                f"{b['centre_nm']:g}/{b['bandwidth_nm']:g} nm" if b["centre_nm"] else (b["polarisation"] or b["kind"])
            )
            crs = b["crs"] if len(b["crs"]) < 20 else b["crs"][:17] + "..."
            href = b["href"] if len(b["href"]) < 48 else "..." + b["href"][-45:]
            asset = b["asset_key"] + (f"[{b['band_index']}]" if b["band_index"] != 1 else "")
            table.add_row(
                b["band"], identity, asset, f"{b['scale']:g}", f"{b['offset']:g}", str(b["nodata"]), b["dtype"],
                crs, f"{b['resolution']:g}", href,
            )  # fmt: skip
        console.print(table)
        for note in r["notes"]:
            console.print(f"  note: {note}")


# ---------------------------------------------------------------------------------------------- build
@catalog.command("build")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--sensor", "sensors", multiple=True, metavar="[GLOB=]SENSOR",
              help="Registry sensor of the files (default: told from each file's name). GLOB=SENSOR applies to "
                   "matching file names only, e.g. '*_IRC_*=aerial-ign'; repeatable.")  # fmt: skip
@click.option("--bands", "band_orders", multiple=True, metavar="[GLOB=]B1,B2,...",
              help="Band order of multi-band files (or the band of one-band files), e.g. nir,red,green; "
                   "GLOB=... for matching file names only; repeatable.")  # fmt: skip
@click.option("--rules", "rules_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML mapping file-name globs to {sensor, bands}, e.g. '\"*_IRC_*\": {sensor: aerial-ign, "
                   "bands: [nir, red, green]}'. Its rules come before --sensor/--bands GLOB=... ones.")  # fmt: skip
@click.option("--sensor-file", "sensor_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Register a sensor from a YAML file (README: your own sensor) first; repeatable.")  # fmt: skip
@click.option("--datetime", "acquired", help="Acquisition time for files whose name carries none (RFC 3339).")
@click.option("--collection", default="local", show_default=True, help="Collection id of the items.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("catalog-local"), show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace an existing, non-empty --out directory.")
@click.option(
    "--on-error",
    type=click.Choice(["skip", "raise"]),
    default="skip",
    show_default=True,
    help="skip: check every file and report each one eofusion cannot read or identify; raise: stop at the first.",
)
@click.option("--allow-skips", is_flag=True,
              help="Write the catalog without the files that could not be read or identified (default: exit 1 and "
                   "write nothing while any file is unaccounted for).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
def build_cmd(
    *,
    paths: tuple[Path, ...],
    sensors: tuple[str, ...],
    band_orders: tuple[str, ...],
    rules_file: Path | None,
    sensor_files: tuple[Path, ...],
    acquired: str | None,
    collection: str,
    out_dir: Path,
    overwrite: bool,
    on_error: str,
    allow_skips: bool,
    as_json: bool,
) -> None:
    """STAC items + a stac-geoparquet catalog for rasters you already have (GeoTIFF/COG, VRT, JPEG 2000).

    Known product names need no options: IGN orthophotos IRC (nir,red,green) and RVB (red,green,blue), IGN
    MNS (dsm) and MNT / RGE ALTI (dtm), NAIP quarter quads, Sentinel-2 band files (..._B04.tif,
    ..._B04_10m.tif), Sentinel-1 (..._VV.tif). A multi-band file whose band order is not known is refused.
    """
    from eofusion.catalog.build import build_items
    from eofusion.catalog.file_rules import FileRule, parse_rule_options, rules_from_mapping
    from eofusion.catalog.writing import write_catalog
    from eofusion.config import read_yaml_mapping
    from eofusion.errors import InputDataError
    from eofusion.sensors import register_sensor

    for sensor_file in sensor_files:
        registered = register_sensor(sensor_file, replace=True)
        click.echo(f"registered sensor {registered.name} from {sensor_file}", err=True)
    rules: tuple[FileRule, ...] = ()
    if rules_file is not None:
        mapping = read_yaml_mapping(rules_file, "Rules file", "file-name globs -> {sensor, bands}")
        rules = rules_from_mapping(mapping, str(rules_file))
    rules = (*rules, *parse_rule_options(sensors, band_orders))
    with _reported_skips():
        result = build_items(
            list(paths),
            rules=rules,
            collection=collection,
            acquired=acquired,
            on_error=on_error,  # type: ignore[arg-type]
        )
    if result.skipped and not allow_skips:
        raise InputDataError(
            f"{len(result.skipped)} file(s) could not be read or identified (listed above); no catalog was "
            "written. Fix them (--sensor/--bands/--rules), move them out of the inputs, or pass --allow-skips "
            "to write the catalog without them."
        )
    if not result.items:
        raise InputDataError(
            f"No item could be built from {', '.join(map(str, paths))} ({len(result.skipped)} file(s) skipped)."
        )
    catalog_json, parquet = write_catalog(result.items, out_dir, overwrite=overwrite)
    summary = {
        "items": [i.id for i in result.items],
        "skipped": list(result.skipped),
        "catalog": str(catalog_json),
        "geoparquet": str(parquet),
    }
    if as_json:
        echo_json(summary)
        return
    click.echo(f"{len(result.items)} item(s) -> {catalog_json} and {parquet}; {len(result.skipped)} file(s) skipped.")


# ---------------------------------------------------------------------------------------------- search
@catalog.command("search")
@click.option(
    "--catalog",
    "source",
    default="demo",
    show_default=True,
    help="A catalog source name (catalogs/*.yaml), a STAC API URL, a .parquet file or a static catalog.",
)
@click.option("--collections", help="Comma-separated collection ids.")
@click.option("--bbox", help="west,south,east,north in EPSG:4326.")
@click.option("--intersects", help="A GeoJSON geometry: a file path or inline JSON.")
@click.option("--datetime", "when", help="'2024-04', '2024-04-01/2024-06-30', '2024-05-01/..'.")
@click.option("--filter", "cql2_filter", help='CQL2 text, e.g. "eo:cloud_cover < 30".')
@click.option("--max-items", type=int, default=100, show_default=True)
@click.option("--timeout", "timeout_s", type=float, help="STAC API: seconds per request (default: the source's).")
@click.option("--retries", type=int, help="STAC API: retries on 429/5xx and connection errors (default: the source's).")
@click.option("--json", "as_json", is_flag=True, help="Print the items as a GeoJSON FeatureCollection.")
def search_cmd(
    *,
    source: str,
    collections: str | None,
    bbox: str | None,
    intersects: str | None,
    when: str | None,
    cql2_filter: str | None,
    max_items: int,
    timeout_s: float | None,
    retries: int | None,
    as_json: bool,
) -> None:
    """Search a catalog; the same query means the same thing for a STAC API and a local catalog."""
    from dataclasses import replace

    from eofusion.catalog.search import open_catalog, search
    from eofusion.catalog.stac_api import StacApiCatalog

    geometry = None
    if intersects:
        text = Path(intersects).read_text() if Path(intersects).exists() else intersects
        try:
            geometry = json.loads(text)
        except json.JSONDecodeError as err:
            raise click.BadParameter(f"not a GeoJSON file or JSON text ({err})", param_hint="--intersects") from None
    backend = open_catalog(source)
    if isinstance(backend, StacApiCatalog) and (timeout_s is not None or retries is not None):
        backend.options = replace(
            backend.options,
            timeout_s=backend.options.timeout_s if timeout_s is None else timeout_s,
            max_retries=backend.options.max_retries if retries is None else retries,
        )
    items = search(
        backend,
        collections=collections,
        bbox=bbox,
        intersects=geometry,
        datetime=when,
        filter=cql2_filter,
        max_items=max_items,
    )
    if as_json:
        echo_json({"type": "FeatureCollection", "features": [i.to_dict(transform_hrefs=False) for i in items]})
        return
    if not items:
        click.echo("No items match.", err=True)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "collection", "datetime", "platform", "cloud %", title=f"{len(items)} item(s)")
    for item in items:
        cloud = item.properties.get("eo:cloud_cover")
        table.add_row(
            item.id,
            item.collection_id or "",
            item.datetime.isoformat() if item.datetime else str(item.properties.get("start_datetime")),
            str(item.properties.get("platform", "")),
            "" if cloud is None else f"{cloud:.1f}",
        )
    Console(width=None if Console().is_terminal else 200).print(table)


@catalog.command("sources")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def sources_cmd(as_json: bool) -> None:
    """List the catalog sources (catalogs/*.yaml) and their collections."""
    from eofusion.catalog.sources import list_catalog_sources, load_catalog_source

    rows = []
    for name in list_catalog_sources():
        src = load_catalog_source(name)
        rows.append(
            {"name": src.name, "kind": src.kind, "endpoint": src.endpoint, "collections": list(src.collections)}
        )
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['name']:<22} {row['kind']:<9} {row['endpoint']}\n    {', '.join(row['collections'])}")
