"""PNG reports of a training run: loss curves and confusion matrices (matplotlib, headless, no pyplot)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def _save(fig: object, path: Path) -> Path:
    """Write a figure to a temporary name, then rename (no half-written PNG)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, bbox_inches="tight")  # type: ignore[attr-defined]
    os.replace(tmp, path)
    return path


def _smooth(values: Sequence[float], window: int) -> np.ndarray:
    data = np.asarray(values, dtype=np.float64)
    if window <= 1 or len(data) < window:
        return data
    kernel = np.ones(window) / window
    head = np.array([data[: i + 1].mean() for i in range(window - 1)])
    return np.concatenate([head, np.convolve(data, kernel, mode="valid")])


def plot_training_curves(curves: Mapping[str, Sequence[float]], path: str | Path, title: str = "") -> Path:
    """One line per model: the training loss per step (raw, faint) and its running mean."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2), dpi=110)
    ax = fig.subplots()
    for index, (name, losses) in enumerate(curves.items()):
        if not losses:
            continue
        colour = f"C{index % 10}"
        steps = np.arange(1, len(losses) + 1)
        ax.plot(steps, losses, color=colour, alpha=0.25, linewidth=0.8)
        ax.plot(steps, _smooth(losses, max(1, len(losses) // 20)), color=colour, label=name, linewidth=1.6)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (cross-entropy)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    if title:
        ax.set_title(title)
    return _save(fig, Path(path))


def plot_confusion_matrix(
    confusion: Sequence[Sequence[int]], names: Sequence[str], path: str | Path, title: str = ""
) -> Path:
    """Row-normalised confusion matrix (rows: reference, columns: prediction) with counts per cell."""
    from matplotlib.figure import Figure

    counts = np.asarray(confusion, dtype=np.int64)
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros(counts.shape, dtype=np.float64), where=rows > 0)
    side = max(4.0, 0.55 * len(names) + 2.5)
    fig = Figure(figsize=(side + 1.0, side), dpi=110)
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the reference class")
    ax.set_xticks(range(len(names)), labels=list(names), rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), labels=list(names), fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("reference")
    if len(names) <= 16:
        for (r, c), n in np.ndenumerate(counts):
            if n:
                ax.text(c, r, str(n), ha="center", va="center", fontsize=6, color="white" if share[r, c] > 0.5 else "k")
    if title:
        ax.set_title(title)
    return _save(fig, Path(path))
