"""The checks of the exercises in ``notebooks/05_benchmark.ipynb``.

===========================  ==============================================
:func:`check_modcrop`        crop HR to a multiple of the scale
:func:`check_psnr_y_shave`   PSNR on Y with ``scale`` pixels shaved
:func:`check_self_ensemble`  the x8 geometric self-ensemble
===========================  ==============================================

The lesson's code: :mod:`edsr_lite.course.benchmark`. How a check runs and reports:
:mod:`edsr_lite.course.exercises.checking`.
"""

import math as _math
from collections.abc import Callable as _Callable
from collections.abc import Iterator as _Iterator
from typing import Any as _Any

import numpy as _np
import torch as _torch
from torch import nn as _nn

from edsr_lite.course.exercises import checking as _checking
from edsr_lite.course.exercises import guard as _guard

#: The checks, in the order the notebook's exercises call them.
__all__ = ["check_modcrop", "check_psnr_y_shave", "check_self_ensemble"]


class _Notes:
    """Notes each kind of mistake once (with the first case that showed it) into ``found``."""

    def __init__(self, found: _checking.Mistakes) -> None:
        self.found = found
        self.kinds: set[str] = set()

    def add(self, mistake: str, where: str = "") -> None:
        if mistake not in self.kinds:
            self.kinds.add(mistake)
            self.found.add(f"{mistake} ({where})" if where else mistake)


# --------------------------------------------------------------------------------------------
# Exercise 1: modcrop
# --------------------------------------------------------------------------------------------


@_checking.isolated
def check_modcrop(fn: _Callable[[_np.ndarray, int], _np.ndarray]) -> None:
    """Check ``fn(image, scale) -> cropped``: crop an HR image so that its height and width are
    multiples of ``scale``, keeping the top-left corner (MATLAB's ``modcrop``).

    ``image``: H x W x 3 or H x W array (uint8, one case float32); return a numpy array of the
    image's dtype without its last ``H % scale`` rows and ``W % scale`` columns (a view, as
    slicing gives, or a copy), leaving ``image`` unchanged. Reference:
    :func:`edsr_lite.core.degradation.modcrop` (``el.modcrop``), which the answer may not
    call. Seven cases, gray and RGB, some already multiples of the scale.
    """
    from edsr_lite.core.degradation import modcrop

    _guard.refuse_references(fn, [modcrop], what=_checking.name_of(fn))
    _run_modcrop_cases(fn)


_MODCROP_CASES = (
    ((10, 13, 3), 2, _np.uint8),
    ((12, 9), 3, _np.uint8),
    ((16, 16, 3), 4, _np.uint8),
    ((17, 18, 3), 4, _np.uint8),
    ((9, 10, 3), 3, _np.uint8),
    ((14, 15, 3), 2, _np.uint8),
    ((11, 13, 3), 3, _np.float32),
)


def _run_modcrop_cases(fn: _Callable) -> None:
    from edsr_lite.core.degradation import modcrop

    rng = _np.random.default_rng(8)
    with _checking.mistakes("check_modcrop") as found:
        notes = _Notes(found)
        for shape, scale, dtype in _MODCROP_CASES:
            if dtype == _np.uint8:
                image = rng.integers(0, 256, shape, dtype=_np.uint8)
            else:
                image = rng.random(shape, dtype=_np.float32)
            expected = modcrop(image, scale)
            call = f"{_checking.name_of(fn)}(image of shape {shape}, {scale})"
            given = image.copy()
            out = _checking.run_answer(fn, given, scale, what=call)
            if not _np.array_equal(given, image):
                notes.add("changed the input image: crop without writing into it", call)
            _modcrop_case(out, image, expected, scale, call, notes)
    _checking.passed("check_modcrop", len(_MODCROP_CASES))


