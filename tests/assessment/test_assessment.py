"""The good-practice assessment: estimators against a published example, interval coverage, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from eofusion.assessment import SampleDesign, assess_counts, assess_map, sample_sizes
from eofusion.assessment.reference import label_from_raster, read_sample


def test_estimators_match_the_published_two_class_example() -> None:
    """Olofsson et al. (2013, RSE 129:122-131) example, as computed by the R package mapac (``aa_card``
    documentation, https://pages.cms.hu-berlin.de/pflugmad/mapac/reference/aa_card.html): sample counts
    [[410, 26], [67, 369]] (rows = map), mapped areas 828,837 and 33,067,283 pixels."""
    result = assess_counts([[410, 26], [67, 369]], [828837, 33067283])
    first, second = result.classes
    assert first.users_accuracy == pytest.approx(0.9403670, abs=1e-7)
    assert second.users_accuracy == pytest.approx(0.8463303, abs=1e-7)
    assert first.producers_accuracy == pytest.approx(0.132986, abs=1e-6)
    assert second.producers_accuracy == pytest.approx(0.998237, abs=1e-6)
    assert first.proportion == pytest.approx(0.1729063, abs=1e-7)
    assert first.proportion_se == pytest.approx(0.01687046, abs=1e-8)
    assert result.overall_accuracy == pytest.approx(0.84862969, abs=1e-8)
    assert result.overall_accuracy_se == pytest.approx(0.01687046, abs=1e-8)
    # mapac divides the variances of user's and producer's accuracy by n_i; Olofsson et al. (2014, eq. 6-7)
    # by n_i - 1, which we follow: the same figures, scaled by sqrt(n_i / (n_i - 1)).
    scale = np.sqrt(436 / 435)
    assert first.users_accuracy_se == pytest.approx(0.01134094 * scale, rel=1e-5)
    assert first.producers_accuracy_se == pytest.approx(0.0130331827 * scale, rel=1e-5)
    assert second.producers_accuracy_se == pytest.approx(0.0003366146 * scale, rel=1e-4)
    assert result.error_matrix.sum() == pytest.approx(1.0)


def test_sample_size_follows_cochran_and_keeps_rare_classes() -> None:
    sizes = sample_sizes({1: 900_000, 2: 90_000, 3: 10_000}, SampleDesign(0.8, 0.01, 50))
    # n = (sum W_i sqrt(U(1-U)) / 0.01)^2 = (0.4 / 0.01)^2 = 1600, proportional, at least 50 per class
    assert sizes == {1: 1440, 2: 144, 3: 50}


@pytest.fixture(scope="module")
def truth_and_map(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[int, int]]:
    """The demo world's land-cover truth (reference), and a map of it with classification errors."""
    from eofusion.simulate import WorldConfig, simulate_world

    folder = tmp_path_factory.mktemp("assess")
    world = simulate_world(WorldConfig(seed=1, size_m=960.0), folder / "world")
    grid = world.grids["s2_10m"]
    truth = world.rasterize_landcover(grid)
    rng = np.random.default_rng(7)
    classes = sorted(int(c) for c in np.unique(truth) if c != 0)
    mapped = truth.copy()
    # Errors a classifier makes: each class loses a class-specific share of its pixels to another class.
    for k, c in enumerate(classes):
        where = (truth == c) & (rng.random(truth.shape) < 0.05 + 0.04 * (k % 4))
        mapped[where] = classes[(k + 1) % len(classes)]
    profile = {"driver": "GTiff", "dtype": "uint8", "count": 1, "width": grid.width, "height": grid.height,
               "crs": str(grid.crs), "transform": grid.affine, "nodata": 0, "tiled": True,
               "blockxsize": 256, "blockysize": 256}  # fmt: skip
    paths = []
    for name, data in (("truth.tif", truth), ("map.tif", mapped)):
        with rasterio.open(folder / name, "w", **profile) as dst:
            dst.write(data, 1)
        paths.append(folder / name)
    true_counts = {c: int((truth == c).sum()) for c in classes}
    return paths[0], paths[1], true_counts


def test_area_intervals_contain_the_true_areas_across_seeds(truth_and_map, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    truth, mapped, true_counts = truth_and_map
    with rasterio.open(truth) as src:
        pixel_ha = abs(src.transform.a * src.transform.e) / 1e4
    covered, total = 0, 0
    for seed in range(20):
        design = SampleDesign(0.85, 0.02, 30, seed)
        result = assess_map(mapped, tmp_path / str(seed), design=design, reference=truth).assessment
        assert result is not None
        for c in result.classes:
            true_area = true_counts.get(c.class_id, 0) * pixel_ha
            covered += abs(c.area - true_area) <= c.area_ci95
            total += 1
    # 95 % intervals: about 95 % of them should hold the truth; 85 % over >= 100 intervals leaves room for
    # chance (and for the normal approximation with 30-unit strata) but not for a biased estimator.
    assert total >= 100 and covered / total >= 0.85, f"{covered}/{total} intervals contain the true area"


def test_cli_writes_a_sample_to_label_then_reports_from_it(truth_and_map, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    truth, mapped, _ = truth_and_map
    cmd = [sys.executable, "-m", "eofusion", "assess", str(mapped), "--out", str(tmp_path / "a"), "--min-per-class",
           "20", "--target-se", "0.03"]  # fmt: skip
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert first.returncode == 0, first.stderr
    sample = read_sample(tmp_path / "a" / "sample.parquet")
    assert (sample["reference"] == -1).all() and len(sample) >= 20
    label_from_raster(sample, truth).to_parquet(tmp_path / "labelled.parquet")  # what a person does in QGIS
    second = subprocess.run([*cmd, "--sample", str(tmp_path / "labelled.parquet"), "--json"], capture_output=True,
                            text=True, timeout=300, check=False)  # fmt: skip
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert 0.5 < report["overall_accuracy"] <= 1.0 and report["unit"] == "ha"
    assert (tmp_path / "a" / "assessment.md").read_text().startswith("# Accuracy assessment of map.tif")
    assert (tmp_path / "a" / "areas.png").stat().st_size > 0
