"""``eofusion assess MAP``: the good-practice accuracy assessment and area estimate of a class map."""

from __future__ import annotations

from pathlib import Path

import click

from eofusion.cli.common import echo_json


def _expected(value: str) -> float | dict[int, float]:
    """``0.8`` for every class, or ``1=0.9,2=0.7`` per class id (others 0.8)."""
    if "=" not in value:
        return float(value)
    pairs = (item.split("=", 1) for item in value.split(",") if item.strip())
    return {int(k): float(v) for k, v in pairs}


@click.command("assess")
@click.argument("map_path", metavar="MAP", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Report folder.")
@click.option("--reference", type=click.Path(exists=True, path_type=Path),
              help="Reference classes: a class raster, or polygons (GeoPackage, GeoJSON, GeoParquet...).")  # fmt: skip
@click.option("--reference-column", default="class", show_default=True, help="Class column of the polygons.")
@click.option("--sample", "sample", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A sample written by an earlier run, its 'reference' column labelled (e.g. in QGIS).")  # fmt: skip
@click.option("--expected-ua", default="0.8", show_default=True,
              help="Expected user's accuracy (sets the sample size): 0.8, or per class '1=0.9,5=0.6'.")  # fmt: skip
@click.option("--target-se", type=float, default=0.01, show_default=True, help="Target SE of overall accuracy.")
@click.option("--min-per-class", type=int, default=50, show_default=True, help="Least units per mapped class.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the assessment as JSON.")
def assess(
    *,
    map_path: Path,
    out: Path,
    reference: Path | None,
    reference_column: str,
    sample: Path | None,
    expected_ua: str,
    target_se: float,
    min_per_class: int,
    seed: int,
    as_json: bool,
) -> None:
    """Draw a stratified random sample of MAP by mapped class, label it, estimate accuracy and class areas.

    With --reference the sample is labelled from it and the report written (assessment.md / .json, areas.png);
    without, only sample.parquet is written: label its 'reference' column, then rerun with --sample.
    """
    from eofusion.assessment import SampleDesign, assess_map

    design = SampleDesign(_expected(expected_ua), target_se, min_per_class, seed)
    files = assess_map(map_path, out, design=design, reference=reference, reference_column=reference_column,
                       sample=sample)  # fmt: skip
    if files.assessment is None:
        click.echo(f"{files.sample}: label the 'reference' column, then: eofusion assess {map_path} --sample ...")
        return
    if as_json:
        echo_json(files.assessment.to_dict())
        return
    click.echo(files.report_md.read_text() if files.report_md else "")
    click.echo(f"report: {files.report_md}, {files.report_json}, {files.areas_png}; sample: {files.sample}")