def _modcrop_case(
    out: _Any, image: _np.ndarray, expected: _np.ndarray, scale: int, call: str, notes: _Notes
) -> None:
    """Note what is wrong with one output of the student's modcrop."""
    if not isinstance(out, _np.ndarray):
        notes.add(
            f"returned a {type(out).__name__}, not a numpy array: return the cropped array",
            call,
        )
        return
    if out.dtype != image.dtype:
        notes.add(
            "changed the dtype: return the image's own dtype (slicing keeps it; astype, "
            "np.float32(...) or arithmetic change it)",
            f"{call}: returned {out.dtype}, the image is {image.dtype}",
        )
    h, w = image.shape[:2]
    dh, dw = h % scale, w % scale
    if 0 in out.shape[:2]:
        notes.add(
            "returned an empty image: when H (or W) is already a multiple of the scale, "
            "image[:-(h % scale)] is image[:-0], which is empty; write "
            "image[:h - h % scale, :w - w % scale]",
            f"{call}: {out.shape}",
        )
        return
    if out.shape != expected.shape:
        notes.add(
            "wrong output shape: H and W are rounded down to multiples of the scale"
            + (", the channels kept" if image.ndim == 3 else ""),
            f"{call}: {out.shape}, expected {expected.shape}",
        )
        return
    if _np.array_equal(out, expected):
        return
    mistake = _checking.diagnose(
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
        lambda a, b: a.shape == b.shape and _np.array_equal(a, b),
    )
    notes.add(
        mistake
        or "the pixels differ from the image's top-left part: crop, do not resize or change values",
        call,
    )


# --------------------------------------------------------------------------------------------
# Exercise 2: PSNR on Y with the shave
# --------------------------------------------------------------------------------------------


def _psnr_on(a: _np.ndarray, b: _np.ndarray, peak: float = 255.0) -> float:
    mse = float(_np.mean((a.astype(_np.float64) - b.astype(_np.float64)) ** 2))
    return 10 * _math.log10(peak**2 / mse)


#: The dB a peak of 219 (the height of rgb2ycbcr's Y range, 16..235) takes off the PSNR. The
#: full-range Y (0.299 R + 0.587 G + 0.114 B) is rgb2ycbcr's Y times 255/219 less the offset,
#: so it takes off exactly as much on every image: only the answer's constants tell them apart.
_SHIFT_219 = 20 * _math.log10(255 / 219)

_FULL_RANGE_WEIGHTS = (0.299, 0.587, 0.114)


@_checking.isolated
def check_psnr_y_shave(fn: _Callable[[_np.ndarray, _np.ndarray, int], float]) -> None:
    """Check ``fn(sr, hr, scale) -> dB``: PSNR as the SR papers measure it.

    ``sr``, ``hr``: H x W x 3 uint8 RGB images (0..255). Convert both to the Y channel of
    MATLAB's ``rgb2ycbcr`` (Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, not rounded),
    shave ``scale`` pixels from each of the four borders, and return
    10 log10(255^2 / MSE), a number in dB (float, numpy float or 0-d tensor; float32
    arithmetic is precise enough).

    Reference: :func:`edsr_lite.core.metrics.psnr` (``el.psnr``), which the answer may not
    call, nor ``rgb_to_y`` or ``shave``. Three images (x2, x3, x4, odd sizes) whose errors are
    larger near the border (as an upscaler's are) and mostly in the blue channel, so that the
    shave and the Y conversion both change the number. A peak of 219 and the full-range Y
    give the same number; the constants in the answer's code tell which it is.
    """
    from edsr_lite.core import metrics

    _guard.refuse_references(
        fn, [metrics.psnr, metrics.rgb_to_y, metrics.shave], what=_checking.name_of(fn)
    )
    _run_psnr_cases(fn)


def _run_psnr_cases(fn: _Callable) -> None:
    from edsr_lite.core.metrics import psnr

    rng = _np.random.default_rng(9)
    cases = [(30, 24, 2), (33, 27, 3), (36, 44, 4)]
    with _checking.mistakes("check_psnr_y_shave") as found:
        notes = _Notes(found)
        for h, w, s in cases:
            sr, hr = _checking.benchmark_pair(rng, h, w, s)
            expected = psnr(sr, hr, s)
            call = f"{_checking.name_of(fn)}(sr, hr, {s}) on {h} x {w} images"
            got = _checking.as_number(
                _checking.run_answer(fn, sr.copy(), hr.copy(), s, what=call), call
            )
            if _math.isclose(got, expected, abs_tol=2e-4):
                continue
            mistake = _checking.diagnose(
                got, _psnr_mistakes(fn, sr, hr, s), lambda a, b: _math.isclose(a, b, abs_tol=2e-4)
            )
            notes.add(
                mistake or "wrong PSNR",
                f"{call}: returned {got:.4f} dB, expected {expected:.4f} dB (Y channel, {s} "
                "pixels shaved per border)",
            )
    _checking.passed("check_psnr_y_shave", len(cases))


