"""Land-cover targets on the demo world (issue: mapping / fine-tuning), measured in one run.

Trains, with the same chips and budget: eofusion's fused model (all four sensors, sensor dropout), one
eofusion model per single sensor, and the U-Net and DOFA baselines; then checks

1. fused mIoU > the best single-sensor model's mIoU,
2. with any one sensor missing, the fused model's mIoU drops by <= 10 points,
3. eofusion's mIoU >= the U-Net's (and prints DOFA's and the random forest's beside it).

    python benchmarks/bench_mapping.py --out bench-output/mapping [--steps 150] [--seeds 0]

The demo world and its cube come from `eofusion demo`'s first stages (reused when already under --out).
Training is not deterministic across CPU thread counts: use --seeds 0,1,2 to see the spread.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from eofusion.pipeline.demo import DemoConfig, prepare_world, training_cube
from eofusion.pipeline.train_spec import TrainSpec, train_spec_from_dict
from eofusion.pipeline.training_run import run_training

SENSORS = ("s2", "s1", "aerial", "dsm")
NAMES = {"s2": "S2", "s1": "S1", "aerial": "aerial", "dsm": "DSM"}
LEAVE_ONE_OUT = {f"all but {NAMES[s]}": [x for x in SENSORS if x != s] for s in SENSORS}


def _spec(
    paths: tuple[Path, Path, Path], name: str, sensors: list[str], args: argparse.Namespace, *, seed: int,
    baselines: list[str],
) -> TrainSpec:  # fmt: skip
    out, world_root, cube = paths
    return train_spec_from_dict(
        {
            "name": name,
            "seed": seed,
            "data": {"cube": str(cube), "sensors": sensors},
            "labels": {
                "raster": str(world_root / "catalog" / "landcover" / "*" / "landcover.tif"),
                "classes_file": str(world_root / "truth" / "classes.json"),
                "classes_key": "landcover",
                "resolution_m": 2,
            },
            "chips": {"size_m": 160, "train_count": 512},
            "model": {"pretrain_steps": args.pretrain_steps},
            "finetune": {"steps": args.steps, "batch_size": 8, "sensor_dropout": args.dropout},
            "baselines": baselines,
            "subsets": {
                "all": list(SENSORS),
                **{f"all but {NAMES[s]}": [x for x in SENSORS if x != s] for s in SENSORS},
            },
            "outputs": {"dir": str(out / f"seed{seed}" / name)},
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench-output/mapping"))
    parser.add_argument("--steps", type=int, default=150, help="fine-tuning steps of every model")
    parser.add_argument("--pretrain-steps", type=int, default=60)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--baselines", default="unet,dofa,random_forest")
    args = parser.parse_args()

    def say(stage: str, message: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f}s] {stage}: {message}", flush=True)

    started = time.perf_counter()
    demo = DemoConfig(out=args.out.absolute())
    world = prepare_world(demo, say)
    cube = training_cube(demo, world, say)
    rows: list[dict[str, Any]] = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        baselines = [b for b in args.baselines.split(",") if b]
        paths = (demo.out, world.root, cube)
        fused = run_training(_spec(paths, "fused", list(SENSORS), args, seed=seed, baselines=baselines), say)
        single = {
            s: run_training(_spec(paths, f"only-{s}", [s], args, seed=seed, baselines=[]), say)["comparison"][0]
            for s in SENSORS
        }
        rows.append(_targets(seed, fused, single))
    print("\n" + json.dumps(rows, indent=2))
    (demo.out / "bench-mapping.json").write_text(json.dumps(rows, indent=2))


def _targets(seed: int, fused: dict[str, Any], single: dict[str, dict[str, Any]]) -> dict[str, Any]:
    by_model = {r["model"]: r for r in fused["comparison"]}
    full = by_model["eofusion"]["mIoU"]
    subsets = {r["sensors"]: r["mIoU"] for r in fused["subsets"]}
    best_single = max(single.items(), key=lambda kv: kv[1]["mIoU"])
    drops = {name: round(full - value, 2) for name, value in subsets.items() if name.startswith("all but")}
    print(f"\n=== seed {seed}: mIoU (held-out east part of the demo world, labels at 2 m) ===")
    for name, row in by_model.items():
        print(f"  {name:<16} OA {row['OA']:6.1f}  mIoU {row['mIoU']:6.1f}  ({row.get('train s', '')} s)")
    for sensor, row in single.items():
        print(f"  only {NAMES[sensor]:<11} OA {row['OA']:6.1f}  mIoU {row['mIoU']:6.1f}")
    for name, drop in drops.items():
        print(f"  fused, {name:<14} mIoU {subsets[name]:6.1f}  (drop {drop:+.1f})")
    unet = by_model.get("unet", {}).get("mIoU")
    best_name, best_miou = NAMES[best_single[0]], best_single[1]["mIoU"]
    checks = {
        "fused > best single-sensor model": (full, f"{best_name} {best_miou}", full > best_miou),
        "max drop with one sensor missing <= 10": (max(drops.values()), 10, max(drops.values()) <= 10),
        "eofusion >= U-Net": (full, unet, unet is not None and full >= unet),
    }  # fmt: skip
    for name, (got, ref, ok) in checks.items():
        print(f"  [{'met' if ok else 'MISSED'}] {name}: {got} vs {ref}")
    return {
        "seed": seed,
        "models": by_model,
        "single_sensor": single,
        "drops": drops,
        "targets": {k: v[2] for k, v in checks.items()},
    }


if __name__ == "__main__":
    main()
