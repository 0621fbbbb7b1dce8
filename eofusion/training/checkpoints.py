"""Checkpoints: safetensors tensors + JSON metadata, never pickled code.

One file per checkpoint (``*.safetensors``). Tensors: ``model/<state key>``, ``optim/<param index>/<name>``
and ``rng/torch``. The safetensors header carries one metadata entry, ``eofusion``, a JSON document with:
``format`` (version of this layout), ``eofusion_version``, ``model_config``, ``config_hash``, ``seed``,
``step``, ``bands`` (per sensor key: sensor name, band names and descriptors used in training),
``optimizer`` (param groups without tensors) and ``extra``.

Loading never unpickles: safetensors files are parsed as data only; a ``.pt``/``.pth`` file (e.g. a
published SMARTIES checkpoint) is read with ``torch.load(weights_only=True)``, which refuses any pickled
object that is not a tensor or plain container. Anything else raises :class:`CheckpointError`.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from eofusion import __version__
from eofusion.errors import CheckpointError
from eofusion.models import ModelConfig, SpectralMAE

log = logging.getLogger(__name__)
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: tensors split by role and the metadata document."""

    metadata: dict[str, Any]
    model_state: dict[str, Tensor]
    optimizer_state: dict[str, Tensor] = field(default_factory=dict)
    rng_state: Tensor | None = None

    @property
    def config(self) -> ModelConfig:
        """The model config it was saved with."""
        return ModelConfig.from_dict(self.metadata["model_config"])

    @property
    def inputs(self) -> dict[str, Any]:
        """Per sensor group, what the model was trained on: ``{"s2": {"sensor", "bands", "resolution_m"}}``.

        Empty for checkpoints written before eofusion recorded it.
        """
        return dict(self.metadata.get("bands") or {})

    @property
    def step(self) -> int:
        """Optimisation steps done when it was saved."""
        return int(self.metadata.get("step", 0))


def describe_inputs(inputs: Mapping[str, Any]) -> str:
    """``s2: sentinel-2a B02,B03 at 10 m; dsm: ...`` for logs and CLI output."""
    if not inputs:
        return "not recorded (written before checkpoints recorded their inputs; retrain to record them)"
    parts = []
    for group, info in inputs.items():
        bands = ",".join(map(str, info.get("bands", [])))
        res = info.get("resolution_m")
        parts.append(f"{group}: {info.get('sensor', '?')} {bands}" + (f" at {res:g} m" if res else ""))
    return "; ".join(parts)


