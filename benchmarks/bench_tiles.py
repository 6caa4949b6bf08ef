"""What tiling costs: time per LR pixel against the tile size, for torch and OpenVINO.

``Upscaler(tile=T)`` cuts the image into T x T cores, each widened by the overlap R (the
model's receptive radius, 36 LR pixels for EDSR-baseline) and run on its own. Two costs come
with it: the overlap is computed and thrown away (known exactly: the grid says how many LR
pixels are computed), and each tile call has a fixed cost (slicing, a new shape for the
runtime, smaller matrix products). This script separates them on a photo-sized input:

* ``computed``: LR pixels the network runs on (cores + overlap), ``CPU s/Mpx``: CPU seconds per
  million *computed* pixels (overlap recomputation aside: what a pixel costs at that tile size);
* ``per tile``: the fixed cost of a tile, ``(time - computed * rate of the whole image) / tiles``;
* ``vs whole``: the run's time over the untiled run's (what a user sees).

:func:`edsr_lite.memory_budget.auto_tile` chooses its tile size from these numbers (its docstring
says which). Each row: the best of N tiled upscales of the same image, after a warm-up call
(OpenVINO prepares each new input shape on first use), in CPU seconds (all the process's
threads: on a machine shared with other work, wall time measures the others; on an idle one
it is about the CPU time over the thread count). Read the ratios.

    python benchmarks/bench_tiles.py --quick   # 500 x 375, x2, three tile sizes
    python benchmarks/bench_tiles.py           # 1000 x 750, x2 and x4, whole, 512..64
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from edsr_lite.backends import openvino_available
from edsr_lite.core.forward import computed_pixels, receptive_radius, tile_grid
from edsr_lite.infer import Upscaler
from edsr_lite.weights import load_model

TILES = [0, 512, 256, 128, 64]  # 0: the whole image at once, measured first


def best_time(upscaler: Upscaler, lr: np.ndarray, scale: int, repeats: int) -> float:
    """CPU seconds of the fastest of ``repeats`` upscales, after one warm-up upscale for OpenVINO
    (which prepares each new input shape on its first use; torch has nothing to prepare)."""
    if upscaler.options.backend == "openvino":
        upscaler(lr, scale)
    times = []
    for _ in range(repeats):
        start = time.process_time()
        upscaler(lr, scale)
        times.append(time.process_time() - start)
    return min(times)


def tile_table(backend: str, scale: int, size: tuple[int, int], tiles, repeats: int) -> None:
    """One table, a row per tile size, for ``edsr_baseline_x<scale>`` run by ``backend``."""
    model = load_model(f"edsr_baseline_x{scale}")
    w, h = size
    lr = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    overlap = receptive_radius(model, scale)
    print(f"\n### {backend}, edsr_baseline x{scale}, {w}x{h} LR, overlap {overlap}, ", end="")
    print(f"best of {repeats}\n")
    print("| tile | tiles | computed | CPU time | CPU s/Mpx | per tile | vs whole |")
    print("|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    Upscaler(model, tile=0, backend=backend)(lr[:64, :64], scale)  # first-call set-up
    whole_time = whole_rate = None
    for tile in tiles:  # the whole image first: the other rows are compared with it
        count = len(tile_grid(h, w, tile or max(h, w), overlap))
        pixels = computed_pixels(h, w, tile, overlap)
        seconds = best_time(Upscaler(model, tile=tile, backend=backend), lr, scale, repeats)
        if whole_time is None:
            whole_time, whole_rate = seconds, seconds / pixels
        per_tile = (seconds - pixels * whole_rate) / count if count > 1 else 0.0
        print(
            f"| {tile or 'whole'} | {count} | {pixels / 1e6:.2f} Mpx | {seconds:.2f} s "
            f"| {seconds / pixels * 1e6:.2f} | {per_tile * 1000:+.0f} ms "
            f"| {seconds / whole_time:.2f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 x 375, x2, 3 tile sizes")
    parser.add_argument("--repeats", type=int, default=1, help="best of N (default 1)")
    args = parser.parse_args()
    quick = ((500, 375), [2], [0, 256, 64])
    size, scales, tiles = quick if args.quick else ((1000, 750), [2, 4], TILES)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for backend in ["torch"] + (["openvino"] if openvino_available() else []):
        for scale in scales:
            tile_table(backend, scale, size, tiles, args.repeats)


if __name__ == "__main__":
    main()
