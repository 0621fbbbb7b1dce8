"""Data-parallel training: 2 processes under torchrun (gloo, CPU) take the steps one process takes."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from eofusion.models.device import DevicePolicy, pick_device
from eofusion.training.distributed import SINGLE, Ranks

sys.path.insert(0, str(Path(__file__).parent))
from ddp_worker import train

WORKER = Path(__file__).parent / "ddp_worker.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def torchrun(mode: str, out: Path) -> list[dict[str, torch.Tensor]]:
    """Run the worker on 2 ranks; their final parameters."""
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
        "--master-port", str(free_port()), str(WORKER), mode, str(out),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, env=_env())
    assert done.returncode == 0, done.stderr[-3000:]
    return [torch.load(out / f"{mode}-rank{r}.pt") for r in (0, 1)]


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["pixel", "mae"])
def test_two_ranks_take_the_steps_of_one_process_on_the_global_batch(mode: str, tmp_path: Path) -> None:
    rank0, rank1 = torchrun(mode, tmp_path)
    single = train(mode, SINGLE).state_dict()
    # The MAE's tolerance is wider: AdamW turns noise-level gradients into full-size steps (the attention key
    # bias has an exactly zero gradient, softmax ignores it, so its float noise differs with the summation
    # order); measured: at most 3.5e-5 apart after 5 steps that moved the weights by 1.5e-3.
    atol = 1e-4 if mode == "mae" else 1e-6
    for name, value in rank0.items():
        assert torch.equal(value, rank1[name]), f"{name} differs between the ranks"
        gap = float((value.double() - single[name].double()).abs().max())
        assert gap <= atol, f"{name}: DDP and one process are {gap:.2e} apart"
    moved = [n for n, v in rank0.items() if v.is_floating_point() and not torch.equal(v, train_start(mode)[n])]
    assert moved, "training changed no parameter"


def train_start(mode: str) -> dict[str, torch.Tensor]:
    """The parameters before any step (built after the same seed as in the worker)."""
    from ddp_worker import PixelModel

    from eofusion.models import build_model

    torch.manual_seed(0)
    return (build_model("tiny") if mode == "mae" else PixelModel()).state_dict()


@pytest.mark.slow
def test_eofusion_model_stays_identical_on_both_ranks(tmp_path: Path) -> None:
    """The real land-cover model (BatchNorm statistics per rank on the CPU) stays in sync across ranks."""
    rank0, rank1 = torchrun("segmentation", tmp_path)
    for name, value in rank0.items():
        if "running_" in name or "num_batches" in name:
            continue  # BatchNorm's running statistics are each rank's own (SyncBatchNorm needs CUDA)
        assert torch.equal(value, rank1[name]), f"{name} differs between the ranks"


def test_global_batch_must_split_over_the_ranks() -> None:
    from eofusion.errors import ConfigError

    assert Ranks(1, 2).local_batch(8) == slice(4, 8)
    with pytest.raises(ConfigError, match="multiple of 3"):
        Ranks(0, 3).local_batch(8)


def test_device_policy_picks_cpu_without_a_gpu_and_the_local_gpu_with_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from eofusion.errors import ConfigError
    from eofusion.models import device

    monkeypatch.setattr(device, "cuda_available", lambda: False)
    cpu = DevicePolicy.resolve("auto")
    assert cpu.device.type == "cpu" and not cpu.pin_memory and cpu.loader_workers(0) == 0 and cpu.predict_batch == 4
    with pytest.raises(ConfigError, match="--device cpu"):
        pick_device("cuda")
    with pytest.raises(ConfigError, match="fp16 needs a CUDA device"):
        DevicePolicy.resolve("cpu", amp="fp16")
    monkeypatch.setattr(device, "cuda_available", lambda: True)
    monkeypatch.setenv("LOCAL_RANK", "1")  # torchrun's second process on a node: its own GPU
    gpu = DevicePolicy.resolve("auto", amp="fp16")
    assert gpu.device == torch.device("cuda", 1) and gpu.pin_memory and gpu.loader_workers(0) >= 1
    assert gpu.predict_batch > cpu.predict_batch and gpu.grad_scaler() is not None


def test_bf16_autocast_runs_on_the_cpu() -> None:
    policy = DevicePolicy.resolve("cpu", amp="bf16")
    layer = torch.nn.Linear(4, 2)
    with policy.autocast():
        assert layer(torch.ones(1, 4)).dtype == torch.bfloat16
