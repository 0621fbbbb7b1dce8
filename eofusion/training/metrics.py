"""Segmentation metrics with torchmetrics: overall accuracy, mIoU, per-class IoU and F1, confusion matrix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassJaccardIndex,
)

# Label value that no loss or score counts (torch's CrossEntropyLoss default is -100; 255 keeps label chips uint8).
IGNORE_INDEX = 255


@dataclass(frozen=True)
class SegmentationScores:
    """Scores over the classes that occur in the reference (absent classes are reported but not averaged)."""

    overall_accuracy: float
    miou: float
    macro_f1: float
    iou: Mapping[int, float]
    f1: Mapping[int, float]
    support: Mapping[int, int]
    confusion: list[list[int]]  # rows: reference class, columns: predicted class

    def as_row(self, names: Mapping[int, str] | None = None) -> dict[str, float]:
        """Flat dict for CSV/Markdown tables (OA and mIoU in percent)."""
        row = {
            "OA": round(100 * self.overall_accuracy, 2),
            "mIoU": round(100 * self.miou, 2),
            "F1": round(100 * self.macro_f1, 2),
        }
        for k, v in self.iou.items():
            row[f"IoU {names.get(k, k) if names else k}"] = round(100 * v, 2)
        return row


class SegmentationMetric:
    """Accumulates torchmetrics' OA, per-class IoU / F1 and confusion matrix over batches."""

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX) -> None:
        self.num_classes = num_classes
        k, ignore = num_classes, ignore_index
        # Every process scores the whole held-out set it is given: no gathering across data-parallel ranks
        # (rank 0 alone scores the sensor subsets; a gather would wait for ranks that never come).
        self.metrics = MetricCollection(
            {
                "oa": MulticlassAccuracy(k, average="micro", ignore_index=ignore, sync_on_compute=False),
                "iou": MulticlassJaccardIndex(k, average="none", ignore_index=ignore, sync_on_compute=False),
                "f1": MulticlassF1Score(k, average="none", ignore_index=ignore, sync_on_compute=False),
                "confusion": MulticlassConfusionMatrix(k, ignore_index=ignore, sync_on_compute=False),
            }
        )

    def update(self, logits_or_pred: Tensor, target: Tensor) -> None:
        """Add a batch: logits ``[B, K, H, W]`` or class ids ``[B, H, W]``, target ``[B, H, W]``."""
        pred = logits_or_pred.argmax(1) if logits_or_pred.ndim == target.ndim + 1 else logits_or_pred
        self.metrics.update(pred.detach().cpu(), target.detach().cpu())

    def compute(self) -> SegmentationScores:
        """Scores from everything added so far; means are over the classes present in the reference."""
        result = self.metrics.compute()
        cm = result["confusion"].to(torch.int64)
        support = cm.sum(1)
        classes: Sequence[int] = [int(i) for i in torch.nonzero(support > 0).flatten()]
        iou, f1 = result["iou"].to(torch.float64), result["f1"].to(torch.float64)
        return SegmentationScores(
            overall_accuracy=float(result["oa"]),
            miou=float(iou[classes].mean()) if classes else 0.0,
            macro_f1=float(f1[classes].mean()) if classes else 0.0,
            iou={c: float(iou[c]) for c in classes},
            f1={c: float(f1[c]) for c in classes},
            support={c: int(support[c]) for c in classes},
            confusion=cm.tolist(),
        )
