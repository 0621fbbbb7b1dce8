"""The sampling design: a stratified random sample of a class map's pixels, strata = mapped classes.

Sample size (Olofsson et al. 2014, eq. 13, after Cochran 1977): n = (sum_i W_i S_i / S(O))^2, with
S_i = sqrt(U_i (1 - U_i)) from the expected user's accuracies U_i and S(O) the target standard error of
overall accuracy. Allocation: proportional to the mapped area, but at least ``min_per_class`` units in every
class (the paper's advice: rare classes need enough units for their user's accuracy), at most the class's
pixel count. Pixels are drawn without replacement, uniformly within each stratum, in two windowed passes
over the map (counts, then picks), so a national map is never held in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import rasterio

from eofusion.errors import ConfigError


@dataclass(frozen=True)
class SampleDesign:
    """How many units to draw."""

    expected_users_accuracy: float | Mapping[int, float] = 0.8
    target_overall_se: float = 0.01
    min_per_class: int = 50
    seed: int = 0

    def expected(self, class_id: int) -> float:
        """The expected user's accuracy of a class."""
        ua = self.expected_users_accuracy
        value = ua.get(class_id, 0.8) if isinstance(ua, Mapping) else ua
        if not 0.0 < value < 1.0:
            raise ConfigError(f"Expected user's accuracy of class {class_id} must be in (0, 1), got {value}.")
        return float(value)


def map_class_counts(path: str | Path, nodata: int | None = None) -> dict[int, int]:
    """Pixels per class of a class map (nodata left out), read block by block."""
    counts: dict[int, int] = {}
    with rasterio.open(path) as src:
        skip = src.nodata if nodata is None else nodata
        for _, window in src.block_windows(1):
            values, n = np.unique(src.read(1, window=window), return_counts=True)
            for v, c in zip(values.tolist(), n.tolist(), strict=True):
                if skip is None or v != skip:
                    counts[int(v)] = counts.get(int(v), 0) + int(c)
    return dict(sorted(counts.items()))


def sample_sizes(mapped: Mapping[int, int], design: SampleDesign) -> dict[int, int]:
    """Units per stratum (see the module docstring)."""
    total = sum(mapped.values())
    if total == 0:
        raise ConfigError("The map has no classified pixel to sample.")
    weights = {c: n / total for c, n in mapped.items()}
    spread = sum(w * np.sqrt(design.expected(c) * (1 - design.expected(c))) for c, w in weights.items())
    n_total = int(np.ceil((spread / design.target_overall_se) ** 2))
    return {c: int(min(mapped[c], max(design.min_per_class, round(n_total * w)))) for c, w in weights.items()}


def draw_sample(
    path: str | Path, sizes: Mapping[int, int], mapped: Mapping[int, int], seed: int = 0
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """A stratified random sample of pixel centres: (x, y) in the map's CRS and the mapped class of each.

    Each stratum's picks are ranks drawn without replacement among its pixels in reading order; a second pass
    over the blocks turns ranks into pixels.
    """
    rng = np.random.default_rng(seed)
    wanted = {c: np.sort(rng.choice(mapped[c], size=k, replace=False)) for c, k in sizes.items() if k > 0}
    seen = dict.fromkeys(wanted, 0)
    xs, ys, classes = [], [], []
    with rasterio.open(path) as src:
        for _, window in src.block_windows(1):
            block = src.read(1, window=window)
            for c, ranks in wanted.items():
                rows, cols = np.nonzero(block == c)  # reading order within the block: row-major
                lo, hi = np.searchsorted(ranks, [seen[c], seen[c] + rows.size])
                picks = ranks[lo:hi] - seen[c]
                seen[c] += rows.size
                if picks.size == 0:
                    continue
                r = rows[picks] + window.row_off + 0.5
                q = cols[picks] + window.col_off + 0.5
                x, y = src.transform * (q, r)
                xs.append(np.atleast_1d(x))
                ys.append(np.atleast_1d(y))
                classes.append(np.full(picks.size, c, dtype=np.int64))
    if not xs:
        raise ConfigError(f"No pixel of {path} was drawn; is the map empty?")
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(classes)