def save_checkpoint(
    path: str | os.PathLike[str],
    model: torch.nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    step: int = 0,
    seed: int | None = None,
    bands: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically (temporary file in the same directory, then ``os.replace``).

    Args:
        path: Target ``.safetensors`` file.
        model: The model (a :class:`SpectralMAE`, or any module with a ``config`` attribute that has
            ``to_dict()`` and ``config_hash()``, e.g. a segmentation or crop-type model); its config goes into
            the metadata, with its class name as ``model_kind``.
        optimizer: Saved (state tensors + param groups) so training can resume.
        step: Steps done.
        seed: The run's seed.
        bands: Band identities used (JSON-able), e.g. ``{"s2": {"sensor": ..., "bands": [...]}}``.
        extra: Any other JSON-able metadata (e.g. the pretraining config).
    """
    config = getattr(model, "config", None)
    if not (callable(getattr(config, "to_dict", None)) and callable(getattr(config, "config_hash", None))):
        raise CheckpointError(
            f"{type(model).__name__} has no `config` (a ModelConfig or another config with to_dict() and "
            "config_hash()); cannot record its architecture."
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"model/{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "eofusion_version": __version__,
        "model_config": config.to_dict(),  # type: ignore[union-attr]
        "model_kind": type(config).__name__,
        "config_hash": config.config_hash(),  # type: ignore[union-attr]
        "seed": seed,
        "step": step,
        "bands": dict(bands or {}),
        "extra": dict(extra or {}),
    }
    if optimizer is not None:
        state = optimizer.state_dict()
        for index, pstate in state["state"].items():
            for name, value in pstate.items():
                t = value if isinstance(value, Tensor) else torch.tensor(value)
                tensors[f"optim/{index}/{name}"] = t.detach().cpu().contiguous()
        meta["optimizer"] = {"class": type(optimizer).__name__, "param_groups": state["param_groups"]}
    tensors["rng/torch"] = torch.get_rng_state()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        save_file(tensors, str(tmp), metadata={"eofusion": json.dumps(meta, default=str)})
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("checkpoint written: %s (step %d)", path, step)
    return path


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read an eofusion checkpoint without executing anything from the file.

    Raises:
        CheckpointError: Missing file, not a safetensors file (e.g. a pickle, possibly with code), or
            without eofusion metadata.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} does not exist; check the path (or drop --resume).")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            raw = (handle.metadata() or {}).get("eofusion")
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(
            f"{path} is not a safetensors checkpoint ({err}); eofusion never unpickles checkpoints. "
            "If it is a trusted PyTorch file, convert it with read_state_dict() first."
        ) from err
    if raw is None:
        raise CheckpointError(f"{path} has no eofusion metadata: it was not written by save_checkpoint().")
    meta = json.loads(raw)
    if meta.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format {meta.get('format')}; expected {FORMAT_VERSION}.")
    model_state = {k.removeprefix("model/"): v for k, v in tensors.items() if k.startswith("model/")}
    optim_state = {k.removeprefix("optim/"): v for k, v in tensors.items() if k.startswith("optim/")}
    return Checkpoint(meta, model_state, optim_state, tensors.get("rng/torch"))


def load_model(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> SpectralMAE:
    """Rebuild the model from a checkpoint's config and load its weights (strictly)."""
    ckpt = load_checkpoint(path)
    model = SpectralMAE(ckpt.config)
    restore_model(model, ckpt, path)
    return model.to(map_location)


def restore_model(model: SpectralMAE, ckpt: Checkpoint, path: str | os.PathLike[str] = "checkpoint") -> None:
    """Load the checkpoint's weights into ``model``; its config must match."""
    if model.config != ckpt.config:
        raise CheckpointError(
            f"{path} was saved with config hash {ckpt.metadata.get('config_hash')} but the model has "
            f"{model.config.config_hash()}; build the model from the checkpoint (load_model)."
        )
    missing, unexpected = model.load_state_dict(ckpt.model_state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{path} does not fit the model: missing {missing[:5]}, unexpected {unexpected[:5]}.")


def restore_optimizer(optimizer: torch.optim.Optimizer, ckpt: Checkpoint) -> None:
    """Load the optimizer state saved by :func:`save_checkpoint`."""
    info = ckpt.metadata.get("optimizer")
    if info is None:
        raise CheckpointError("The checkpoint has no optimizer state; it cannot resume training.")
    state: dict[int, dict[str, Tensor]] = {}
    for key, value in ckpt.optimizer_state.items():
        index, name = key.split("/", 1)
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"]})


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """A plain tensor state dict from ``.safetensors`` or a ``.pt``/``.pth`` file, safely.

    PyTorch files are read with ``weights_only=True``; MAE-style ``{"model": state_dict}`` wrappers are
    unwrapped. Files that need code to unpickle are refused.

    Raises:
        CheckpointError: The file is missing, unsafe or holds no tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} does not exist.")
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as err:
            raise CheckpointError(f"{path} is not a valid safetensors file: {err}") from err
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as err:
        raise CheckpointError(
            f"{path} cannot be loaded safely (weights_only=True refused it: {str(err).splitlines()[0]}). "
            "eofusion never unpickles code from checkpoints."
        ) from err
    for wrapper in ("model", "state_dict", "model_state"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} does not hold a state dict of tensors.")
    return dict(obj)


def convert_smarties_checkpoint(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    config: ModelConfig | None = None,
    seed: int = 0,
) -> tuple[Path, Any]:
    """Convert a SMARTIES ``.pth``/``.safetensors`` file into an eofusion checkpoint.

    What is carried over is described in :mod:`eofusion.models.smarties`; the conversion report goes into
    the checkpoint's ``extra`` metadata. ``config`` defaults to the one inferred from the weights (ViT-B/L).

    Returns:
        The written checkpoint and the :class:`~eofusion.models.smarties.ConversionReport`.
    """
    from eofusion.models.smarties import convert_smarties_state_dict

    model, report = convert_smarties_state_dict(read_state_dict(source), config, seed=seed)
    extra = {
        "converted_from": str(source),
        "pos_embed_max_diff": report.pos_embed_max_diff,
        "coefficient_residual": report.coefficient_residual,
        "skipped_keys": list(report.skipped),
        "notes": list(report.notes),
    }
    return save_checkpoint(target, model, seed=seed, extra=extra), report
