"""Model FLOPs per km2 of map, per preset and resolution: the compute side of the continental plan.

Counts the floating-point operations of one sliding-window forward pass with torch's ``FlopCounterMode``
(matrix products and convolutions: what a GPU's tensor cores execute) for the tiny, small and base presets on
the windows a tile job maps with (the demo's checkpoint settings: 320 m windows with 80 m overlap, 40 m
tokens; 10 m: S2 10 bands x 3 dates + S1 VV/VH x 3 as in :mod:`bench_predict`; 1 m: aerial 4 bands + DSM 2
bands), then divides by the ground a window adds to the map (the window step squared). Each preset keeps
tiny's cell size (its ``token_m`` is ``patch_px`` x 10 m), so the presets differ in width and depth only.
It also times the forward pass on this CPU (``--threads`` torch threads) to give the achieved GFLOP/s.

    python benchmarks/bench_flops.py [--presets tiny,small,base] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import torch
from bench_predict import CASES, NUM_CLASSES, build_cube
from torch.utils.flop_counter import FlopCounterMode

from eofusion.cube import open_cube
from eofusion.grid import ChipWindow
from eofusion.models import collate_samples, model_config
from eofusion.models.encoder import SpectralEncoder
from eofusion.models.heads import SegmentationModel
from eofusion.models.inputs import read_sample

# bench_predict's 1 m case uses 64 m windows (8 m tokens); a job maps with its checkpoint's 320 m windows.
JOB_CASES = {"10m": CASES["10m"], "1m": replace(CASES["1m"], chip_m=320.0, overlap_m=80.0, token_m=40.0)}


def measure(case_name: str, preset: str, work: Path, batch: int) -> dict[str, float]:
    case = JOB_CASES[case_name]
    store = work / f"{case_name}.zarr"
    if not store.exists():
        build_cube(case, case.chip_m * 2, store, seed=0)
    cell = case.token_m / model_config("tiny").patch_px
    config = model_config(preset, token_m=cell * model_config(preset).patch_px)
    torch.manual_seed(0)
    model = SegmentationModel(SpectralEncoder(config), NUM_CLASSES).eval()
    cube = open_cube(store)
    left, _, _, top = cube.bounds
    inputs = collate_samples([read_sample(cube, ChipWindow(left, top, case.chip_m))] * batch)
    n = round(case.chip_m / case.res_m)
    with torch.no_grad():
        model(inputs, (n, n))  # warm-up
        counter = FlopCounterMode(display=False)
        with counter:
            model(inputs, (n, n))
        t0 = time.perf_counter()
        model(inputs, (n, n))
        seconds = time.perf_counter() - t0
    flops_window = counter.get_total_flops() / batch
    step_km = (case.chip_m - case.overlap_m) / 1000.0
    windows_per_km2 = 1.0 / step_km**2
    return {
        "parameters_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "gflop_per_window": flops_window / 1e9,
        "windows_per_km2": windows_per_km2,
        "tflop_per_km2": flops_window * windows_per_km2 / 1e12,
        "cpu_gflops_achieved": counter.get_total_flops() / seconds / 1e9,
        "cpu_s_per_km2": seconds / batch * windows_per_km2,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--presets", default="tiny,small,base")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory(prefix="eofusion-flops-") as tmp:
        for case_name in ("10m", "1m"):
            for preset in args.presets.split(","):
                r = {"resolution": case_name, "preset": preset, **measure(case_name, preset, Path(tmp), args.batch)}
                rows.append(r)
                print(
                    f"{case_name:>4} {preset:6s} {r['parameters_m']:7.1f} M params  {r['gflop_per_window']:8.2f} "
                    f"GFLOP/window  {r['windows_per_km2']:6.1f} windows/km2  {r['tflop_per_km2']:8.3f} TFLOP/km2  "
                    f"CPU ({args.threads} thread) {r['cpu_gflops_achieved']:6.1f} GFLOP/s = "
                    f"{r['cpu_s_per_km2']:8.2f} s/km2 forward",
                    flush=True,
                )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
