"""One device policy for pretraining, fine-tuning, evaluation and prediction.

``auto`` takes the CUDA device when one is there (the process's ``LOCAL_RANK`` one under ``torchrun``),
else the CPU; an explicit ``cuda`` without a GPU is an error that names ``--device cpu``. Mixed precision is
an autocast option: ``bf16`` (GPUs and recent CPUs) or ``fp16`` (CUDA only, with loss scaling). Host memory
is pinned and batches are copied asynchronously only for CUDA; on the CPU everything runs as before, so CPU
results do not change with this policy.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Literal

import torch

from eofusion.errors import ConfigError

Amp = Literal["off", "bf16", "fp16"]
AMP_MODES: tuple[str, ...] = ("off", "bf16", "fp16")
_AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
PREDICT_BATCH = {"cpu": 4, "cuda": 32}  # windows per forward pass: the CPU gains nothing from more


def cuda_available() -> bool:
    """Whether a CUDA device can be used (one place to ask, so tests can pretend one exists)."""
    return torch.cuda.is_available()


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` -> this process's CUDA device when available, else CPU; anything else is ``torch.device(name)``."""
    if name == "auto":
        if not cuda_available():
            return torch.device("cpu")
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"Unknown device {name!r}; use auto, cpu, cuda or cuda:N.") from None
    if device.type == "cuda" and not cuda_available():
        raise ConfigError(f"Device {name!r} was asked for but CUDA is not available here; use --device cpu.")
    return device


@dataclass(frozen=True)
class DevicePolicy:
    """Where tensors go and how they get there."""

    device: torch.device
    amp: Amp = "off"

    @classmethod
    def resolve(cls, device: str = "auto", amp: str = "off") -> DevicePolicy:
        """The policy for a ``--device`` / ``--amp`` pair, checked."""
        if amp not in AMP_MODES:
            raise ConfigError(f"amp must be one of {', '.join(AMP_MODES)}, not {amp!r}.")
        chosen = pick_device(device)
        if amp == "fp16" and chosen.type != "cuda":
            raise ConfigError("amp fp16 needs a CUDA device; use --amp bf16 on the CPU, or --amp off.")
        return cls(chosen, amp)  # type: ignore[arg-type]

    @property
    def is_cuda(self) -> bool:
        """True on a GPU."""
        return self.device.type == "cuda"

    @property
    def pin_memory(self) -> bool:
        """Page-locked host batches: faster, asynchronous copies to a GPU; no use on the CPU."""
        return self.is_cuda

    @property
    def predict_batch(self) -> int:
        """Windows per forward pass when mapping."""
        return PREDICT_BATCH["cuda" if self.is_cuda else "cpu"]

    def loader_workers(self, requested: int) -> int:
        """DataLoader worker processes: as asked, else 4 on a GPU (keep it fed), 0 on the CPU (cores compute)."""
        if requested > 0:
            return requested
        return min(4, os.cpu_count() or 1) if self.is_cuda else 0

    def autocast(self) -> AbstractContextManager[object]:
        """Mixed precision around a forward pass, or nothing."""
        dtype = _AMP_DTYPES.get(self.amp)
        if dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """Loss scaling for fp16 on CUDA (a no-op scaler otherwise)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.amp == "fp16" and self.is_cuda)
