"""``eofusion simulate``: render the demo world (Sentinel-2, Sentinel-1, aerial, DSM/DTM, truth + STAC)."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import click

from eofusion.cli.common import echo_json, progress


def _dates(text: str | None) -> tuple[date, ...] | None:
    if text is None:
        return None
    try:
        return tuple(date.fromisoformat(t.strip()) for t in text.split(",") if t.strip())
    except ValueError as err:
        raise click.BadParameter(f"{err}; give ISO dates separated by commas, e.g. 2024-04-27,2024-06-21") from err


@click.command("simulate")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Directory of the world.")
@click.option("--seed", default=0, show_default=True, help="Random seed: same seed, same files.")
@click.option("--size", "size_m", default=1920.0, show_default=True, help="Side of the square world in metres.")
@click.option("--lon", type=float, default=None, help="Centre longitude (default 1.72, the Lauragais).")
@click.option("--lat", type=float, default=None, help="Centre latitude (default 43.40).")
@click.option("--s2-dates", default=None, help="Sentinel-2 dates, comma-separated ISO dates.")
@click.option("--cloudy-dates", default=None, help="Which of the S2 dates have clouds (comma-separated).")
@click.option("--s1-ascending", default=None, help="Sentinel-1 ascending pass dates.")
@click.option("--s1-descending", default=None, help="Sentinel-1 descending pass dates.")
@click.option("--aerial-date", default=None, help="Aerial survey date.")
@click.option("--aerial-resolution", type=float, default=None, help="Aerial pixel size in metres (default 0.5).")
@click.option("--aerial-size", type=float, default=None, help="Aerial/DSM coverage side in metres (default: world).")
@click.option("--dsm-resolution", type=float, default=None, help="DSM/DTM pixel size in metres (default 1).")
@click.option("--s1-resolution", type=float, default=None, help="Sentinel-1 pixel spacing in metres (default 10).")
@click.option("--overwrite", is_flag=True, help="Replace another world already in --out.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
def simulate(
    *,
    out_dir: str,
    seed: int,
    size_m: float,
    lon: float | None,
    lat: float | None,
    s2_dates: str | None,
    cloudy_dates: str | None,
    s1_ascending: str | None,
    s1_descending: str | None,
    aerial_date: str | None,
    aerial_resolution: float | None,
    aerial_size: float | None,
    dsm_resolution: float | None,
    s1_resolution: float | None,
    overwrite: bool,
    no_progress: bool,
    as_json: bool,
) -> None:
    """Render a seeded demo world into OUT: COGs for every sensor, ground truth and STAC catalogs."""
    from eofusion.simulate import WorldConfig, plan_world

    base = WorldConfig()
    options = {
        "seed": seed,
        "size_m": size_m,
        "centre_lonlat": (
            lon if lon is not None else base.centre_lonlat[0],
            lat if lat is not None else base.centre_lonlat[1],
        ),
        "s2_dates": _dates(s2_dates),
        "s1_ascending_dates": _dates(s1_ascending),
        "s1_descending_dates": _dates(s1_descending),
        "aerial_date": _dates(aerial_date)[0] if aerial_date else None,  # type: ignore[index]
        "aerial_resolution_m": aerial_resolution,
        "aerial_size_m": aerial_size,
        "dsm_resolution_m": dsm_resolution,
        "s1_resolution_m": s1_resolution,
    }
    kwargs: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    if cloudy_dates is not None:
        kwargs["s2_cloudy_dates"] = _dates(cloudy_dates)
    elif s2_dates is not None:  # keep the default cloudy dates that are still in the list
        kwargs["s2_cloudy_dates"] = tuple(d for d in base.s2_cloudy_dates if d in kwargs["s2_dates"])
    config = WorldConfig(**kwargs)
    start = time.perf_counter()
    build = plan_world(config, out_dir, overwrite=overwrite)
    for _ in progress(build.run(), "Simulating the demo world", total=build.total, enabled=not no_progress):
        pass
    elapsed = time.perf_counter() - start
    summary = {"out": str(build.out_dir), "config_digest": config.digest(), "seconds": round(elapsed, 2),
               "steps": build.total}  # fmt: skip
    if as_json:
        echo_json(summary)
    else:
        what = "rendered" if build.total else "already up to date"
        click.echo(
            f"Demo world {what} in {build.out_dir} ({elapsed:.1f} s); catalog: {build.out_dir}/catalog/catalog.json"
        )
