"""Shared fixtures of the model tests: small seeded multi-sensor inputs built from the registry."""

from __future__ import annotations

import pytest
import torch

from eofusion.models import SensorInput, build_model
from eofusion.models.mae import SpectralMAE
from eofusion.sensors import BandKind, get_sensor


def s2_bands() -> tuple:
    return tuple(b for b in get_sensor("sentinel-2a").bands if b.kind is BandKind.REFLECTANCE and b.name != "B10")


def make_inputs(batch: int = 2, footprint_m: int = 80, dates: int = 2, seed: int = 0) -> dict[str, SensorInput]:
    """S2 (10 m, time series), S1 (10 m), aerial (0.5 m) and DSM (1 m) over one footprint."""
    g = torch.Generator().manual_seed(seed)
    n10 = footprint_m // 10
    days = torch.tensor([[100.0 + 30 * t for t in range(dates)]] * batch)
    s1 = get_sensor("sentinel-1")
    valid = torch.rand(batch, dates, n10, n10, generator=g) > 0.2
    return {
        "s2": SensorInput(
            torch.randn(batch, dates, 12, n10, n10, generator=g), s2_bands(), 10.0, "sentinel-2a", days, valid
        ),
        "s1": SensorInput(
            torch.randn(batch, dates, 2, n10, n10, generator=g), s1.bands[:2], 10.0, "sentinel-1", days + 3
        ),
        "aerial": SensorInput(
            torch.randn(batch, 1, 4, footprint_m * 2, footprint_m * 2, generator=g),
            get_sensor("aerial-ign").bands,
            0.5,
            "aerial-ign",
        ),
        "dsm": SensorInput(
            torch.randn(batch, 1, 2, footprint_m, footprint_m, generator=g),
            get_sensor("elevation").select(["dsm", "ndsm"]),
            1.0,
            "elevation",
        ),
    }


@pytest.fixture
def input_factory():
    """``make_inputs`` itself, for tests that need other sizes."""
    return make_inputs


@pytest.fixture
def inputs() -> dict[str, SensorInput]:
    return make_inputs()


@pytest.fixture
def tiny_model() -> SpectralMAE:
    torch.manual_seed(0)
    return build_model("tiny").eval()


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from intra-op threads, and lose a lot when the CPU is shared (CI)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
