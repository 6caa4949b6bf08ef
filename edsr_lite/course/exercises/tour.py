"""The checks of the exercises in ``notebooks/00_tour.ipynb``.

==============================  ==============================================
:func:`check_bicubic_baseline`  make LR from HR, upscale it back with bicubic
:func:`check_error_map`         where an upscaling is wrong: its Y error map
==============================  ==============================================

The lesson's code: :mod:`edsr_lite.course.tour`. How a check runs and reports:
:mod:`edsr_lite.course.exercises.checking`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edsr_lite.core.degradation import imresize, modcrop
from edsr_lite.core.metrics import rgb_to_y
from edsr_lite.course.exercises.checking import (
    ExerciseError,
    benchmark_pair,
    diagnose,
    full_range_y,
    isolated,
    name_of,
    passed,
    run_answer,
)

#: The checks, in the order the notebook's exercises call them.
__all__ = ["check_bicubic_baseline", "check_error_map"]


def _photo_like(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """An H x W x 3 uint8 image with smooth areas and sharp edges (blocks plus fine noise)."""
    coarse = rng.uniform(20, 235, (h // 5 + 2, w // 5 + 2, 3))
    blocks = np.kron(coarse, np.ones((5, 5, 1)))[:h, :w]
    return np.clip(np.round(blocks + rng.normal(0, 6, (h, w, 3))), 0, 255).astype(np.uint8)


@isolated
def check_bicubic_baseline(fn: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]) -> None:
    """Check ``fn(hr, scale) -> (lr, sr)``: the benchmark's LR image and its bicubic upscaling.

    ``hr``: H x W x 3 uint8 image, H and W not necessarily multiples of ``scale``. Crop it to
    multiples of ``scale`` (:func:`edsr_lite.modcrop`), shrink it with MATLAB's bicubic
    (:func:`edsr_lite.imresize`, ``1 / scale``) into ``lr``, and enlarge ``lr`` back by
    ``scale`` with the same function into ``sr``. Both uint8; ``sr`` has the cropped HR's shape.
    Reference: :func:`edsr_lite.course.tour.sr_versions`. Three images, x2 to x4, two of them with
    sides that are not multiples of the scale.
    """
    rng = np.random.default_rng(0)
    cases = [((33, 27), 2), ((31, 40), 3), ((36, 44), 4)]
    for (h, w), s in cases:
        hr = _photo_like(rng, h, w)
        cropped = modcrop(hr, s)
        lr_ref = imresize(cropped, 1 / s)
        sr_ref = imresize(lr_ref, s)
        call = f"{name_of(fn)}(hr of shape {hr.shape}, {s})"
        out = run_answer(fn, hr.copy(), s, what=call)
        if not (isinstance(out, tuple | list) and len(out) == 2):
            raise ExerciseError(f"{call} must return two images, (lr, sr); it returned {out!r:.80}")
        lr, sr = (np.asarray(a) for a in out)
        if lr.shape == sr_ref.shape and sr.shape == lr_ref.shape:
            raise ExerciseError(f"{call}: return (lr, sr) in that order, the small image first")
        for what, got, ref in (("lr", lr, lr_ref), ("sr", sr, sr_ref)):
            if got.shape != ref.shape:
                hint = (
                    "mod-crop HR first (modcrop(hr, scale)): imresize rounds a side that is not "
                    "a multiple of the scale up"
                    if got.shape[:2] != ref.shape[:2] and (h % s or w % s)
                    else f"{what} must be {ref.shape}"
                )
                raise ExerciseError(
                    f"{call}: {what} has shape {got.shape}, expected {ref.shape}: {hint}"
                )
            if got.dtype != np.uint8:
                raise ExerciseError(
                    f"{call}: {what} is {got.dtype}; return uint8 images (imresize keeps uint8 "
                    "input uint8, rounded as MATLAB does)"
                )
        if not np.array_equal(lr, lr_ref):
            mistake = diagnose(
                lr,
                [
                    (
                        "lr takes every scale-th pixel of HR: that aliases (thin lines break "
                        "up); the benchmarks shrink with MATLAB's bicubic, imresize(hr, 1 / scale)",
                        cropped[::s, ::s],
                    ),
                ],
                lambda a, b: a.shape == b.shape and np.array_equal(a, b),
            )
            diff = int(np.abs(lr.astype(int) - lr_ref).max())
            raise ExerciseError(
                (
                    mistake
                    or f"lr differs from MATLAB's bicubic downscale by up to {diff} grey "
                    "levels: shrink the mod-cropped HR with el.imresize(hr, 1 / scale)"
                )
                + f" ({call})"
            )
        if not np.array_equal(sr, sr_ref):
            mistake = diagnose(
                sr,
                [
                    (
                        "sr repeats each LR pixel (nearest neighbour): upscale with bicubic, "
                        "imresize(lr, scale)",
                        np.repeat(np.repeat(lr_ref, s, axis=0), s, axis=1),
                    ),
                    ("sr is the cropped HR itself: upscale lr, the network's input", cropped),
                ],
                lambda a, b: a.shape == b.shape and np.array_equal(a, b),
            )
            diff = int(np.abs(sr.astype(int) - sr_ref).max())
            raise ExerciseError(
                (
                    mistake
                    or f"sr differs from MATLAB's bicubic upscale of lr by up to {diff} "
                    "grey levels: enlarge lr with el.imresize(lr, scale)"
                )
                + f" ({call})"
            )
    passed("check_bicubic_baseline", len(cases))


@isolated
def check_error_map(fn: Callable[[np.ndarray, np.ndarray, int], np.ndarray]) -> None:
    """Check ``fn(sr, hr, scale) -> map``: where an upscaling is wrong, pixel by pixel.

    ``sr``, ``hr``: H x W x 3 uint8 images. Return the absolute difference of their Y channels
    (:func:`edsr_lite.core.metrics.rgb_to_y`, float), without ``scale`` pixels on each border: an
    (H - 2 scale) x (W - 2 scale) float array of grey levels >= 0, whose mean square is the
    MSE that PSNR uses. Reference: :func:`edsr_lite.course.tour.error_maps`. Three image pairs,
    x2 to x4, whose errors go both ways (SR brighter and darker than HR).
    """
    rng = np.random.default_rng(1)
    cases = [(30, 24, 2), (33, 27, 3), (36, 44, 4)]
    for h, w, s in cases:
        sr, hr = benchmark_pair(rng, h, w, s)
        inner = (slice(s, -s), slice(s, -s))
        y_sr, y_hr = rgb_to_y(sr), rgb_to_y(hr)
        expected = np.abs(y_sr - y_hr)[inner]
        call = f"{name_of(fn)}(sr, hr, {s}) on {h} x {w} images"
        got = np.asarray(run_answer(fn, sr.copy(), hr.copy(), s, what=call), dtype=np.float64)
        if got.shape == expected.shape and np.allclose(got, expected, atol=1e-6):
            continue
        if got.ndim == 3:
            raise ExerciseError(
                f"{call} returned {got.shape}: one value per pixel, on the Y channel "
                "(rgb_to_y of each image, then their difference), not per RGB channel"
            )
        if got.shape == (h, w):
            raise ExerciseError(
                f"{call} returned the whole {h} x {w} map: shave {s} pixels from each border "
                "(map[s:-s, s:-s]), the part PSNR scores"
            )
        if got.shape != expected.shape:
            raise ExerciseError(f"{call} returned shape {got.shape}, expected {expected.shape}")
        wrapped = (sr - hr).astype(np.uint8)  # what uint8 arithmetic gives: 3 - 5 = 254
        mistake = diagnose(
            got,
            [
                ("take the absolute value: SR is wrong when darker too", (y_sr - y_hr)[inner]),
                ("take the absolute value: SR is wrong when darker too", (y_hr - y_sr)[inner]),
                (
                    "subtracted the uint8 images: 3 - 5 wraps around to 254 in uint8; convert "
                    "to Y (float) first, then subtract",
                    np.abs(rgb_to_y(wrapped) - 16)[inner],
                ),
                (
                    "subtracted the uint8 images: 3 - 5 wraps around to 254 in uint8; convert "
                    "to Y (float) first, then subtract",
                    rgb_to_y(wrapped)[inner],
                ),
                ("this is the squared error: the map holds |Y_sr - Y_hr|", expected**2),
                (
                    "rounded Y to integers: keep rgb_to_y's float values",
                    np.abs(np.round(y_sr) - np.round(y_hr))[inner],
                ),
                (
                    "used the full-range Y (0.299 R + 0.587 G + 0.114 B): use metrics.rgb_to_y, "
                    "MATLAB's rgb2ycbcr",
                    np.abs(full_range_y(sr) - full_range_y(hr))[inner],
                ),
            ],
            lambda a, b: a.shape == b.shape and np.allclose(a, b, atol=1e-6),
        )
        worst = float(np.abs(got - expected).max())
        raise ExerciseError(
            (mistake or f"wrong values (up to {worst:.2f} grey levels off)")
            + f": {call}; expected |rgb_to_y(sr) - rgb_to_y(hr)| with {s} pixels shaved"
        )
    passed("check_error_map", len(cases))
