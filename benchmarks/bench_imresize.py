"""Time ``edsr_lite.core.degradation`` against Pillow's bicubic resize on a DIV2K-sized image.

Run from the repository root:

    python benchmarks/bench_imresize.py [--repeats N] [--image PATH]

The test image is a real photograph (Set5 "baby", 512 x 512) mirror-tiled up to 2040 x 1356
(width x height, the size of a DIV2K HR image), RGB uint8. Each case is timed ``--repeats``
times after one warm-up call and the median is printed, in milliseconds, for both resizers on
the same image and output size, with the ratio imresize / Pillow. The two do not give the same
pixels (see the module docstring of ``edsr_lite.core.degradation``); this only compares speed.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from edsr_lite.core.degradation import imresize  # noqa: E402

DIV2K_HEIGHT, DIV2K_WIDTH = 1356, 2040
DEFAULT_IMAGES = [
    REPO_ROOT / "data" / "Set5" / "baby.png",
    Path("/work/shared/data/Set5/baby.png"),
]
SCALES = [1 / 2, 1 / 3, 1 / 4, 2.0]


def load_test_image(path: Path | None) -> np.ndarray:
    """A real RGB uint8 image, mirror-tiled to DIV2K size: ``(1356, 2040, 3)``."""
    candidates = [path] if path is not None else DEFAULT_IMAGES
    for candidate in candidates:
        if candidate.is_file():
            small = np.asarray(Image.open(candidate).convert("RGB"))
            break
    else:
        raise FileNotFoundError(f"no test image found, tried {[str(c) for c in candidates]}")
    pad_h = max(DIV2K_HEIGHT - small.shape[0], 0)
    pad_w = max(DIV2K_WIDTH - small.shape[1], 0)
    tiled = np.pad(small, ((0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")
    return np.ascontiguousarray(tiled[:DIV2K_HEIGHT, :DIV2K_WIDTH])


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn()`` in milliseconds, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per case")
    parser.add_argument("--image", type=Path, default=None, help="image to tile (default: baby)")
    args = parser.parse_args()

    img = load_test_image(args.image)
    pil_img = Image.fromarray(img)
    height, width = img.shape[:2]
    print(f"input: {width} x {height} RGB uint8, median of {args.repeats} runs")
    print(f"{'case':>6} {'output (W x H)':>15} {'imresize ms':>12} {'Pillow ms':>10} {'ratio':>6}")

    for scale in SCALES:
        out_w, out_h = math.ceil(scale * width), math.ceil(scale * height)
        ours = median_ms(lambda s=scale: imresize(img, s), args.repeats)
        pillow = median_ms(
            lambda w=out_w, h=out_h: pil_img.resize((w, h), Image.BICUBIC), args.repeats
        )
        case = f"x{scale:g}" if scale >= 1 else f"1/{round(1 / scale)}"
        size = f"{out_w} x {out_h}"
        print(f"{case:>6} {size:>15} {ours:12.1f} {pillow:10.1f} {ours / pillow:6.2f}")


if __name__ == "__main__":
    main()
