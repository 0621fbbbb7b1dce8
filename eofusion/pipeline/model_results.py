"""One trained model's held-out result, and its record beside the checkpoint so a killed run resumes per model.

A training run trains eofusion's model, then each baseline; the fused model alone can take over an hour on a
CPU. Each model's result is written (atomically) to ``<outputs.dir>/models/<name>.json`` as soon as that model
is trained and its checkpoint saved; a rerun of the same spec reuses every model whose record matches and
trains only the rest. A record matches when it names the same spec hash and training revision and, for a
model with a checkpoint, the checkpoint's SHA-256 is still the recorded one (a checkpoint overwritten by
another run is retrained, never paired with someone else's scores).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eofusion.atomic import write_text_atomic
from eofusion.fingerprint import file_digest
from eofusion.training.metrics import SegmentationScores

RECORDS_DIR = "models"


@dataclass
class ModelResult:
    """One model's training curve, time and held-out scores."""

    name: str
    scores: SegmentationScores
    losses: list[float]
    train_seconds: float
    parcels: dict[str, float] | None = None  # crop types scored per parcel (majority vote)

    def row(self, names: Mapping[int, str]) -> dict[str, Any]:
        return {"model": self.name, **self.scores.as_row(names), "train s": round(self.train_seconds, 1)}


@dataclass(frozen=True)
class RunIdentity:
    """What a record must share with the run that reads it: the spec's hash and the training step's revision."""

    spec_hash: str
    training_revision: int


def record_path(out: Path, name: str) -> Path:
    """Where the record of model ``name`` ("eofusion", "unet", "random forest") lives in a run's folder."""
    return out / RECORDS_DIR / f"{name.replace(' ', '-')}.json"


def write_record(out: Path, result: ModelResult, run: RunIdentity, checkpoint: Path | None) -> Path:
    """Record a trained model's result (after its checkpoint, if any, is complete on disk)."""
    s = result.scores
    record = {
        "spec_hash": run.spec_hash,
        "training_revision": run.training_revision,
        "name": result.name,
        "checkpoint": str(checkpoint) if checkpoint else None,
        "checkpoint_sha256": file_digest(checkpoint) if checkpoint else None,
        "train_seconds": result.train_seconds,
        "losses": result.losses,
        "parcels": result.parcels,
        "scores": {
            "overall_accuracy": s.overall_accuracy,
            "miou": s.miou,
            "macro_f1": s.macro_f1,
            # JSON keys are strings: class ids as [id, value] pairs keep their type
            "iou": list(s.iou.items()),
            "f1": list(s.f1.items()),
            "support": list(s.support.items()),
            "confusion": s.confusion,
        },
    }
    path = record_path(out, result.name)
    write_text_atomic(path, json.dumps(record))
    return path


def read_record(out: Path, name: str, run: RunIdentity, checkpoint: Path | None) -> ModelResult | None:
    """The recorded result of model ``name`` if this run made it, else None.

    ``checkpoint`` is where this run keeps the model's weights (None for a model without): its SHA-256 must be
    the recorded one. A record that is cut short, of an older layout, or of another spec or revision is none.
    """
    try:
        record = json.loads(record_path(out, name).read_text())
        if record["spec_hash"] != run.spec_hash or record["training_revision"] != run.training_revision:
            return None
        if checkpoint is not None and file_digest(checkpoint) != record["checkpoint_sha256"]:
            return None
        s = record["scores"]
        scores = SegmentationScores(
            overall_accuracy=s["overall_accuracy"],
            miou=s["miou"],
            macro_f1=s["macro_f1"],
            iou={int(k): v for k, v in s["iou"]},
            f1={int(k): v for k, v in s["f1"]},
            support={int(k): int(v) for k, v in s["support"]},
            confusion=s["confusion"],
        )
        return ModelResult(name, scores, list(record["losses"]), record["train_seconds"], record.get("parcels"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def forget_records(out: Path) -> None:
    """Remove every model record of a run folder (a forced run starts afresh)."""
    folder = out / RECORDS_DIR
    for path in folder.glob("*.json") if folder.is_dir() else ():
        path.unlink(missing_ok=True)
