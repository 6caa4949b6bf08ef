"""Inference speed and memory: the upscale() wrapper against a bare model(x) call.

Prints, for each preset and scale on 256x256 and 512x512 LR inputs (random weights: speed does
not depend on them), the milliseconds per LR megapixel of

* a bare ``model(x)`` call (NCHW, the PyTorch default) — the baseline,
* the same with channels_last memory,
* ``Upscaler`` (what ``upscale()`` and the CLI use: channels_last, one tile when it fits),

and the ratios to the baseline measured in the same run. Then the peak memory (RSS) of
upscaling a 2000x2000 LR image x4 with edsr_baseline, tiled under its budget, and an untiled
run on the largest size that fits, each in a fresh process.

    python benchmarks/bench_infer.py            # the teaching and baseline presets
    python benchmarks/bench_infer.py --full     # also the 43 M-parameter EDSR (slow on a CPU)
    python benchmarks/bench_infer.py --only memory
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import torch

from edsr_lite.infer import Upscaler, bytes_per_lr_pixel
from edsr_lite.memory import peak_rss_mb, reset_peak_rss
from edsr_lite.models import build


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


def peak_rss_child(size: int, tile: str) -> None:
    """Run in a child process: upscale a size x size LR image x4; print JSON with the peak RSS."""
    torch.manual_seed(0)
    model = build("edsr_baseline", 4)
    x = torch.rand(1, 3, size, size) * 255
    reset_peak_rss()  # a child starts with its parent's peak otherwise (see peak_rss_mb)
    before = peak_rss_mb()
    budget = 1024
    upscaler = Upscaler(model, tile=0 if tile == "none" else None, max_memory_mb=budget)
    t0 = time.perf_counter()
    upscaler.upscale_tensor(x)
    seconds = time.perf_counter() - t0
    peak = peak_rss_mb()
    output_mb = 3 * (4 * size) ** 2 / 2**20  # the uint8 result itself
    print(
        json.dumps(
            {
                "size": size,
                "tiled": tile != "none",
                "budget_mb": budget,
                "seconds": seconds,
                "peak_rss_mb": peak,
                "start_rss_mb": before,
                "growth_mb": peak - before,
                "output_mb": output_mb,
                "estimate_untiled_mb": bytes_per_lr_pixel(model, 4) * size * size / 2**20,
            }
        )
    )


def peak_rss(size: int, tile: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(size), tile],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="include the wide 32x256 EDSR")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", choices=("speed", "memory"), help="one of the two parts")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        peak_rss_child(int(args.child[0]), args.child[1])
        return

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


def memory_table() -> None:
    print("\npeak memory, edsr_baseline x4 (each run in a fresh process):")
    for size, tile in ((2000, "auto"), (600, "none"), (600, "auto")):
        r = peak_rss(size, tile)
        kind = f"tiled, budget {r['budget_mb']} MB" if r["tiled"] else "untiled"
        print(
            f"  {size}x{size} LR {kind:<22} peak RSS {r['peak_rss_mb']:7.0f} MB "
            f"(growth {r['growth_mb']:6.0f} MB, of which output image {r['output_mb']:.0f} MB; "
            f"untiled estimate {r['estimate_untiled_mb']:.0f} MB) in {r['seconds']:.1f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
