"""``eofusion sensors``: what the registry knows about sensors and bands."""

from __future__ import annotations

from dataclasses import asdict

import click

from eofusion.cli.common import echo_json


@click.command("sensors")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def sensors(name: str | None, as_json: bool) -> None:
    """List registered sensors, or show the bands of sensor NAME."""
    from rich.console import Console
    from rich.table import Table

    from eofusion.sensors import REGISTRY, get_sensor

    if name is None:
        rows = [(s.name, s.family, len(s.bands), s.description) for s in REGISTRY]
        if as_json:
            echo_json([{"name": n, "family": f, "bands": count, "description": d} for n, f, count, d in rows])
            return
        table = Table("sensor", "family", "bands", "description")
        for n, f, count, d in rows:
            table.add_row(n, f, str(count), d)
        Console().print(table)
        return
    sensor = get_sensor(name)
    if as_json:
        echo_json({"name": sensor.name, "family": sensor.family, "bands": [asdict(b) for b in sensor.bands]})
        return
    table = Table(
        "band",
        "kind",
        "common",
        "centre nm",
        "FWHM nm",
        "res m",
        "dtype",
        "scale",
        "aliases",
        title=f"{sensor.name}: {sensor.description}",
    )
    for b in sensor.bands:
        table.add_row(
            b.name,
            b.kind.value,
            b.common_name or "",
            f"{b.centre_nm:g}" if b.centre_nm else "",
            f"{b.bandwidth_nm:g}" if b.bandwidth_nm else "",
            f"{b.resolution_m:g}",
            b.dtype,
            f"{b.scale:g}",
            ", ".join(b.aliases),
        )
    Console().print(table)
