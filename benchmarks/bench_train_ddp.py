"""Training throughput with 1 and 2 processes (torch.distributed, gloo on this CPU): samples per second.

    python benchmarks/bench_train_ddp.py --json bench-train-ddp.json

Both runs use the machine's 2 cores: one process with 2 torch threads, then ``torchrun --nproc-per-node 2``
with 1 thread each; the global batch is the same (``--batch``), so the 2-process run takes the same steps.
Measured for MAE pretraining and for land-cover fine-tuning (tiny model, synthetic chips of ``--chip-m`` with
S2, aerial at 0.5 m and DSM; the fine-tuning head decodes at the aerial's pixels), after ``--warmup`` steps.
On a GPU node the same script measures GPUs with ``--device cuda`` (one GPU per process).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch


def _chips(count: int, chip_m: float, seed: int) -> Any:
    from eofusion.training.arrays import ArrayChipDataset
    from eofusion.training.synthetic import synthetic_scene

    return ArrayChipDataset(synthetic_scene(640.0, seed=seed, dates=3), chip_m=chip_m, length=count, seed=seed)


class _Labelled(torch.utils.data.Dataset[Any]):
    """Chips with random labels on the finest grid (throughput does not depend on what the labels say)."""

    def __init__(self, chips: Any, classes: int) -> None:
        self.chips, self.classes = chips, classes

    def __len__(self) -> int:
        return len(self.chips)

    def __getitem__(self, index: int) -> Any:
        inputs = self.chips[index]
        size = max(int(item.pixels.shape[-1]) for item in inputs.values())
        label = torch.randint(self.classes, (size, size), generator=torch.Generator().manual_seed(index))
        return inputs, label


def worker(kind: str, args: argparse.Namespace) -> dict[str, float]:
    """Train in this process (one rank of a torchrun group, or alone); samples/s after the warm-up."""
    from eofusion.models import build_model, model_config
    from eofusion.training.distributed import Compute, shutdown_distributed
    from eofusion.training.finetune import FinetuneConfig, finetune
    from eofusion.training.landcover import landcover_model
    from eofusion.training.pretrain import PretrainConfig, StepInfo, pretrain

    steps = args.pretrain_steps if kind == "pretrain" else args.finetune_steps
    batch, warmup, device = args.batch, args.warmup, args.device
    compute = Compute.start(device)
    stamps: dict[int, float] = {}
    chips = _chips(4 * batch, args.chip_m, seed=0)
    torch.manual_seed(0)
    try:
        if kind == "pretrain":

            def seen(info: StepInfo) -> None:
                stamps[info.step] = time.perf_counter()

            config = PretrainConfig(steps=steps, batch_size=batch, checkpoint_every=0, device=device)
            pretrain(build_model("tiny"), chips, config, callback=seen, ranks=compute.ranks)
        else:
            model = landcover_model(model_config("tiny"), 5)
            config_ft = FinetuneConfig(steps=steps, batch_size=batch, log_every=0)
            finetune(
                model,
                _Labelled(chips, 5),
                config_ft,
                policy=compute.policy,
                ranks=compute.ranks,
                on_step=lambda step, _: stamps.__setitem__(step + 1, time.perf_counter()),
            )
    finally:
        shutdown_distributed()
    if not compute.ranks.is_main:
        return {}
    seconds = stamps[steps] - stamps[warmup]
    return {"samples_per_s": (steps - warmup) * batch / seconds, "seconds": seconds}


def _run(kind: str, processes: int, args: argparse.Namespace) -> dict[str, float]:
    here = str(Path(__file__).resolve())
    tail = [here, "--worker", kind, "--pretrain-steps", str(args.pretrain_steps), "--finetune-steps",
            str(args.finetune_steps), "--batch", str(args.batch), "--warmup", str(args.warmup), "--device",
            args.device, "--chip-m", str(args.chip_m)]  # fmt: skip
    threads = str(max(1, (os.cpu_count() or 2) // processes))
    env = {**os.environ, "OMP_NUM_THREADS": threads, "PYTHONPATH": str(Path(here).parents[1])}
    if processes == 1:
        command = [sys.executable, *tail]
    else:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(processes),
                   "--master-addr", "127.0.0.1", "--master-port", str(port), *tail]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{kind} with {processes} process(es) failed:\n{done.stderr[-3000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return dict(json.loads(lines[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrain-steps", type=int, default=100)
    parser.add_argument("--finetune-steps", type=int, default=14)
    parser.add_argument("--chip-m", type=float, default=80.0)
    parser.add_argument("--batch", type=int, default=8, help="global batch (split over the processes)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = worker(args.worker, args)
        if result:
            print(json.dumps(result))
        return
    report: dict[str, Any] = {"batch": args.batch, "chip_m": args.chip_m, "cpus": os.cpu_count()}
    print(f"{'run':<10} {'1 process':>14} {f'{args.processes} processes':>14} {'ratio':>7}")
    for kind in ("pretrain", "finetune"):
        started = time.perf_counter()
        one = _run(kind, 1, args)
        many = _run(kind, args.processes, args)
        ratio = many["samples_per_s"] / one["samples_per_s"]
        cost = time.perf_counter() - started
        report[kind] = {"one": one, "many": many, "ratio": round(ratio, 3), "wall_s": round(cost, 1)}
        print(f"{kind:<10} {one['samples_per_s']:>10.2f} s/s {many['samples_per_s']:>10.2f} s/s {ratio:>7.2f}"
              f"   ({cost:.0f} s for both runs)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