def _psnr_mistakes(
    fn: _Callable, sr: _np.ndarray, hr: _np.ndarray, s: int
) -> list[tuple[str, float | None]]:
    """(message, the PSNR that mistake gives) for the typical mistakes on one case."""
    from edsr_lite.core.metrics import psnr, rgb_to_y

    expected = psnr(sr, hr, s)
    ysr, yhr = rgb_to_y(sr), rgb_to_y(hr)
    inner = (slice(s, -s), slice(s, -s))
    weights = _np.array([65.481, 128.553, 24.966]) / 255
    wrapped = (sr - hr).astype(_np.float64) @ weights  # uint8 differences wrap around
    candidates: list[tuple[str, float | None]] = [
        (_peak_or_full_range(fn), expected - _SHIFT_219),
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
            "shaved the wrong amount: shave exactly `scale` pixels from each border",
            psnr(sr, hr, k),
        )
        for k in range(1, 2 * s + 2)
        if k != s
    ]
    return candidates + [
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
            "rounded Y to integers: protocol 'model' keeps Y unrounded",
            _psnr_on(_np.round(ysr)[inner], _np.round(yhr)[inner]),
        ),
        (
            "subtracted the uint8 images: their difference wraps around (3 - 5 = 254); "
            "convert to float first (sr.astype(np.float64))",
            _psnr_on(wrapped[inner], _np.zeros_like(wrapped[inner])),
        ),
        (
            "used a peak of 235 (the top of rgb2ycbcr's Y range): the peak is 255 for 8-bit "
            "images, as in the papers",
            expected - 20 * _math.log10(255 / 235),
        ),
        (
            "used the image's largest value as the peak: the peak is 255 for 8-bit images",
            _psnr_on(ysr[inner], yhr[inner], peak=float(yhr.max())),
        ),
        (
            "used a peak of 1: the images hold 0..255 values, so the peak is 255",
            expected - 20 * _math.log10(255),
        ),
        (
            "PSNR is 10 log10(255^2 / MSE) (= 20 log10(255 / RMSE)); you doubled it",
            2 * expected,
        ),
        ("PSNR is 10 log10(255^2 / MSE); you halved it (10 log10(255 / RMSE)?)", expected / 2),
        (
            "used the sum of squared errors: take their mean (MSE)",
            expected - 10 * _math.log10(ysr[inner].size),
        ),
    ]


def _peak_or_full_range(fn: _Callable) -> str:
    """Which of the two mistakes that both take 1.32 dB off the answer's code shows."""
    numbers = set(_numbers_in(fn))
    peak = "used a peak of 219 (the height of rgb2ycbcr's Y range): the peak is 255 for 8-bit "
    peak += "images, as in the papers"
    full = (
        "used the full-range Y (0.299 R + 0.587 G + 0.114 B): the papers use MATLAB's "
        "rgb2ycbcr, Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255"
    )
    has_219 = any(_math.isclose(v, 219) or _math.isclose(v, 219**2) for v in numbers)
    has_full = any(_math.isclose(v, w) for v in numbers for w in _FULL_RANGE_WEIGHTS)
    if has_219 and not has_full:
        return peak
    if has_full and not has_219:
        return full
    return (
        "either used a peak of 219 (the peak is 255) or the full-range Y (0.299 R + 0.587 G + "
        "0.114 B; the papers use rgb2ycbcr's 16 + (65.481 R + 128.553 G + 24.966 B) / 255): "
        "both take 1.32 dB off"
    )


