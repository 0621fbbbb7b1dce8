"""Shared fixtures of the training tests: a small synthetic multi-sensor scene (seeded)."""

from __future__ import annotations

import pytest

from eofusion.training import ArrayChipDataset, SensorArray, synthetic_scene


@pytest.fixture(scope="session")
def scene() -> dict[str, SensorArray]:
    full = synthetic_scene(240, seed=0, dates=2)
    return {k: full[k] for k in ("s2", "dsm", "aerial")}


@pytest.fixture
def dataset(scene) -> ArrayChipDataset:
    return ArrayChipDataset(scene, chip_m=80, length=256, seed=0)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from intra-op threads, and lose a lot when the CPU is shared (CI)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
