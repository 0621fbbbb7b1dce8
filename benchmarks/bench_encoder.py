"""Spectral encoder vs a plain timm ViT of the same width, depth and token count; cost vs bands and sensors.

Timing: the two models under comparison run ALTERNATELY in one process (inference mode, after a
warm-up), and each round's time ratio is recorded; the median ratio is reported. Machines shared with
other jobs slow both sides of a round alike, which absolute numbers from separate runs do not survive.
Peak memory: each model runs in a fresh process (CUDA: max allocated; CPU: growth of the process's peak
RSS over the resident model and inputs during one forward pass).

    python benchmarks/bench_encoder.py                       # small preset, 14 x 14 tokens, batch 4
    python benchmarks/bench_encoder.py --preset tiny --side 8 --batch 8 --rounds 20
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

REFERENCE: dict[str, Any] = {"sensors": ["s2"], "s2_bands": 10}
SCALING_CASES: list[dict[str, Any]] = [
    {"sensors": ["s2"], "s2_bands": 1},
    {"sensors": ["s2"], "s2_bands": 4},
    {"sensors": ["s2"], "s2_bands": 12},
    {"sensors": ["s2", "s1"]},
    {"sensors": ["s2", "s1", "dsm"]},
    {"sensors": ["s2", "s1", "dsm", "aerial"]},
    {"sensors": ["s2", "s1"], "dates": 6},
]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def _label(case: dict[str, Any]) -> str:
    return "+".join(case["sensors"]) + f" s2_bands={case.get('s2_bands', 10)} dates={case.get('dates', 1)}"


def _runner(case: dict[str, Any], preset: str, side: int, batch: int) -> Callable[[], Any]:
    """A no-argument forward pass of the timm baseline (``case["model"] == "timm"``) or of eofusion."""
    import torch

    from eofusion.models import SensorInput, model_config
    from eofusion.models.encoder import SpectralEncoder
    from eofusion.sensors import BandKind, get_sensor

    torch.manual_seed(0)
    cfg = model_config(preset)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if case.get("model") == "timm":
        from timm.models.vision_transformer import VisionTransformer

        q, chans = cfg.patch_px, case.get("s2_bands", 10)
        vit = VisionTransformer(
            img_size=side * q, patch_size=q, in_chans=chans, embed_dim=cfg.embed_dim, depth=cfg.depth,
            num_heads=cfg.num_heads, mlp_ratio=cfg.mlp_ratio, num_classes=0, global_pool="", class_token=False,
        ).to(device).eval()  # fmt: skip
        x = torch.randn(batch, chans, side * q, side * q, device=device)
        return lambda: vit.forward_features(x)
    encoder = SpectralEncoder(cfg).to(device).eval()
    s2 = [b for b in get_sensor("sentinel-2a").bands if b.kind is BandKind.REFLECTANCE and b.name != "B10"]
    specs = {
        "s2": (s2[: case.get("s2_bands", 10)], 10.0, "sentinel-2a"),
        "s1": (list(get_sensor("sentinel-1").bands[:2]), 10.0, "sentinel-1"),
        "dsm": (list(get_sensor("elevation").bands[:2]), 1.0, "elevation"),
        "aerial": (list(get_sensor("aerial-ign").bands), 0.5, "aerial-ign"),
    }
    inputs = {}
    for key in case["sensors"]:
        bands, gsd, sensor = specs[key]
        n = round(side * cfg.token_m / gsd)
        t = case.get("dates", 1) if key in ("s2", "s1") else 1
        item = SensorInput(torch.randn(batch, t, len(bands), n, n, device=device), tuple(bands), gsd, sensor)
        item.descriptors()  # loads pyrsr's SRF tables once, outside the measurements
        inputs[key] = item
    return lambda: encoder.forward_features(inputs)


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def alternate(a: Callable[[], Any], b: Callable[[], Any], rounds: int) -> dict[str, float]:
    """Time ``a`` and ``b`` alternately; median of per-round ``time_b / time_a`` and best times."""
    import torch

    ta, tb, ratios = [], [], []
    with torch.inference_mode():
        a(), b()  # warm-up
        for _ in range(rounds):
            t0 = time.perf_counter()
            a()
            _sync()
            t1 = time.perf_counter()
            b()
            _sync()
            t2 = time.perf_counter()
            ta.append(t1 - t0)
            tb.append(t2 - t1)
            ratios.append((t2 - t1) / (t1 - t0))
    return {"time_ratio": statistics.median(ratios), "best_a_s": min(ta), "best_b_s": min(tb)}


def _memory_worker(case: dict[str, Any], preset: str, side: int, batch: int, queue: Any) -> None:
    import torch

    run = _runner(case, preset, side, batch)
    before = _rss_mb()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    with torch.inference_mode():
        run()
    _sync()
    cuda = torch.cuda.is_available()
    queue.put(torch.cuda.max_memory_allocated() / 2**20 if cuda else max(0.0, _peak_rss_mb() - before))


def peak_memory_mb(case: dict[str, Any], preset: str, side: int, batch: int) -> float:
    """Peak working memory of one forward pass, measured in a fresh process."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_memory_worker, args=(case, preset, side, batch, queue))
    proc.start()
    value = float(queue.get())
    proc.join()
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--side", type=int, default=14, help="tokens per side (14 -> 196 tokens)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    p, s, bt = args.preset, args.side, args.batch
    timm_case = {"model": "timm"}
    ours = _runner(REFERENCE, p, s, bt)
    head = alternate(_runner(timm_case, p, s, bt), ours, args.rounds)
    throughput_ratio = 1.0 / head["time_ratio"]
    mem_timm, mem_ours = peak_memory_mb(timm_case, p, s, bt), peak_memory_mb(REFERENCE, p, s, bt)
    device = "cuda" if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads)"
    print(f"preset {p}, {s}x{s} tokens, batch {bt}, {args.rounds} alternating rounds, {device}")
    print(f"timm ViT (10-channel patch embed): best {bt / head['best_a_s']:8.2f} samples/s, peak {mem_timm:7.1f} MB")
    print(f"eofusion (S2, 10 bands)          : best {bt / head['best_b_s']:8.2f} samples/s, peak {mem_ours:7.1f} MB")
    print(f"throughput ratio eofusion / timm (median of rounds): {throughput_ratio:.3f}  (target >= 0.85)")
    print(f"peak memory ratio eofusion / timm: {mem_ours / max(mem_timm, 1e-6):.3f}")
    print("\ncost vs bands and sensors (forward time relative to S2 with 10 bands, median of rounds):")
    rows: list[dict[str, Any]] = [
        {"case": "timm", "peak_mb": mem_timm},
        {"case": _label(REFERENCE), "peak_mb": mem_ours, "throughput_ratio_vs_timm": throughput_ratio},
    ]
    for case in SCALING_CASES:
        res = alternate(ours, _runner(case, p, s, bt), args.rounds)
        mem = peak_memory_mb(case, p, s, bt)
        rows.append({"case": _label(case), "time_vs_reference": res["time_ratio"], "peak_mb": mem})
        print(f"  {_label(case):40s} {res['time_ratio']:6.2f}x time, peak {mem:7.1f} MB")
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