def _numbers_in(obj: _Any, depth: int = 0, seen: set[int] | None = None) -> _Iterator[float]:
    """The numbers written in the student's code: constants of its code objects (nested ones
    too), default arguments, closures, and the numbers, arrays and functions it names in its
    module (followed a few levels, outside edsr_lite, numpy and torch)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 4:
        return
    seen.add(id(obj))
    if isinstance(obj, bool):
        return
    if isinstance(obj, int | float | _np.number):
        yield float(obj)
    elif isinstance(obj, _np.ndarray) and obj.size <= 16 and obj.dtype.kind in "iuf":
        yield from (float(v) for v in obj.ravel())
    elif isinstance(obj, tuple | list) and len(obj) <= 16:
        for item in obj:
            yield from _numbers_in(item, depth + 1, seen)
    elif hasattr(obj, "co_consts"):
        for const in obj.co_consts:
            yield from _numbers_in(const, depth, seen)
    elif callable(obj) and hasattr(obj, "__code__") and not _is_package(obj):
        yield from _numbers_in(obj.__code__, depth, seen)
        for value in (obj.__defaults__ or ()) + tuple((obj.__kwdefaults__ or {}).values()):
            yield from _numbers_in(value, depth + 1, seen)
        for cell in obj.__closure__ or ():
            yield from _numbers_in(cell.cell_contents, depth + 1, seen)
        names = set(_names_of(obj.__code__))
        for name in names & set(obj.__globals__):
            yield from _numbers_in(obj.__globals__[name], depth + 1, seen)


def _names_of(code: _Any) -> _Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            yield from _names_of(const)


def _is_package(fn: _Any) -> bool:
    module = getattr(fn, "__module__", None) or ""
    return module.split(".")[0] in {"edsr_lite", "numpy", "torch", "math"}


# --------------------------------------------------------------------------------------------
# Exercise 3: the x8 self-ensemble
# --------------------------------------------------------------------------------------------


def _dihedral(
    x: _torch.Tensor,
) -> list[tuple[_torch.Tensor, _Callable[[_torch.Tensor], _torch.Tensor]]]:
    """The 8 flips/rotations of x (N x C x H x W), each with its inverse."""
    out = []
    for transpose in (False, True):
        t = x.transpose(2, 3) if transpose else x
        for dims in ((), (3,), (2,), (2, 3)):
            v = t.flip(dims) if dims else t

            def back(y: _torch.Tensor, dims=dims, transpose=transpose) -> _torch.Tensor:
                y = y.flip(dims) if dims else y
                return y.transpose(2, 3) if transpose else y

            out.append((v, back))
    return out


class _CountingNet(_nn.Module):
    """The "network" the student's ensemble runs: a conv and a pixel shuffle (x``scale``),
    which counts the images it sees."""

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.net = _nn.Sequential(
            _nn.Conv2d(3, 3 * scale * scale, 3, padding=1), _nn.PixelShuffle(scale)
        )
        self.seen = 0

    def forward(self, t: _torch.Tensor) -> _torch.Tensor:
        self.seen += int(t.shape[0])
        return self.net(t)


@_checking.isolated
def check_self_ensemble(
    fn: _Callable[[_Callable[[_torch.Tensor], _torch.Tensor], _torch.Tensor], _torch.Tensor],
) -> None:
    """Check ``fn(forward, x) -> sr``: the geometric self-ensemble ("+", EDSR+).

    ``forward`` maps a batch N x C x h x w to N x C x (s·h) x (s·w) (a network, here an
    ``nn.Module``); ``x`` is one batch N x C x h x w, float32. Run ``forward`` on the 8 flips
    and rotations of ``x`` (4 rotations by 90°, each with and without a flip; in any order,
    one by one or batched), transform each output back, and return their mean (``mean(0)`` of
    a stack or a running sum over 8), N x C x (s·h) x (s·w), of ``x``'s dtype and device:
    every image of the batch gets its own ensemble. ``x`` and the network's train/eval mode
    are left as they were.

    Reference: :func:`edsr_lite.core.forward.self_ensemble` (also ``infer.self_ensemble``),
    which the answer may not call. Three cases with small random convolutional "networks"
    (x2, x2, x3; the last one in train mode), a square input and two non-square ones (where a
    rotation changes the shape); the images ``forward`` sees are counted too.
    """
    from edsr_lite.core.forward import self_ensemble

    _guard.refuse_references(fn, [self_ensemble], what=_checking.name_of(fn))
    _run_ensemble_cases(fn)


_ENSEMBLE_CASES = (((3, 3, 6, 6), 2, False), ((2, 3, 5, 7), 2, False), ((1, 3, 4, 6), 3, True))


def _run_ensemble_cases(fn: _Callable) -> None:
    with _checking.seeded(10), _checking.mistakes("check_self_ensemble") as found:
        notes = _Notes(found)
        for shape, s, training in _ENSEMBLE_CASES:
            net = _CountingNet(s).train(training)
            x = _torch.rand(shape) * 255
            _ensemble_case(fn, net, x, s, notes)
    _checking.passed("check_self_ensemble", len(_ENSEMBLE_CASES))


def _ensemble_case(
    fn: _Callable, net: _CountingNet, x: _torch.Tensor, s: int, notes: _Notes
) -> None:
    """Run the student's ensemble on one case and note what is wrong."""
    from edsr_lite.core.forward import self_ensemble

    n, c, h, w = x.shape
    call = f"{_checking.name_of(fn)}(forward, x) for x of shape {tuple(x.shape)}, x{s}"
    training = net.training
    given = x.clone()
    with _torch.no_grad():
        expected = self_ensemble(net.net, x)
        out = _checking.run_answer(
            fn,
            net,
            given,
            what=call,
            hint="The output of a rotated input is rotated too (h and w swap): transform "
            "each output back before averaging",
        )
    if net.training != training:
        notes.add(
            "changed the network's train/eval mode: the ensemble only runs it, leaving it as "
            "it found it",
            call,
        )
    if not _torch.equal(given, x):
        notes.add("changed the input x in place: transform copies (rot90 and flip make them)", call)
    if net.seen != 8 * n:
        notes.add(
            "the x8 self-ensemble runs the network on 8 versions of each image (the identity, "
            "3 rotations, and the 4 mirrored ones)"
            + (": you averaged only 4 of the 8" if net.seen == 4 * n else ""),
            f"{call}: it saw {net.seen} images for a batch of {n}",
        )
        return
    if not isinstance(out, _torch.Tensor):
        notes.add(f"returned {type(out).__name__}, not a tensor", call)
        return
    if tuple(out.shape) == (n, c, s * w, s * h) != (n, c, s * h, s * w):
        notes.add(
            "the outputs of the rotated inputs must be rotated back: wrong output shape",
            f"{call}: {tuple(out.shape)}, expected {(n, c, s * h, s * w)}",
        )
        return
    if tuple(out.shape) != tuple(expected.shape):
        notes.add(
            "wrong output shape: transform every output back before averaging",
            f"{call}: {tuple(out.shape)}, expected {tuple(expected.shape)}",
        )
        return
    if out.dtype != x.dtype or out.device != x.device:
        notes.add(
            "the ensemble must have x's dtype and device",
            f"{call}: {out.dtype} on {out.device}, x is {x.dtype} on {x.device}",
        )
    if _checking.same(out, expected, atol=1e-3):
        return
    with _torch.no_grad():
        mistake = _checking.diagnose(
            out, _ensemble_mistakes(net.net, x), lambda a, b: _checking.same(a, b, 1e-3)
        )
    notes.add(
        mistake or "the ensemble differs from infer.self_ensemble's",
        f"{call}: {_checking.max_diff(out, expected)}",
    )


