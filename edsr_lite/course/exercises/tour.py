"""The checks of the exercises in ``notebooks/00_tour.ipynb``.

==============================  ==============================================
:func:`check_bicubic_baseline`  make LR from HR, upscale it back with bicubic
:func:`check_error_map`         where an upscaling is wrong: its Y error map
==============================  ==============================================

The lesson's code: :mod:`edsr_lite.course.tour`. How a check runs and reports:
:mod:`edsr_lite.course.exercises.checking`. The module holds only its checks: the references
they compare with are imported inside them, so they are not ``exercises.<name>``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edsr_lite.course.exercises import checking as _checking
from edsr_lite.course.exercises import guard as _guard

#: The checks, in the order the notebook's exercises call them.
__all__ = ["check_bicubic_baseline", "check_error_map"]


def _photo_like(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """An H x W x 3 uint8 image with smooth areas and sharp edges (blocks plus fine noise)."""
    coarse = rng.uniform(20, 235, (h // 5 + 2, w // 5 + 2, 3))
    blocks = np.kron(coarse, np.ones((5, 5, 1)))[:h, :w]
    return np.clip(np.round(blocks + rng.normal(0, 6, (h, w, 3))), 0, 255).astype(np.uint8)


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a, b)


@_checking.isolated
def check_bicubic_baseline(fn: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]) -> None:
    """Check ``fn(hr, scale) -> (lr, sr)``: the benchmark's LR image and its bicubic upscaling.

    ``hr``: H x W x 3 uint8 image, H and W not necessarily multiples of ``scale``. Crop it to
    multiples of ``scale`` (:func:`edsr_lite.modcrop`), shrink it with MATLAB's bicubic
    (:func:`edsr_lite.imresize`, ``1 / scale``) into ``lr``, and enlarge ``lr`` back by
    ``scale`` with the same function into ``sr``. Both uint8 (a tuple or a list of two);
    ``sr`` has the cropped HR's shape; ``hr`` is left unchanged. Reference:
    :func:`edsr_lite.course.tour.sr_versions`; the answer may use ``modcrop`` and ``imresize``
    (the task says so), not the package's other ways to make the pair. Three images, x2 to
    x4, two of them with sides that are not multiples of the scale.
    """
    from edsr_lite import evaluation, infer
    from edsr_lite.core import degradation
    from edsr_lite.course import tour

    _guard.refuse_references(
        fn,
        [tour, degradation.downscale, evaluation.bicubic_sr, infer.upscale, infer.Upscaler],
        what=_checking.name_of(fn),
        allowed=[degradation.imresize, degradation.modcrop],
    )
    rng = np.random.default_rng(0)
    cases = [((33, 27), 2), ((31, 40), 3), ((36, 44), 4)]
    for (h, w), s in cases:
        hr = _photo_like(rng, h, w)
        cropped = degradation.modcrop(hr, s)
        lr_ref = degradation.imresize(cropped, 1 / s)
        sr_ref = degradation.imresize(lr_ref, s)
        with _checking.mistakes("check_bicubic_baseline") as found:
            found.expected = (
                f"lr {lr_ref.shape} = imresize(modcrop(hr, {s}), 1 / {s}), "
                f"sr {sr_ref.shape} = imresize(lr, {s}), both uint8"
            )
            refs = (cropped, lr_ref, sr_ref)
            _baseline_mistakes(fn, hr, s, refs, degradation.imresize, found)
    _checking.passed("check_bicubic_baseline", len(cases))


def _baseline_mistakes(
    fn: Callable,
    hr: np.ndarray,
    s: int,
    refs: tuple[np.ndarray, np.ndarray, np.ndarray],
    imresize: Callable[[np.ndarray, float], np.ndarray],
    found: _checking.Mistakes,
) -> None:
    """Note every mistake of one case (a mistake that hides the others ends the list).
    ``refs``: the mod-cropped HR, the reference lr and sr."""
    cropped, lr_ref, sr_ref = refs
    given = hr.copy()
    call = f"{_checking.name_of(fn)}(hr of shape {hr.shape}, {s})"
    out = _checking.run_answer(fn, given, s, what=call)
    if not np.array_equal(given, hr):
        found.add(f"{call} changed hr in place: work on a copy (modcrop returns a view)")
    if not (isinstance(out, tuple | list) and len(out) == 2):
        found.add(f"{call} must return two images, (lr, sr); it returned {out!r:.80}")
        return
    lr, sr = (np.asarray(a) for a in out)
    if lr.shape == sr_ref.shape and sr.shape == lr_ref.shape:
        found.add(f"{call}: return (lr, sr) in that order, the small image first")
        return
    h, w = hr.shape[:2]
    for what, got, ref in (("lr", lr, lr_ref), ("sr", sr, sr_ref)):
        if got.shape != ref.shape:
            hint = (
                "mod-crop HR first (modcrop(hr, scale)): imresize rounds a side that is not "
                "a multiple of the scale up"
                if got.shape[:2] != ref.shape[:2] and (h % s or w % s)
                else f"{what} must be {ref.shape}"
            )
            found.add(f"{call}: {what} has shape {got.shape}, expected {ref.shape}: {hint}")
        elif got.dtype != np.uint8:
            found.add(
                f"{call}: {what} is {got.dtype}; return uint8 images (imresize keeps uint8 "
                "input uint8, rounded as MATLAB does)"
            )
    if found:
        return
    if not np.array_equal(lr, lr_ref):
        subsampled = (
            "lr takes every scale-th pixel of HR: that aliases (thin lines break up); the "
            "benchmarks shrink with MATLAB's bicubic, imresize(hr, 1 / scale)"
        )
        mistake = _checking.diagnose(lr, [(subsampled, cropped[::s, ::s])], _same_array)
        diff = int(np.abs(lr.astype(int) - lr_ref).max())
        found.add(
            (
                mistake
                or f"lr differs from MATLAB's bicubic downscale by up to {diff} grey levels: "
                "shrink the mod-cropped HR with el.imresize(hr, 1 / scale)"
            )
            + f" ({call})"
        )
    nearest = np.repeat(np.repeat(lr_ref, s, axis=0), s, axis=1)
    if found and _same_array(sr, imresize(lr, s)):
        return  # sr is right for the student's lr: only lr's mistake
    if not np.array_equal(sr, sr_ref):
        mistake = _checking.diagnose(
            sr,
            [
                (
                    "sr repeats each LR pixel (nearest neighbour): upscale with bicubic, "
                    "imresize(lr, scale)",
                    nearest,
                ),
                ("sr is the cropped HR itself: upscale lr, the network's input", cropped),
            ],
            _same_array,
        )
        diff = int(np.abs(sr.astype(int) - sr_ref).max())
        found.add(
            (
                mistake
                or f"sr differs from MATLAB's bicubic upscale of lr by up to {diff} grey "
                "levels: enlarge lr with el.imresize(lr, scale)"
            )
            + f" ({call})"
        )


@_checking.isolated
def check_error_map(fn: Callable[[np.ndarray, np.ndarray, int], np.ndarray]) -> None:
    """Check ``fn(sr, hr, scale) -> map``: where an upscaling is wrong, pixel by pixel.

    ``sr``, ``hr``: H x W x 3 uint8 images. Return the absolute difference of their Y channels
    (:func:`edsr_lite.core.metrics.rgb_to_y`, float), without ``scale`` pixels on each border: an
    (H - 2 scale) x (W - 2 scale) floating-point array (any float dtype; a numpy array or a
    tensor) of grey levels >= 0, whose mean square is the MSE that PSNR uses. Reference:
    :func:`edsr_lite.course.tour.error_maps`; the answer may use ``rgb_to_y`` and ``shave``
    (the task asks for them), not the lesson's own maps. Three image pairs, x2 to x4, whose
    errors go both ways (SR brighter and darker than HR).
    """
    from edsr_lite.core.metrics import rgb_to_y, shave
    from edsr_lite.course import tour

    _guard.refuse_references(fn, [tour], what=_checking.name_of(fn), allowed=[rgb_to_y, shave])
    rng = np.random.default_rng(1)
    cases = [(30, 24, 2), (33, 27, 3), (36, 44, 4)]
    for h, w, s in cases:
        sr, hr = _checking.benchmark_pair(rng, h, w, s)
        with _checking.mistakes("check_error_map") as found:
            found.expected = (
                f"|rgb_to_y(sr) - rgb_to_y(hr)| with {s} pixels shaved: a float array of shape "
                f"{(h - 2 * s, w - 2 * s)}"
            )
            _error_map_mistakes(fn, sr, hr, s, rgb_to_y, found)
    _checking.passed("check_error_map", len(cases))


def _error_map_mistakes(
    fn: Callable,
    sr: np.ndarray,
    hr: np.ndarray,
    s: int,
    rgb_to_y: Callable[[np.ndarray], np.ndarray],
    found: _checking.Mistakes,
) -> None:
    h, w = sr.shape[:2]
    inner = (slice(s, -s), slice(s, -s))
    y_sr, y_hr = rgb_to_y(sr), rgb_to_y(hr)
    expected = np.abs(y_sr - y_hr)[inner]
    call = f"{_checking.name_of(fn)}(sr, hr, {s}) on {h} x {w} images"
    out = _checking.run_answer(fn, sr.copy(), hr.copy(), s, what=call)
    if hasattr(out, "detach"):  # a torch tensor is fine
        out = out.detach().cpu().numpy()
    raw = np.asarray(out)
    if raw.dtype.kind not in "f":
        found.add(
            f"{call} returned a {raw.dtype} map: keep rgb_to_y's floats (the error map has "
            "fractions of a grey level; rounding them changes the MSE)"
        )
    got = raw.astype(np.float64)
    if got.shape == expected.shape and np.allclose(got, expected, atol=1e-4):
        return
    if got.ndim == 3:
        found.add(
            f"{call} returned {got.shape}: one value per pixel, on the Y channel "
            "(rgb_to_y of each image, then their difference), not per RGB channel"
        )
        return
    if got.shape == (h, w):
        found.add(
            f"{call} returned the whole {h} x {w} map: shave {s} pixels from each border "
            "(map[s:-s, s:-s]), the part PSNR scores"
        )
        got = got[inner]
    elif got.shape != expected.shape:
        found.add(f"{call} returned shape {got.shape}, expected {expected.shape}")
        return
    if np.allclose(got, expected, atol=1e-4):
        return
    wrapped = (sr - hr).astype(np.uint8)  # what uint8 arithmetic gives: 3 - 5 = 254
    uint8_message = (
        "subtracted the uint8 images: 3 - 5 wraps around to 254 in uint8; convert to Y "
        "(float) first, then subtract"
    )
    mistake = _checking.diagnose(
        got,
        [
            ("take the absolute value: SR is wrong when darker too", (y_sr - y_hr)[inner]),
            ("take the absolute value: SR is wrong when darker too", (y_hr - y_sr)[inner]),
            (uint8_message, np.abs(rgb_to_y(wrapped) - 16)[inner]),
            (uint8_message, rgb_to_y(wrapped)[inner]),
            ("this is the squared error: the map holds |Y_sr - Y_hr|", expected**2),
            (
                "rounded Y to integers: keep rgb_to_y's float values",
                np.abs(np.round(y_sr) - np.round(y_hr))[inner],
            ),
            (
                "used the full-range Y (0.299 R + 0.587 G + 0.114 B): use metrics.rgb_to_y, "
                "MATLAB's rgb2ycbcr",
                np.abs(_checking.full_range_y(sr) - _checking.full_range_y(hr))[inner],
            ),
        ],
        lambda a, b: a.shape == b.shape and np.allclose(a, b, atol=1e-4),
    )
    worst = float(np.abs(got - expected).max())
    found.add((mistake or f"wrong values (up to {worst:.2f} grey levels off)") + f": {call}")
