"""Land-cover models: class tables <-> contiguous indices, building from a pretrained encoder, checkpoints.

A land-cover checkpoint is an eofusion safetensors checkpoint (see :mod:`eofusion.training.checkpoints`)
whose metadata ``extra`` holds ``task="landcover"``, the class table (id, name, colour) in logit order and
the head width, so a map can be made from the file alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from torch import nn

from eofusion.errors import CheckpointError
from eofusion.models import SpectralEncoder
from eofusion.models.config import ModelConfig
from eofusion.models.heads import HEAD_REVISION, SegmentationModel
from eofusion.training.checkpoints import load_checkpoint, save_checkpoint
from eofusion.training.metrics import IGNORE_INDEX

TASK = "landcover"


@dataclass(frozen=True)
class ClassTable:
    """Classes in logit order: ``ids[i]`` is the map value of logit ``i``."""

    ids: tuple[int, ...]
    names: tuple[str, ...]
    colours: tuple[str, ...]  # "#rrggbb"

    @classmethod
    def from_mapping(cls, names: Mapping[int, str], colours: Mapping[int, str]) -> ClassTable:
        ids = tuple(sorted(names))
        return cls(ids, tuple(names[i] for i in ids), tuple(colours.get(i, "#808080") for i in ids))

    def to_indices(self, class_ids: npt.ArrayLike) -> npt.NDArray[np.uint8]:
        """Map values -> logit indices; unknown ids (nodata) -> :data:`IGNORE_INDEX`."""
        lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
        lut[list(self.ids)] = np.arange(len(self.ids), dtype=np.uint8)
        return lut[np.asarray(class_ids, dtype=np.uint8)]

    def to_json(self) -> list[dict[str, Any]]:
        return [{"id": i, "name": n, "colour": c} for i, n, c in zip(self.ids, self.names, self.colours, strict=True)]

    @classmethod
    def from_json(cls, rows: Sequence[Mapping[str, Any]]) -> ClassTable:
        return cls(tuple(int(r["id"]) for r in rows), tuple(r["name"] for r in rows), tuple(r["colour"] for r in rows))


def landcover_model(
    config: ModelConfig, num_classes: int, pretrained: str | os.PathLike[str] | None = None, head_dim: int = 32
) -> SegmentationModel:
    """A segmentation model whose encoder starts from a pretrained MAE checkpoint (or from scratch)."""
    encoder = SpectralEncoder(config)
    if pretrained is not None:
        ckpt = load_checkpoint(pretrained)
        if ckpt.config != config:
            raise CheckpointError(f"{pretrained} was pretrained with another model config; build from its config.")
        prefix = "encoder."
        state = {k.removeprefix(prefix): v for k, v in ckpt.model_state.items() if k.startswith(prefix)}
        missing, unexpected = encoder.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise CheckpointError(f"{pretrained}: encoder weights do not fit ({missing[:3]}, {unexpected[:3]}).")
    return SegmentationModel(encoder, num_classes, head_dim=head_dim)


def save_landcover_model(
    path: str | os.PathLike[str],
    model: SegmentationModel,
    classes: ClassTable,
    *,
    seed: int | None = None,
    bands: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a land-cover checkpoint (weights + config + class table), atomically."""
    head_dim = model.context.out_channels
    meta = {"task": TASK, "classes": classes.to_json(), "head_dim": head_dim, "head_revision": HEAD_REVISION}
    meta.update(extra or {})
    return save_checkpoint(path, model, seed=seed, bands=bands, extra=meta)


def load_landcover_model(path: str | os.PathLike[str]) -> tuple[SegmentationModel, ClassTable, dict[str, Any]]:
    """Rebuild a land-cover model from its checkpoint; returns (model in eval mode, classes, metadata)."""
    ckpt = load_checkpoint(path)
    extra = ckpt.metadata.get("extra", {})
    if extra.get("task") != TASK:
        raise CheckpointError(
            f"{path} is not a land-cover checkpoint (task {extra.get('task')!r}); pass the output of `eofusion train`."
        )
    check_head_revision(path, extra)
    classes = ClassTable.from_json(extra["classes"])
    model = SegmentationModel(SpectralEncoder(ckpt.config), len(classes.ids), head_dim=int(extra["head_dim"]))
    try:
        missing, unexpected = model.load_state_dict(ckpt.model_state, strict=False)
    except RuntimeError as err:  # tensor shapes differ: written by another version of the head
        raise CheckpointError(
            f"{path} was written by an incompatible eofusion version ({ckpt.metadata.get('eofusion_version')}): "
            f"{str(err).splitlines()[-1].strip()}. Retrain it (eofusion demo / fine-tuning) with this version."
        ) from None
    if missing or unexpected:
        raise CheckpointError(f"{path} does not fit the land-cover model: {missing[:3]} {unexpected[:3]}.")
    return model.eval(), classes, ckpt.metadata


def save_baseline_model(path: str | os.PathLike[str], model: nn.Module, *, seed: int | None = None) -> Path:
    """Write a baseline (U-Net, DOFA) checkpoint, atomically; :func:`load_baseline_model` rebuilds it."""
    return save_checkpoint(path, model, seed=seed, extra={"task": TASK, "head_revision": HEAD_REVISION})


def load_baseline_model(path: str | os.PathLike[str]) -> nn.Module:
    """Rebuild a baseline (U-Net, DOFA) written by ``eofusion train`` (``baseline-<name>.safetensors``)."""
    from eofusion.models.baselines import baseline_from_config

    ckpt = load_checkpoint(path)
    config = ckpt.metadata.get("model_config", {})
    if "baseline" not in config:
        raise CheckpointError(
            f"{path} is not a baseline checkpoint (model {ckpt.metadata.get('model_kind')}); "
            "load eofusion's own land-cover checkpoints with load_landcover_model()."
        )
    model = baseline_from_config(config)
    if any(isinstance(part, SegmentationModel) for part in model.modules()):  # DOFA: eofusion's head
        check_head_revision(path, ckpt.metadata.get("extra", {}))
    try:
        model.load_state_dict(ckpt.model_state)
    except RuntimeError as err:
        raise CheckpointError(f"{path} does not fit its baseline config: {str(err).splitlines()[0]}") from None
    return model.eval()


def check_head_revision(path: str | os.PathLike[str], extra: Mapping[str, Any]) -> None:
    """Refuse a checkpoint whose land-cover head was trained for other arithmetic (:data:`HEAD_REVISION`)."""
    revision = int(extra.get("head_revision", 1))  # checkpoints before the field: revision 1
    if revision != HEAD_REVISION:
        raise CheckpointError(
            f"{path} holds a land-cover head of revision {revision}; this eofusion computes revision "
            f"{HEAD_REVISION} (eofusion.models.heads.HEAD_REVISION), so the weights would map "
            "wrongly. Retrain the model with this version (eofusion train, or eofusion demo)."
        )
