"""The checks of the exercises in ``notebooks/05_benchmark.ipynb``.

===========================  ==============================================
:func:`check_modcrop`        crop HR to a multiple of the scale
:func:`check_psnr_y_shave`   PSNR on Y with ``scale`` pixels shaved
:func:`check_self_ensemble`  the x8 geometric self-ensemble
===========================  ==============================================

The lesson's code: :mod:`edsr_lite.course.benchmark`. How a check runs and reports:
:mod:`edsr_lite.course.exercises.checking`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from edsr_lite.core.degradation import modcrop
from edsr_lite.core.forward import self_ensemble
from edsr_lite.core.metrics import psnr, rgb_to_y
from edsr_lite.course.exercises.checking import (
    ExerciseError,
    as_number,
    benchmark_pair,
    diagnose,
    expect_tensor,
    full_range_y,
    isolated,
    max_diff,
    name_of,
    passed,
    run_answer,
    same,
    seeded,
)

#: The checks, in the order the notebook's exercises call them.
__all__ = ["check_modcrop", "check_psnr_y_shave", "check_self_ensemble"]


@isolated
def check_modcrop(fn: Callable[[np.ndarray, int], np.ndarray]) -> None:
    """Check ``fn(image, scale) -> cropped``: crop an HR image so that its height and width are
    multiples of ``scale``, keeping the top-left corner (MATLAB's ``modcrop``).

    ``image``: H x W x 3 or H x W uint8 array; return the array without its last
    ``H % scale`` rows and ``W % scale`` columns. Reference:
    :func:`edsr_lite.core.degradation.modcrop`.
    Six cases, gray and RGB, some already multiples of the scale.
    """
    rng = np.random.default_rng(8)
    cases = [
        ((10, 13, 3), 2),
        ((12, 9), 3),
        ((16, 16, 3), 4),
        ((17, 18, 3), 4),
        ((9, 10, 3), 3),
        ((14, 15, 3), 2),
    ]
    for shape, scale in cases:
        image = rng.integers(0, 256, shape, dtype=np.uint8)
        expected = modcrop(image, scale)
        call = f"{name_of(fn)}(image of shape {shape}, {scale})"
        out = run_answer(fn, image.copy(), scale, what=call)
        out = np.asarray(out)
        if out.shape == expected.shape and np.array_equal(out, expected):
            continue
        h, w = shape[:2]
        dh, dw = h % scale, w % scale
        if 0 in out.shape[:2]:
            raise ExerciseError(
                f"{call} returned an empty image {out.shape}: when H (or W) is already a "
                "multiple of the scale, image[:-(h % scale)] is image[:-0], which is empty; "
                "write image[:h - h % scale, :w - w % scale]"
            )
        if out.shape != expected.shape:
            raise ExerciseError(
                f"wrong output shape: {call} returned {out.shape}, expected {expected.shape} "
                f"(H and W rounded down to multiples of {scale}"
                + (", the channels kept)" if len(shape) == 3 else ")")
            )
        mistake = diagnose(
            out,
            [
                (
                    "you kept the bottom-right corner: keep the top-left one and crop the last "
                    "rows and columns",
                    image[dh:, dw:],
                ),
                (
                    "you cropped from both sides (centred): crop only the last rows and columns, "
                    "as MATLAB's modcrop",
                    image[dh // 2 : h - (dh - dh // 2), dw // 2 : w - (dw - dw // 2)],
                ),
            ],
            lambda a, b: a.shape == b.shape and np.array_equal(a, b),
        )
        raise ExerciseError(
            (
                mistake
                or "the pixels differ from the image's top-left part: crop, do not resize "
                "or change values"
            )
            + f" ({call})"
        )
    passed("check_modcrop", len(cases))


def _psnr_on(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * math.log10(peak**2 / mse)


@isolated
def check_psnr_y_shave(fn: Callable[[np.ndarray, np.ndarray, int], float]) -> None:
    """Check ``fn(sr, hr, scale) -> dB``: PSNR as the SR papers measure it.

    ``sr``, ``hr``: H x W x 3 uint8 RGB images (0..255). Convert both to the Y channel of
    MATLAB's ``rgb2ycbcr`` (Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, not rounded),
    shave ``scale`` pixels from each of the four borders, and return
    10 log10(255^2 / MSE), a float in dB.

    Reference: :func:`edsr_lite.core.metrics.psnr`. Three images (x2, x3, x4, odd sizes) whose
    errors are larger near the border (as an upscaler's are) and mostly in the blue channel,
    so that the shave and the Y conversion both change the number.
    """
    rng = np.random.default_rng(9)
    cases = [(30, 24, 2), (33, 27, 3), (36, 44, 4)]
    for h, w, s in cases:
        sr, hr = benchmark_pair(rng, h, w, s)
        expected = psnr(sr, hr, s)
        call = f"{name_of(fn)}(sr, hr, {s}) on {h} x {w} images"
        got = as_number(run_answer(fn, sr.copy(), hr.copy(), s, what=call), call)
        if math.isclose(got, expected, abs_tol=2e-4):
            continue
        ysr, yhr = rgb_to_y(sr), rgb_to_y(hr)
        inner = (slice(s, -s), slice(s, -s))
        candidates = [
            (
                "computed on RGB: the paper measures on the Y channel (metrics.rgb_to_y)",
                psnr(sr, hr, s, y_channel=False),
            ),
            (
                "forgot the shave: remove `scale` pixels from each border before the MSE",
                psnr(sr, hr, 0),
            ),
            (
                "computed on RGB and forgot the shave: measure on Y, with `scale` pixels shaved",
                psnr(sr, hr, 0, y_channel=False),
            ),
        ]
        candidates += [
            (
                f"shaved the wrong amount ({k} pixels): shave exactly `scale` = {s} pixels from "
                "each border",
                psnr(sr, hr, k),
            )
            for k in range(1, 2 * s + 2)
            if k != s
        ]
        candidates += [
            (
                "shaved only the top and left borders: a[s:-s, s:-s] shaves all four",
                _psnr_on(ysr[s:, s:], yhr[s:, s:]),
            ),
            (
                "shaved only the bottom and right borders: a[s:-s, s:-s] shaves all four",
                _psnr_on(ysr[:-s, :-s], yhr[:-s, :-s]),
            ),
            (
                "shaved only the rows: shave the columns too, a[s:-s, s:-s]",
                _psnr_on(ysr[s:-s], yhr[s:-s]),
            ),
            (
                "shaved only the columns: shave the rows too, a[s:-s, s:-s]",
                _psnr_on(ysr[:, s:-s], yhr[:, s:-s]),
            ),
            (
                "used the full-range Y (0.299 R + 0.587 G + 0.114 B): the papers use MATLAB's "
                "rgb2ycbcr, Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255",
                _psnr_on(full_range_y(sr)[inner], full_range_y(hr)[inner]),
            ),
            (
                "rounded Y to integers: protocol 'model' keeps Y unrounded",
                _psnr_on(np.round(ysr)[inner], np.round(yhr)[inner]),
            ),
            (
                "used a peak of 1: the images hold 0..255 values, so the peak is 255",
                expected - 20 * math.log10(255),
            ),
            (
                "PSNR is 10 log10(255^2 / MSE) (= 20 log10(255 / RMSE)); you doubled it",
                2 * expected,
            ),
            ("PSNR is 10 log10(255^2 / MSE); you halved it (10 log10(255 / RMSE)?)", expected / 2),
            (
                "used the sum of squared errors: take their mean (MSE)",
                expected - 10 * math.log10(ysr[inner].size),
            ),
        ]
        mistake = diagnose(got, candidates, lambda a, b: math.isclose(a, b, abs_tol=2e-4))
        raise ExerciseError(
            (mistake or "wrong PSNR") + f": {call} returned {got:.4f} dB, expected "
            f"{expected:.4f} dB (Y channel, {s} pixels shaved per border)"
        )
    passed("check_psnr_y_shave", len(cases))


def _dihedral(
    x: torch.Tensor,
) -> list[tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]]:
    """The 8 flips/rotations of x (N x C x H x W), each with its inverse."""
    out = []
    for transpose in (False, True):
        t = x.transpose(2, 3) if transpose else x
        for dims in ((), (3,), (2,), (2, 3)):
            v = t.flip(dims) if dims else t

            def back(y: torch.Tensor, dims=dims, transpose=transpose) -> torch.Tensor:
                y = y.flip(dims) if dims else y
                return y.transpose(2, 3) if transpose else y

            out.append((v, back))
    return out


@isolated
def check_self_ensemble(
    fn: Callable[[Callable[[torch.Tensor], torch.Tensor], torch.Tensor], torch.Tensor],
) -> None:
    """Check ``fn(forward, x) -> sr``: the geometric self-ensemble ("+", EDSR+).

    ``forward`` maps a batch N x C x h x w to N x C x (s·h) x (s·w) (a network); ``x`` is one
    batch N x C x h x w. Run ``forward`` on the 8 flips and rotations of ``x`` (4 rotations by
    90°, each with and without a flip), transform each output back, and return their mean,
    N x C x (s·h) x (s·w): every image of the batch gets its own ensemble.

    Reference: :func:`edsr_lite.core.forward.self_ensemble`. Three cases with small random
    convolutional "networks" (x2, x2, x3), a square input and two non-square ones (where a
    rotation changes the shape); the images ``forward`` sees are counted too.
    """
    cases = [((3, 3, 6, 6), 2), ((2, 3, 5, 7), 2), ((1, 3, 4, 6), 3)]
    with seeded(10):
        for shape, s in cases:
            net = nn.Sequential(nn.Conv2d(3, 3 * s * s, 3, padding=1), nn.PixelShuffle(s)).eval()
            x = torch.rand(shape) * 255
            seen: list[int] = []

            def forward(t: torch.Tensor, net=net, seen=seen) -> torch.Tensor:
                seen.append(int(t.shape[0]))
                return net(t)

            n, c, h, w = shape
            call = f"{name_of(fn)}(forward, x) for x of shape {shape}, x{s}"
            with torch.no_grad():
                expected = self_ensemble(net, x)
                out = run_answer(
                    fn,
                    forward,
                    x.clone(),
                    what=call,
                    hint="The output of a rotated input is rotated too (h and w swap): transform "
                    "each output back before averaging",
                )
            images = sum(seen)
            if images != 8 * n:
                raise ExerciseError(
                    f"{call} ran the network on {images} images for a batch of {n}: the x8 "
                    "self-ensemble runs it on 8 versions of each image (the identity, 3 "
                    "rotations, and the 4 mirrored ones)"
                    + (": you averaged only 4 of the 8" if images == 4 * n else "")
                )
            if isinstance(out, torch.Tensor) and tuple(out.shape) == (n, c, s * w, s * h) != (
                n,
                c,
                s * h,
                s * w,
            ):
                raise ExerciseError(
                    f"wrong output shape {tuple(out.shape)}, expected {(n, c, s * h, s * w)}: "
                    "the outputs of the rotated inputs must be rotated back"
                )
            expect_tensor(
                out, tuple(expected.shape), call, "Transform every output back before averaging"
            )
            if same(out, expected, atol=1e-3):
                continue
            with torch.no_grad():
                mistake = diagnose(out, _ensemble_mistakes(net, x), lambda a, b: same(a, b, 1e-3))
            raise ExerciseError(
                (mistake or "the ensemble differs from infer.self_ensemble's")
                + f" ({call}: {max_diff(out, expected)})"
            )
    passed("check_self_ensemble", len(cases))


def _ensemble_mistakes(net: nn.Module, x: torch.Tensor) -> list[tuple[str, torch.Tensor | None]]:
    views = _dihedral(x)
    outs = [net(v) for v, _ in views]
    backs = [back(y) for (_, back), y in zip(views, outs, strict=True)]
    rots = [torch.rot90(x, k, (2, 3)) for k in range(4)]
    rot_outs = [net(r) for r in rots]
    wrong_way = [torch.rot90(y, k, (2, 3)) for k, y in enumerate(rot_outs)]
    wrong_way += [torch.rot90(net(r.flip(3)).flip(3), k, (2, 3)) for k, r in enumerate(rots)]
    same_shape = all(y.shape == outs[0].shape for y in outs)
    return [
        (
            "the outputs were averaged without transforming them back: undo each flip/rotation "
            "on its output first",
            torch.stack(outs).mean(0) if same_shape else None,
        ),
        (
            "rotated back the wrong way: undo torch.rot90(x, k) with torch.rot90(y, -k)",
            torch.stack(wrong_way).mean(0),
        ),
        (
            "forgot to divide by 8: the ensemble is the mean of the 8 outputs",
            torch.stack(backs).sum(0),
        ),
        (
            "the images of the batch were mixed: average over the 8 transforms only, each image "
            "separately",
            torch.stack(backs).mean(0).mean(0, keepdim=True).expand_as(backs[0]),
        ),
        (
            "took the median of the 8 outputs: the paper averages them (mean)",
            torch.stack(backs).median(0).values,
        ),
    ]