def _ensemble_mistakes(net: _nn.Module, x: _torch.Tensor) -> list[tuple[str, _torch.Tensor | None]]:
    views = _dihedral(x)
    outs = [net(v) for v, _ in views]
    backs = [back(y) for (_, back), y in zip(views, outs, strict=True)]
    rots = [_torch.rot90(x, k, (2, 3)) for k in range(4)]
    rot_outs = [net(r) for r in rots]
    wrong_way = [_torch.rot90(y, k, (2, 3)) for k, y in enumerate(rot_outs)]
    wrong_way += [_torch.rot90(net(r.flip(3)).flip(3), k, (2, 3)) for k, r in enumerate(rots)]
    same_shape = all(y.shape == outs[0].shape for y in outs)
    return [
        (
            "the outputs were averaged without transforming them back: undo each flip/rotation "
            "on its output first",
            _torch.stack(outs).mean(0) if same_shape else None,
        ),
        (
            "rotated back the wrong way: undo torch.rot90(x, k) with torch.rot90(y, -k)",
            _torch.stack(wrong_way).mean(0),
        ),
        (
            "forgot to divide by 8: the ensemble is the mean of the 8 outputs",
            _torch.stack(backs).sum(0),
        ),
        (
            "the images of the batch were mixed: average over the 8 transforms only, each image "
            "separately",
            _torch.stack(backs).mean(0).mean(0, keepdim=True).expand_as(backs[0]),
        ),
        (
            "took the median of the 8 outputs: the paper averages them (mean)",
            _torch.stack(backs).median(0).values,
        ),
    ]
