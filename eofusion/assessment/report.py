"""``assess_map``: map -> sample -> labels -> estimates -> report (Markdown, JSON, a PNG of areas with intervals)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eofusion.assessment.design import SampleDesign, draw_sample, map_class_counts, sample_sizes
from eofusion.assessment.estimators import Z95, Assessment, assess_counts
from eofusion.assessment.reference import (
    UNLABELLED,
    count_matrix,
    label_from_polygons,
    label_from_raster,
    read_sample,
    sample_frame,
)
from eofusion.atomic import write_text_atomic

logger = logging.getLogger(__name__)
SAMPLE_NAME = "sample.parquet"


@dataclass(frozen=True)
class AssessmentFiles:
    """What ``assess_map`` wrote; ``assessment`` is None while the sample still needs reference labels."""

    sample: Path
    assessment: Assessment | None = None
    report_md: Path | None = None
    report_json: Path | None = None
    areas_png: Path | None = None


def _map_facts(path: Path) -> tuple[Any, float, str, dict[int, str]]:
    import rasterio

    with rasterio.open(path) as src:
        crs = src.crs
        pixel = abs(src.transform.a * src.transform.e)
        names = json.loads(src.tags().get("class_names", "{}"))
    projected = crs is not None and crs.is_projected
    return (
        crs,
        (pixel / 1e4 if projected else 1.0),
        ("ha" if projected else "pixels"),
        {int(k): v for k, v in names.items()},
    )


def assess_map(
    map_path: str | Path,
    out: str | Path,
    *,
    design: SampleDesign | None = None,
    reference: str | Path | None = None,
    reference_column: str = "class",
    sample: str | Path | None = None,
) -> AssessmentFiles:
    """Assess a class map: draw (or reuse) the stratified sample, label it, estimate, report.

    Args:
        map_path: The class-map GeoTIFF (strata = its classes; nodata left out).
        out: Folder for ``sample.parquet`` and the report.
        design: Sample size and allocation (default :class:`SampleDesign`).
        reference: A class raster, or a vector file of polygons with ``reference_column``; None with no
            ``sample``: only the sample is written, for labelling.
        sample: A labelled sample from an earlier call (its ``reference`` column filled in).
    """
    map_path, folder = Path(map_path), Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    design = design or SampleDesign()
    crs, unit_area, unit, names = _map_facts(map_path)
    mapped = map_class_counts(map_path)
    if sample is not None:
        frame = read_sample(sample)
    else:
        sizes = sample_sizes(mapped, design)
        x, y, classes = draw_sample(map_path, sizes, mapped, seed=design.seed)
        frame = sample_frame(x, y, classes, crs)
        if reference is not None:
            raster = Path(reference).suffix.lower() in (".tif", ".tiff", ".vrt", ".img")
            frame = (
                label_from_raster(frame, reference)
                if raster
                else label_from_polygons(frame, reference, reference_column)
            )
    sample_path = folder / SAMPLE_NAME
    tmp = sample_path.with_name(f".{sample_path.name}.tmp")
    frame.to_parquet(tmp)
    tmp.replace(sample_path)
    if reference is None and sample is None:
        logger.info("%d sample units written to %s: label their 'reference' column, then rerun with --sample",
                    len(frame), sample_path)  # fmt: skip
        return AssessmentFiles(sample_path)
    labels = {int(v) for v in frame["reference"].to_numpy() if int(v) != UNLABELLED}
    class_ids = sorted(set(mapped) | labels)
    counts, unusable = count_matrix(frame, class_ids)
    if unusable:
        logger.warning("%d of %d sample units have no reference label and are left out", unusable, len(frame))
    result = assess_counts(
        counts,
        [mapped.get(c, 0) for c in class_ids],
        class_ids=class_ids,
        names=[names.get(c, str(c)) for c in class_ids],
        unit_area=unit_area,
        unit=unit,
    )
    report = {**result.to_dict(), "map": str(map_path), "design": asdict(design), "sample": str(sample_path),
              "sample_units": len(frame), "unlabelled_units": unusable}  # fmt: skip
    report_json = write_text_atomic(folder / "assessment.json", json.dumps(report, indent=2, default=str))
    report_md = write_text_atomic(folder / "assessment.md", markdown(result, map_path))
    png = plot_areas(result, folder / "areas.png")
    return AssessmentFiles(sample_path, result, report_md, report_json, png)


def markdown(result: Assessment, map_path: Path) -> str:
    """The report as a Markdown table (areas with 95 % intervals, accuracies with their SEs)."""
    u = result.unit
    lines = [
        f"# Accuracy assessment of {map_path.name}",
        "",
        f"Stratified random sample by mapped class, {int(result.counts.sum())} units; estimators of Olofsson et al. "
        "(2014). Intervals are 95 % (+-1.96 SE).",
        "",
        f"Overall accuracy: {result.overall_accuracy:.3f} +- {Z95 * result.overall_accuracy_se:.3f}",
        "",
        f"| class | mapped area ({u}) | estimated area ({u}) | user's accuracy | producer's accuracy | units |",
        "|---|---|---|---|---|---|",
    ]
    for c in result.classes:
        lines.append(
            f"| {c.name} | {c.mapped_area:,.1f} | {c.area:,.1f} +- {c.area_ci95:,.1f} | "
            f"{_accuracy(c.users_accuracy, c.users_accuracy_se)} | "
            f"{_accuracy(c.producers_accuracy, c.producers_accuracy_se)} | {c.sample_size} |"
        )
    return "\n".join(lines) + "\n"


def _accuracy(value: float, se: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.3f} +- {Z95 * se:.3f}"


def plot_areas(result: Assessment, path: Path) -> Path:
    """Mapped vs estimated area per class, the estimate with its 95 % interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [c.name for c in result.classes]
    pos = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(names)), 4))
    ax.bar(pos - 0.2, [c.mapped_area for c in result.classes], 0.4, label="mapped", color="#bbbbbb")
    ax.bar(pos + 0.2, [c.area for c in result.classes], 0.4, yerr=[c.area_ci95 for c in result.classes],
           capsize=3, label="estimated (95 % CI)", color="#4477aa")  # fmt: skip
    ax.set_xticks(pos, names, rotation=45, ha="right")
    ax.set_ylabel(f"area ({result.unit})")
    ax.legend()
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)
    return path
