"""Inference speed and memory: the upscale() wrapper against a bare model(x) call.

Prints, for each preset and scale on 256x256 and 512x512 LR inputs (random weights: speed does
not depend on them), the milliseconds per LR megapixel of

* a bare ``model(x)`` call (NCHW, the PyTorch default) — the baseline,
* the same with channels_last memory,
* ``Upscaler`` (what ``upscale()`` and the CLI use: channels_last, one tile when it fits),

and the ratios to the baseline measured in the same run. Then the peak memory (RSS) of
upscaling a 2000x2000 LR image x4 with edsr_baseline, tiled under a 1 GB budget, and a 600x600
one untiled and tiled, each in a fresh process (as notebook 05 measures it).

    python benchmarks/bench_infer.py            # the teaching and baseline presets
    python benchmarks/bench_infer.py --full     # also the 43 M-parameter EDSR (slow on a CPU)
    python benchmarks/bench_infer.py --only memory
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from edsr_lite.core.models import build
from edsr_lite.course.memory import MiB, measure_upscale_memory
from edsr_lite.infer import Upscaler
from edsr_lite.memory_budget import bytes_per_lr_pixel


def best_time(fn, repeats: int) -> float:
    """The fastest of ``repeats`` calls, in seconds (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def speed_row(preset: str, scale: int, size: int, repeats: int) -> dict:
    torch.manual_seed(0)
    model = build(preset, scale).eval()
    x = torch.rand(1, 3, size, size) * 255
    mpix = size * size / 1e6
    with torch.inference_mode():
        bare = best_time(lambda: model(x), repeats)
        cl_model = build(preset, scale).eval().to(memory_format=torch.channels_last)
        x_cl = x.contiguous(memory_format=torch.channels_last)
        channels_last = best_time(lambda: cl_model(x_cl), repeats)
    upscaler = Upscaler(build(preset, scale), max_memory_mb=16384)
    wrapped = best_time(lambda: upscaler.upscale_tensor(x), repeats)
    return {
        "preset": preset,
        "scale": scale,
        "size": size,
        "bare_ms_per_mpix": 1000 * bare / mpix,
        "channels_last_ratio": channels_last / bare,
        "upscale_ratio": wrapped / bare,
        "upscale_vs_channels_last": wrapped / channels_last,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="include the wide 32x256 EDSR")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", choices=("speed", "memory"), help="one of the two parts")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if args.only != "memory":
        speed_table(args)
    if args.only != "speed":
        memory_table()


def speed_table(args: argparse.Namespace) -> None:
    presets = ["edsr_tiny", "edsr_baseline", "mdsr_baseline"] + (["edsr"] if args.full else [])
    header = f"{'preset':<14} {'x':>2} {'LR':>4} {'bare ms/MP':>11} {'chan-last':>10} "
    print(header + f"{'upscale()':>10} {'upscale/chan-last':>18}")
    for preset in presets:
        for scale in (2, 4):
            for size in (256, 512):
                r = speed_row(preset, scale, size, args.repeats)
                print(
                    f"{preset:<14} {scale:>2} {size:>4} {r['bare_ms_per_mpix']:>11.0f} "
                    f"{r['channels_last_ratio']:>10.2f} {r['upscale_ratio']:>10.2f} "
                    f"{r['upscale_vs_channels_last']:>18.2f}",
                    flush=True,
                )
    print("\nratios are times relative to the bare NCHW model(x) call in the same run")


def memory_table(budget_mb: float = 1024) -> None:
    """Peak memory of edsr_baseline x4 upscales, each in a fresh process
    (:func:`edsr_lite.course.memory.measure_upscale_memory`, without the profiler's second pass)."""
    print(f"\npeak memory, edsr_baseline x4, tile budget {budget_mb:.0f} MB (fresh processes):")
    torch.manual_seed(0)
    model = build("edsr_baseline", 4).eval()
    rng = np.random.default_rng(0)
    for size, tile in ((2000, None), (600, 0), (600, None)):
        image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        r = measure_upscale_memory(model, image, tile, budget_mb, profile=False)
        untiled_mb = bytes_per_lr_pixel(model, 4) * size * size / MiB
        print(
            f"  {size}x{size} LR, {r.label:<15} {r.n_tiles:>3} tiles: peak RSS growth "
            f"{r.peak_rss_mb:6.0f} MB (output image {r.output.nbytes / MiB:.0f} MB; estimate "
            f"{r.estimate_mb:.0f} MB for the largest tile, {untiled_mb:.0f} MB untiled) "
            f"in {r.seconds:.1f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
