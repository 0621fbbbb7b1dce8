"""Stratified estimators of accuracy and area (strata = map classes; Olofsson et al. 2014, section 5).

Notation: ``counts[i, j]`` sample units mapped as class i whose reference class is j; ``mapped[i]`` the map's
pixels of class i (its stratum size); W_i = mapped[i] / sum(mapped). Estimated area proportions
p_ij = W_i n_ij / n_i. (eq. 4); overall accuracy sum_j p_jj, user's accuracy n_ii / n_i., producer's accuracy
p_jj / p_.j; the proportion of reference class j is p_.j with SE sqrt(sum_i W_i^2 (n_ij/n_i.)(1 - n_ij/n_i.) /
(n_i. - 1)) (eq. 10); variances of OA, UA (eq. 5-6) and PA (eq. 7) as given there; 95 % intervals +-1.96 SE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from eofusion.errors import ConfigError

Z95 = 1.96


@dataclass(frozen=True)
class AreaEstimate:
    """One reference class: its estimated area (proportion and map units) and accuracies, with SEs."""

    class_id: int
    name: str
    mapped_area: float  # area the map labels as this class (what a map-only inventory would report)
    proportion: float
    proportion_se: float
    area: float
    area_ci95: float  # half-width of the 95 % interval
    users_accuracy: float
    users_accuracy_se: float
    producers_accuracy: float
    producers_accuracy_se: float
    sample_size: int  # sample units in the stratum of this mapped class


@dataclass(frozen=True)
class Assessment:
    """The result of a stratified assessment."""

    classes: tuple[AreaEstimate, ...]
    overall_accuracy: float
    overall_accuracy_se: float
    error_matrix: npt.NDArray[np.float64]  # p_ij, rows = map, columns = reference, sums to 1
    counts: npt.NDArray[np.int64]
    unit: str  # of the areas ("ha", "pixels"...)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "overall_accuracy": self.overall_accuracy,
            "overall_accuracy_se": self.overall_accuracy_se,
            "overall_accuracy_ci95": Z95 * self.overall_accuracy_se,
            "unit": self.unit,
            "classes": [{k: _finite(v) for k, v in c.__dict__.items()} for c in self.classes],
            "error_matrix_area_proportions": self.error_matrix.tolist(),
            "sample_counts": self.counts.tolist(),
        }


def _finite(value: Any) -> Any:
    """NaN (an undefined accuracy) as JSON null."""
    return None if isinstance(value, float) and np.isnan(value) else value


def _checked(counts: npt.ArrayLike, mapped: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    n = np.asarray(counts, dtype=np.float64)
    m = np.asarray(mapped, dtype=np.float64)
    if n.ndim != 2 or n.shape[0] != n.shape[1] or m.shape != (n.shape[0],):
        raise ConfigError(f"Expected a square count matrix and one mapped area per class; got {n.shape}, {m.shape}.")
    if (n < 0).any() or (m < 0).any():
        raise ConfigError("Sample counts and mapped areas must not be negative.")
    return n, m


def assess_counts(
    counts: npt.ArrayLike,
    mapped: npt.ArrayLike,
    *,
    class_ids: list[int] | None = None,
    names: list[str] | None = None,
    unit_area: float = 1.0,
    unit: str = "pixels",
) -> Assessment:
    """Accuracy and area estimates from sample counts and the map's class areas (strata = map classes).

    Args:
        counts: ``[k, k]`` sample counts, rows = map class, columns = reference class (same class order).
        mapped: ``[k]`` the map's pixel counts (or areas) per class: the strata sizes.
        class_ids, names: Identify the k classes in the result.
        unit_area: Area of one unit of ``mapped`` (e.g. a pixel's hectares).
        unit: Name of the area unit.

    Raises:
        ConfigError: Shapes do not match, or a stratum with mapped area has fewer than 2 sample units.
    """
    n, m = _checked(counts, mapped)
    k = n.shape[0]
    ids = class_ids or list(range(k))
    labels = names or [str(i) for i in ids]
    n_i = n.sum(axis=1)
    thin = [labels[i] for i in range(k) if m[i] > 0 and n_i[i] < 2]
    if thin:
        raise ConfigError(
            f"Stratum/strata {', '.join(thin)} have fewer than 2 sample units: their variance cannot be estimated; "
            "sample more (at least 2, good practice 50+ per class)."
        )
    weights = m / m.sum()
    safe_n = np.where(n_i > 0, n_i, 1.0)
    rows = n / safe_n[:, None]  # n_ij / n_i.
    p = weights[:, None] * rows
    p_col = p.sum(axis=0)
    diag = np.diag(p)
    users = np.where(n_i > 0, np.diag(rows), np.nan)  # undefined for a class the map never shows
    producers = np.divide(diag, p_col, out=np.full(k, np.nan), where=p_col > 0)  # ... or no reference unit has
    denom = np.where(n_i > 1, n_i - 1, np.inf)
    prop_se = np.sqrt(((weights[:, None] ** 2) * rows * (1 - rows) / denom[:, None]).sum(axis=0))
    oa = float(diag.sum())
    oa_se = float(np.sqrt(np.nansum(weights**2 * users * (1 - users) / denom)))
    ua_se = np.sqrt(users * (1 - users) / denom)
    # Producer's accuracy (eq. 7): N_j. mapped units of class j, N^_.j estimated reference units of class j.
    n_map = m
    n_ref = (n_map[:, None] * rows).sum(axis=0)
    pa_se = np.zeros(k)
    for j in range(k):
        if n_ref[j] <= 0:
            pa_se[j] = np.nan
            continue
        own = 0.0 if n_i[j] == 0 else n_map[j] ** 2 * (1 - producers[j]) ** 2 * users[j] * (1 - users[j]) / denom[j]
        others = sum(n_map[i] ** 2 * rows[i, j] * (1 - rows[i, j]) / denom[i] for i in range(k) if i != j)
        pa_se[j] = np.sqrt((own + producers[j] ** 2 * others) / n_ref[j] ** 2)
    total = m.sum() * unit_area
    classes = tuple(
        AreaEstimate(
            class_id=int(ids[j]),
            name=labels[j],
            mapped_area=float(m[j] * unit_area),
            proportion=float(p_col[j]),
            proportion_se=float(prop_se[j]),
            area=float(p_col[j] * total),
            area_ci95=float(Z95 * prop_se[j] * total),
            users_accuracy=float(users[j]),
            users_accuracy_se=float(ua_se[j]),
            producers_accuracy=float(producers[j]),
            producers_accuracy_se=float(pa_se[j]),
            sample_size=int(n_i[j]),
        )
        for j in range(k)
    )
    return Assessment(classes, oa, oa_se, p, n.astype(np.int64), unit)
