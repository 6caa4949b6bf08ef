"""Automatic checks for the classroom exercises of the notebooks.

Each notebook ends with a few exercises: a cell where the student writes a small function (or
class) between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's markers), then a
cell that calls one ``check_...`` function of this module on it::

    from edsr_lite.course import exercises
    exercises.check_resblock(EDSRBlock)

A check runs the student's code and the package's reference (``models.ResBlock``,
``metrics.psnr``, ``infer.self_ensemble``, ``weights.init_from``, ...) on seeded random inputs
of several shapes and scales, and compares them. On success it prints one line
(``✓ check_resblock passed (3 cases)``) and returns None. On a mistake it raises
:class:`ExerciseError` (an ``AssertionError``) whose message says what is wrong: wrong shape,
BN layer still present, forgot the shave, averaged only 4 of the 8 transforms, ... -- each
check recognises the typical wrong answers by computing them too.

``NotImplementedError`` raised by the student's code (the stub that ``tools/make_student.py``
leaves in the student notebooks) propagates unchanged, so an unanswered exercise fails at its
own cells with that error. Any other exception from the student's code becomes an
:class:`ExerciseError` that names the call, chained to the original traceback.

The checks, by notebook (:data:`EXERCISES`):

=====  ====================================  ==============================================
00     :func:`check_bicubic_baseline`        make LR from HR, upscale it back with bicubic
00     :func:`check_error_map`               where an upscaling is wrong: its Y error map
01     :func:`check_resblock`                the EDSR residual block (no BN, ``res_scale``)
01     :func:`check_saved_activation_bytes`  the feature maps a block keeps for backward
02     :func:`check_activation_growth`       activation growth with depth, with hooks
02     :func:`check_predicted_growth`        the growth predicted from the initialization
02     :func:`check_fold_res_scale`          fold ``res_scale`` into the last conv
03     :func:`check_mdsr_forward`            MDSR's forward: pick the scale's branch
03     :func:`check_mdsr_step`               the random-scale MDSR training step
04     :func:`check_copy_matching_weights`   pretrained initialization: copy what matches
04     :func:`check_random_fraction`         how much of the model stays random
05     :func:`check_modcrop`                 crop HR to a multiple of the scale
05     :func:`check_psnr_y_shave`            PSNR on Y with ``scale`` pixels shaved
05     :func:`check_self_ensemble`           the x8 geometric self-ensemble
=====  ====================================  ==============================================

Every check takes well under two seconds on a laptop CPU and leaves the global random state
as it found it.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edsr_lite.course.bn_removal import count_saved_maps
from edsr_lite.course.residual_scaling import depth_profile, predicted_growth
from edsr_lite.images import modcrop
from edsr_lite.imresize import imresize
from edsr_lite.infer import self_ensemble
from edsr_lite.metrics import psnr, rgb_to_y
from edsr_lite.models import EDSR, MDSR, ResBlock, fold_res_scale
from edsr_lite.train import ADAM_BETAS, forward_backward
from edsr_lite.weights import init_from

__all__ = [
    "EXERCISES",
    "ExerciseError",
    "check_activation_growth",
    "check_bicubic_baseline",
    "check_copy_matching_weights",
    "check_error_map",
    "check_fold_res_scale",
    "check_mdsr_forward",
    "check_mdsr_step",
    "check_modcrop",
    "check_predicted_growth",
    "check_psnr_y_shave",
    "check_random_fraction",
    "check_resblock",
    "check_saved_activation_bytes",
    "check_self_ensemble",
]

#: The checks of each notebook's exercises, in the order the exercises appear.
EXERCISES: dict[str, tuple[str, ...]] = {
    "00": ("check_bicubic_baseline", "check_error_map"),
    "01": ("check_resblock", "check_saved_activation_bytes"),
    "02": ("check_activation_growth", "check_predicted_growth", "check_fold_res_scale"),
    "03": ("check_mdsr_forward", "check_mdsr_step"),
    "04": ("check_copy_matching_weights", "check_random_fraction"),
    "05": ("check_modcrop", "check_psnr_y_shave", "check_self_ensemble"),
}


class ExerciseError(AssertionError):
    """An exercise's answer is wrong; the message says what, and how to fix it."""


# ============================================================================================
# Shared helpers
# ============================================================================================


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch inside the block, and give the caller's random state back afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _isolated(check: Callable[[Any], None]) -> Callable[[Any], None]:
    """Run a check on one thread (its tensors are tiny: faster, and steady on a busy machine)
    and give the caller's random state and thread count back afterwards."""

    @functools.wraps(check)
    def run(answer: Any) -> None:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.random.fork_rng(devices=[]):
                check(answer)
        finally:
            torch.set_num_threads(threads)

    return run


def _call(fn: Callable, *args: Any, what: str, hint: str = "", **kwargs: Any) -> Any:
    """Run the student's code. NotImplementedError (the stub) and ExerciseError propagate;
    anything else becomes an ExerciseError that names the call (the original is chained)."""
    try:
        return fn(*args, **kwargs)
    except (NotImplementedError, ExerciseError):
        raise
    except Exception as error:
        message = f"{what} raised {type(error).__name__}: {error}"
        raise ExerciseError(message + (f". {hint}" if hint else "")) from error


def _passed(name: str, cases: int) -> None:
    print(f"✓ {name} passed ({cases} cases)")


def _same(a: Any, b: torch.Tensor, atol: float = 1e-4, rtol: float = 1e-4) -> bool:
    """Whether ``a`` is a tensor of ``b``'s shape with the same values (to ``atol``/``rtol``)."""
    return (
        isinstance(a, torch.Tensor)
        and a.shape == b.shape
        and torch.allclose(a.detach().double(), b.double(), atol=atol, rtol=rtol)
    )


def _diagnose(
    answer: Any, candidates: Sequence[tuple[str, Any]], match: Callable[[Any, Any], bool]
) -> str | None:
    """The message of the first typical mistake whose result equals the student's answer."""
    for message, value in candidates:
        if value is not None and match(answer, value):
            return message
    return None


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> str:
    d = (a.detach().double() - b.double()).abs()
    return f"max difference {float(d.max()):.3g}, mean {float(d.mean()):.3g}"


def _number(value: Any, what: str) -> float:
    if isinstance(value, torch.Tensor):
        value = value.detach()
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ExerciseError(f"{what} returned {value!r}; it should return a number") from None


def _check_tensor(out: Any, expected_shape: tuple[int, ...], what: str, hint: str = "") -> None:
    if not isinstance(out, torch.Tensor):
        raise ExerciseError(
            f"{what} returned {type(out).__name__}, not a torch.Tensor of shape {expected_shape}"
        )
    if tuple(out.shape) != expected_shape:
        raise ExerciseError(
            f"wrong output shape: {what} returned {tuple(out.shape)}, expected {expected_shape}"
            + (f". {hint}" if hint else "")
        )


# ============================================================================================
# 00 · Tour
# ============================================================================================


def _photo_like(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """An H x W x 3 uint8 image with smooth areas and sharp edges (blocks plus fine noise)."""
    coarse = rng.uniform(20, 235, (h // 5 + 2, w // 5 + 2, 3))
    blocks = np.kron(coarse, np.ones((5, 5, 1)))[:h, :w]
    return np.clip(np.round(blocks + rng.normal(0, 6, (h, w, 3))), 0, 255).astype(np.uint8)


@_isolated
def check_bicubic_baseline(fn: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]) -> None:
    """Check ``fn(hr, scale) -> (lr, sr)``: the benchmark's LR image and its bicubic upscaling.

    ``hr``: H x W x 3 uint8 image, H and W not necessarily multiples of ``scale``. Crop it to
    multiples of ``scale`` (:func:`edsr_lite.images.modcrop`), shrink it with MATLAB's bicubic
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
        call = f"{_name(fn)}(hr of shape {hr.shape}, {s})"
        out = _call(fn, hr.copy(), s, what=call)
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
            mistake = _diagnose(
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
                    "levels: shrink the mod-cropped HR with edsr_lite.imresize(hr, 1 / scale)"
                )
                + f" ({call})"
            )
        if not np.array_equal(sr, sr_ref):
            mistake = _diagnose(
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
                    "grey levels: enlarge lr with edsr_lite.imresize(lr, scale)"
                )
                + f" ({call})"
            )
    _passed("check_bicubic_baseline", len(cases))


@_isolated
def check_error_map(fn: Callable[[np.ndarray, np.ndarray, int], np.ndarray]) -> None:
    """Check ``fn(sr, hr, scale) -> map``: where an upscaling is wrong, pixel by pixel.

    ``sr``, ``hr``: H x W x 3 uint8 images. Return the absolute difference of their Y channels
    (:func:`edsr_lite.metrics.rgb_to_y`, float), without ``scale`` pixels on each border: an
    (H - 2 scale) x (W - 2 scale) float array of grey levels >= 0, whose mean square is the
    MSE that PSNR uses. Reference: :func:`edsr_lite.course.tour.error_maps`. Three image pairs, x2 to
    x4, whose errors go both ways (SR brighter and darker than HR).
    """
    rng = np.random.default_rng(1)
    cases = [(30, 24, 2), (33, 27, 3), (36, 44, 4)]
    for h, w, s in cases:
        sr, hr = _benchmark_pair(rng, h, w, s)
        inner = (slice(s, -s), slice(s, -s))
        y_sr, y_hr = rgb_to_y(sr), rgb_to_y(hr)
        expected = np.abs(y_sr - y_hr)[inner]
        call = f"{_name(fn)}(sr, hr, {s}) on {h} x {w} images"
        got = np.asarray(_call(fn, sr.copy(), hr.copy(), s, what=call), dtype=np.float64)
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
        mistake = _diagnose(
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
                    np.abs(_full_range_y(sr) - _full_range_y(hr))[inner],
                ),
            ],
            lambda a, b: a.shape == b.shape and np.allclose(a, b, atol=1e-6),
        )
        worst = float(np.abs(got - expected).max())
        raise ExerciseError(
            (mistake or f"wrong values (up to {worst:.2f} grey levels off)")
            + f": {call}; expected |rgb_to_y(sr) - rgb_to_y(hr)| with {s} pixels shaved"
        )
    _passed("check_error_map", len(cases))


# ============================================================================================
# 01 · BN removal
# ============================================================================================

_NORM_LAYERS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


@_isolated
def check_resblock(block_class: Callable[..., nn.Module]) -> None:
    """Check an EDSR residual block: ``x + res_scale * conv(relu(conv(x)))``, no BN.

    ``block_class(n_feats, kernel_size=3, res_scale=1.0)`` must build an ``nn.Module`` (a class
    or a factory function) with exactly two ``nn.Conv2d`` layers (``n_feats`` -> ``n_feats``
    channels, ``kernel_size`` x ``kernel_size``, 'same' padding, with bias), a ReLU between
    them, no normalization layer, and the skip connection. Its ``forward(x)`` maps
    N x n_feats x H x W to the same shape, values of either sign.

    The student's convolution weights are copied into :class:`edsr_lite.models.ResBlock`
    (conv order as registered, or the other way round) and both blocks run on the same random
    input; three cases (features 8/16/6, kernel 3/3/5, res_scale 1/0.1/0.5, odd sizes). Also
    checked: the input is not modified in place, and the gradient flows back.
    """
    name = getattr(block_class, "__name__", "your block")
    cases = [(8, 3, 1.0, (2, 8, 9, 11)), (16, 3, 0.1, (1, 16, 7, 10)), (6, 5, 0.5, (3, 6, 8, 8))]
    with _seeded(1):
        for i, (n_feats, k, s, shape) in enumerate(cases):
            call = f"{name}({n_feats}, kernel_size={k}, res_scale={s})"
            block = _call(block_class, n_feats, kernel_size=k, res_scale=s, what=call)
            if not isinstance(block, nn.Module):
                raise ExerciseError(
                    f"{call} returned {type(block).__name__}, not an nn.Module: subclass "
                    "nn.Module and call super().__init__() first"
                )
            norms = [(n, type(m).__name__) for n, m in block.named_modules() if _is_norm(m)]
            if norms:
                where = ", ".join(f"{t} ('{n}')" for n, t in norms)
                raise ExerciseError(
                    f"BN still present: the block contains {where}. The EDSR block has no "
                    "normalization layer: removing BN from SRResNet's block is the paper's first "
                    "change (Sec. 3.1)"
                )
            convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
            _check_block_convs(convs, n_feats, k, call)
            reference = ResBlock(n_feats, k, res_scale=s).eval()
            block.eval()
            x = torch.randn(shape)
            x_before = x.clone()
            with torch.no_grad():
                out = _call(block, x, what=f"{call}(x) with x of shape {shape}")
            if not torch.equal(x, x_before):
                raise ExerciseError(
                    "your forward changed its input x in place (x += ..., or an in-place ReLU "
                    "on x): autograd needs x unchanged; write `return x + ...` instead"
                )
            _check_tensor(
                out, shape, f"{call}(x)", "The block keeps N x F x H x W: use padding=k // 2"
            )
            candidates = []
            for first, second in (convs, convs[::-1]):
                _load_convs(reference, first, second)
                with torch.no_grad():
                    if _same(out, reference(x)):
                        break
                    candidates += _resblock_mistakes(x, first, second, s)
            else:
                mistake = _diagnose(out, candidates, _same)
                with torch.no_grad():
                    _load_convs(reference, *convs)
                    diff = _max_diff(out, reference(x))
                raise ExerciseError(
                    (mistake or "the output differs from the EDSR block's")
                    + f" ({call}, input {shape}: {diff} against models.ResBlock)"
                )
            if i == 0:
                _check_backward(block, x, call)
    _passed("check_resblock", len(cases))


def _is_norm(module: nn.Module) -> bool:
    return isinstance(module, _NORM_LAYERS)


def _check_block_convs(convs: list[nn.Conv2d], n_feats: int, k: int, call: str) -> None:
    if len(convs) != 2:
        raise ExerciseError(
            f"{call} has {len(convs)} nn.Conv2d layers; the EDSR block has exactly two "
            "(conv - ReLU - conv), created in __init__ (a layer created inside forward() "
            "would get new random weights at every call and never train)"
        )
    for j, conv in enumerate(convs, 1):
        if (conv.in_channels, conv.out_channels) != (n_feats, n_feats):
            raise ExerciseError(
                f"conv {j} maps {conv.in_channels} -> {conv.out_channels} channels; both convs "
                f"keep n_feats = {n_feats} channels"
            )
        if tuple(conv.kernel_size) != (k, k):
            raise ExerciseError(
                f"conv {j} has kernel size {tuple(conv.kernel_size)}, expected ({k}, {k}): use "
                "the kernel_size argument"
            )
        if tuple(conv.padding) != (k // 2, k // 2) or conv.stride != (1, 1):
            raise ExerciseError(
                f"conv {j} has padding {conv.padding} and stride {conv.stride}: a "
                f"{k}x{k} conv keeps H x W with padding={k // 2} (kernel_size // 2), stride 1"
            )
        if conv.bias is None:
            raise ExerciseError(
                f"conv {j} has no bias: EDSR's convolutions keep theirs (bias=True, the "
                "default; only a BN layer after a conv makes its bias redundant)"
            )


def _load_convs(reference: ResBlock, first: nn.Conv2d, second: nn.Conv2d) -> None:
    with torch.no_grad():
        for target, source in ((reference.body[0], first), (reference.body[2], second)):
            target.weight.copy_(source.weight)
            target.bias.copy_(source.bias)


def _resblock_mistakes(
    x: torch.Tensor, conv1: nn.Conv2d, conv2: nn.Conv2d, s: float
) -> list[tuple[str, torch.Tensor]]:
    """What the typical wrong blocks compute, with the student's own convolutions."""
    with torch.no_grad():
        branch = conv2(F.relu(conv1(x)))
        mistakes = [
            (
                "forgot the skip connection: the block returns res_scale * body(x); add the "
                "input back: x + res_scale * body(x)",
                s * branch,
            ),
            (
                "ReLU after the sum: the EDSR block has no activation after the addition "
                "(Fig. 2c); return x + res_scale * body(x) as it is",
                F.relu(x + s * branch),
            ),
            (
                "no ReLU between the two convolutions: body(x) is conv(relu(conv(x)))",
                x + s * conv2(conv1(x)),
            ),
            (
                "a ReLU after the second convolution: the branch ends with the conv",
                x + s * F.relu(branch),
            ),
        ]
        if s != 1:
            mistakes += [
                (
                    f"forgot res_scale: the branch must be multiplied by res_scale (= {s:g}) "
                    "before it is added to x",
                    x + branch,
                ),
                (
                    "res_scale multiplies the whole sum; it scales only the branch: "
                    "x + res_scale * body(x)",
                    s * (x + branch),
                ),
                (
                    "res_scale multiplies the input; it scales the branch: x + res_scale * body(x)",
                    s * x + branch,
                ),
                (
                    "res_scale divides the branch; it multiplies it (0.1 makes it smaller)",
                    x + branch / s,
                ),
            ]
    return mistakes


def _check_backward(block: nn.Module, x: torch.Tensor, call: str) -> None:
    block.train()
    x = x.clone().requires_grad_(True)
    try:
        block(x).square().sum().backward()
    except (NotImplementedError, ExerciseError):
        raise
    except RuntimeError as error:
        raise ExerciseError(
            f"the backward pass through {call} fails: {error}. An in-place operation "
            "(x += ..., out.mul_(...)) overwrote a tensor autograd needs; use out-of-place ops"
        ) from error
    if x.grad is None or not all(p.grad is not None for p in block.parameters()):
        raise ExerciseError(
            f"no gradient reaches the input or the weights of {call}: do not use "
            "torch.no_grad() or .detach() inside forward"
        )


@_isolated
def check_saved_activation_bytes(fn: Callable[[int, int, int, int, bool], int]) -> None:
    """Check ``fn(batch, n_feats, height, width, bn) -> bytes``: the memory of the feature maps
    that one residual block keeps for the backward pass, in training.

    The block is :class:`edsr_lite.models.ResBlock` (``bn=False``: the EDSR block;
    ``bn=True``: SRResNet's conv-BN-ReLU-conv-BN, as in EDSR's ablation), its input a float32
    feature map of batch x n_feats x height x width. Count the distinct tensors of that size
    that autograd saves (small per-channel tensors, such as BN's batch mean, do not count) and
    return their bytes (an int: maps x batch x n_feats x height x width x 4).

    The reference *measures* the count with :func:`edsr_lite.course.bn_removal.count_saved_maps` (one
    block, a small input), so the answer is what PyTorch really keeps, not what a textbook
    says. Six cases, with and without BN, the paper's batch (16 x 64 x 48 x 48) among them.
    """
    with _seeded(2):
        x = torch.randn(2, 8, 5, 7)
        maps = {bn: count_saved_maps(ResBlock(8, bn=bn).train(), x) for bn in (False, True)}
    cases = [
        (16, 64, 48, 48, False),
        (16, 64, 48, 48, True),
        (4, 32, 24, 30, False),
        (1, 256, 10, 17, True),
        (3, 5, 7, 11, False),
        (2, 12, 9, 6, True),
    ]
    for batch, n_feats, h, w, bn in cases:
        call = f"{_name(fn)}({batch}, {n_feats}, {h}, {w}, bn={bn})"
        value = _call(fn, batch, n_feats, h, w, bn, what=call)
        got = _number(value, call)
        one_map = batch * n_feats * h * w * 4
        expected = maps[bn] * one_map
        if got == expected:
            continue
        block = "SRResNet block (with BN)" if bn else "EDSR block"
        mistake = _diagnose(
            got,
            [
                ("you counted values, not bytes: each float32 value takes 4 bytes", expected / 4),
                ("float32 takes 4 bytes per value, not 8 (that is float64)", expected * 2),
                (
                    "forgot the batch dimension: every image of the minibatch has its maps",
                    expected / batch if batch > 1 else None,
                ),
                ("forgot the channels: a feature map has n_feats channels", expected / n_feats),
            ],
            lambda a, b: math.isclose(a, b, rel_tol=1e-9),
        )
        if mistake is None and got % one_map == 0:
            mistake = _maps_mistake(int(got // one_map), maps, bn)
        raise ExerciseError(
            (mistake or "wrong number of bytes")
            + f". {call} returned {got:g}; the {block} keeps {maps[bn]} maps of "
            f"{batch} x {n_feats} x {h} x {w} float32 values = {expected} bytes"
        )
    _passed("check_saved_activation_bytes", len(cases))


def _name(fn: Any) -> str:
    return getattr(fn, "__name__", "your function")


def _maps_mistake(counted: int, maps: Mapping[bool, int], bn: bool) -> str:
    if bn and counted == maps[False]:
        return (
            f"you counted {counted} maps with BN, as without it: each BN layer keeps its own "
            "input (the conv's output) to compute its gradient, so BN adds maps"
        )
    if not bn and counted == maps[True]:
        return (
            f"you counted {counted} maps without BN, as with it: without BN nothing needs the "
            "convs' outputs except the ReLU"
        )
    if counted == maps[bn] + 1:
        return (
            f"you counted {counted} maps, one too many: the ReLU is in place (inplace=True), so "
            "it overwrites the conv output it reads -- that output and the ReLU's are one map, "
            "saved twice but stored once"
        )
    if counted < maps[bn]:
        return (
            f"you counted {counted} maps, too few: the first conv keeps its input (for its "
            "weight gradient), the ReLU its output (which the second conv also reads)"
            + (", and each BN its input" if bn else "")
        )
    return f"you counted {counted} maps per block"


# ============================================================================================
# 02 · Residual scaling
# ============================================================================================


@_isolated
def check_activation_growth(fn: Callable[[nn.Module, torch.Tensor], float]) -> None:
    """Check ``fn(model, x) -> float``: how much the activations grow through the residual
    blocks of an EDSR ``model`` for the input batch ``x``.

    ``model``: an :class:`edsr_lite.models.EDSR` (``model.body`` holds the ``ResBlock`` s, then
    one conv); ``x``: N x 3 x h x w, 0..255. Return std(output of the last ResBlock) /
    std(output of the first ResBlock), measured in one forward pass with forward hooks
    (``register_forward_hook``), and remove the hooks before returning.

    Reference: :func:`edsr_lite.course.residual_scaling.depth_profile`'s ``activation_growth``. Three
    models (6 blocks with res_scale 1 and 0.1, 3 blocks at x3), random inputs.
    """
    cases = [(6, 16, 1.0, 2, (2, 3, 10, 10)), (6, 16, 0.1, 2, (1, 3, 12, 9)), (3, 8, 1.0, 3, None)]
    with _seeded(3):
        for n_blocks, n_feats, s, scale, shape in cases:
            shape = shape or (2, 3, 7, 8)
            model = EDSR(scale, n_resblocks=n_blocks, n_feats=n_feats, res_scale=s)
            x = torch.rand(shape) * 255
            hr = torch.rand(shape[0], 3, scale * shape[2], scale * shape[3]) * 255
            expected = depth_profile(model, x, hr).activation_growth
            model.zero_grad(set_to_none=True)
            stats = _block_stats(model, x)
            call = f"{_name(fn)}(model, x) for {n_blocks} blocks x {n_feats}, res_scale {s:g}"
            with torch.no_grad():
                got = _number(_call(fn, model, x, what=call), call)
            left = [n for n, m in model.named_modules() if m._forward_hooks or m._forward_pre_hooks]
            if left:
                raise ExerciseError(
                    f"{call} left hooks on {', '.join(repr(n or 'model') for n in left)}: keep "
                    "the handle that register_forward_hook returns and call handle.remove() "
                    "(a forgotten hook runs, and keeps its tensors alive, at every later call)"
                )
            if math.isclose(got, expected, rel_tol=1e-4):
                continue
            out_std, in_std, out_abs = stats["out_std"], stats["in_std"], stats["out_abs"]
            mistake = _diagnose(
                got,
                [
                    (
                        "the ratio is upside down: divide the last block's std by the first's",
                        1 / expected,
                    ),
                    ("that is the variance's growth; take the std (the square root)", expected**2),
                    (
                        "measured the blocks' inputs (register_forward_pre_hook): measure their "
                        "outputs (register_forward_hook)",
                        in_std[-1] / in_std[0],
                    ),
                    (
                        "the denominator is the first block's input (the head's output); use the "
                        "first block's output",
                        out_std[-1] / in_std[0],
                    ),
                    (
                        "measured the mean absolute value; use the standard deviation (.std())",
                        out_abs[-1] / out_abs[0],
                    ),
                    (
                        "measured the output of the whole body (its last layer is a conv, not "
                        "a ResBlock): hook each ResBlock (isinstance(m, ResBlock) for m in "
                        "model.body)",
                        stats["body_std"][0] / out_std[0],
                    ),
                ],
                lambda a, b: math.isclose(a, b, rel_tol=1e-4),
            )
            raise ExerciseError(
                (mistake or "wrong growth") + f": {call} returned {got:.6g}, expected "
                f"{expected:.6g} (std of the last ResBlock's output / std of the first's)"
            )
    _passed("check_activation_growth", len(cases))


def _block_stats(model: EDSR, x: torch.Tensor) -> dict[str, list[float]]:
    """Per-ResBlock std of outputs and inputs, mean |output|; std of the body's output."""
    outs: list[torch.Tensor] = []
    ins: list[torch.Tensor] = []
    body: list[torch.Tensor] = []
    blocks = [b for b in model.body if isinstance(b, ResBlock)]
    handles = [b.register_forward_hook(lambda m, a, o: outs.append(o.clone())) for b in blocks]
    handles += [b.register_forward_pre_hook(lambda m, a: ins.append(a[0].clone())) for b in blocks]
    handles.append(model.body.register_forward_hook(lambda m, a, o: body.append(o.clone())))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return {
        "out_std": [float(o.std()) for o in outs],
        "in_std": [float(i.std()) for i in ins],
        "out_abs": [float(o.abs().mean()) for o in outs],
        "body_std": [float(body[0].std())],
    }


@_isolated
def check_predicted_growth(fn: Callable[[int, float], float]) -> None:
    """Check ``fn(n_blocks, res_scale) -> float``: the growth of the activations' std over
    ``n_blocks`` residual blocks at PyTorch's default initialization, predicted by hand.

    A conv initialized as PyTorch does keeps a third of its input's mean square, the ReLU
    half of that, the second conv a third again, and ``res_scale`` multiplies the branch: each
    block adds ``res_scale**2 / 18`` of its input's variance; variances multiply block after
    block, and the std is the square root. Reference:
    :func:`edsr_lite.course.residual_scaling.predicted_growth`. Six cases (1 to 80 blocks, scale 0.1 to 2).
    """
    cases = [(32, 1.0), (32, 0.1), (16, 0.5), (80, 1.0), (1, 2.0), (7, 0.3)]
    for b, s in cases:
        call = f"{_name(fn)}({b}, {s})"
        got = _number(_call(fn, b, s, what=call), call)
        expected = predicted_growth(b, s)
        if math.isclose(got, expected, rel_tol=1e-9):
            continue
        mistake = _diagnose(
            got,
            [
                (
                    "that is the variance's growth: the std grows by its square root (exponent "
                    "B / 2, not B)",
                    (1 + s**2 / 18) ** b,
                ),
                (
                    "the branch's variance scales with res_scale squared, not res_scale",
                    (1 + s / 18) ** (b / 2),
                ),
                (
                    "the ReLU halves the mean square too: 1/3 x 1/2 x 1/3 = 1/18, not 1/9",
                    (1 + s**2 / 9) ** (b / 2),
                ),
                (
                    "each conv keeps a third of the mean square, the ReLU half: the branch adds "
                    "res_scale^2 / 18 of the variance, not res_scale^2",
                    (1 + s**2) ** (b / 2),
                ),
                (
                    "the blocks compound: multiply the variance by (1 + s^2/18) per block, do not "
                    "add B x s^2/18",
                    math.sqrt(1 + b * s**2 / 18),
                ),
                (
                    "the variance grows by a factor (1 + s^2/18) per block: you left out the 1 "
                    "(the skip connection carries the input through)",
                    (s**2 / 18) ** (b / 2),
                ),
            ],
            lambda a, v: math.isclose(a, v, rel_tol=1e-9),
        )
        raise ExerciseError(
            (mistake or "wrong prediction") + f": {call} returned {got:.6g}, expected "
            f"{expected:.6g}"
        )
    _passed("check_predicted_growth", len(cases))


@_isolated
def check_fold_res_scale(fn: Callable[[ResBlock], nn.Module]) -> None:
    """Check ``fn(block) -> folded``: fold a block's ``res_scale`` into its last convolution.

    ``block``: an :class:`edsr_lite.models.ResBlock` without BN (``block.body`` is conv, ReLU,
    conv; ``block.res_scale`` is s). Return a *copy* (``copy.deepcopy``) whose last conv has
    weight s·W and bias s·b and whose ``res_scale`` is 1; the given block stays unchanged.
    ``x + s·conv(y) = x + conv'(y)``, so the outputs agree to float rounding.

    Reference: :func:`edsr_lite.models.fold_res_scale`. Three blocks (s = 0.1, 0.5, 2; kernel
    3 and 5), random inputs N x F x H x W.
    """
    cases = [(8, 3, 0.1, (2, 8, 6, 7)), (6, 5, 0.5, (1, 6, 9, 5)), (4, 3, 2.0, (3, 4, 5, 5))]
    with _seeded(4):
        for n_feats, k, s, shape in cases:
            block = ResBlock(n_feats, k, res_scale=s).eval()
            with torch.no_grad():
                for conv in (block.body[0], block.body[2]):
                    conv.bias.add_(torch.randn_like(conv.bias))  # biases that matter
            before = copy.deepcopy(block)
            x = torch.randn(shape)
            call = f"{_name(fn)}(block) for res_scale={s:g}"
            folded = _call(fn, block, what=call)
            changed = [
                n
                for n, p in block.state_dict().items()
                if not torch.equal(p, before.state_dict()[n])
            ]
            if changed or block.res_scale != s:
                raise ExerciseError(
                    f"{call} changed the block it was given ({', '.join(changed) or 'res_scale'})"
                    ": fold a copy (folded = copy.deepcopy(block)) and leave the original as it "
                    "is (a model you are still training must keep its res_scale)"
                )
            if folded is block:
                raise ExerciseError(f"{call} returned the block itself: return a folded copy")
            if not isinstance(folded, ResBlock):
                raise ExerciseError(
                    f"{call} returned {type(folded).__name__}: return a ResBlock (a deep copy "
                    "of the block, with its last conv changed)"
                )
            if len(folded.body) != len(block.body):
                raise ExerciseError(
                    f"the folded block's body has {len(folded.body)} layers instead of "
                    f"{len(block.body)}: change the last conv's weights, add no layer"
                )
            with torch.no_grad():
                expected = fold_res_scale(before).eval()(x)
                original = before(x)
                out = folded.eval()(x)
            if folded.res_scale != 1:
                raise ExerciseError(
                    "nothing was folded: the copy still multiplies its branch by res_scale = "
                    f"{folded.res_scale:g}. Scale the last conv's weight and bias by it, then "
                    "set res_scale = 1.0"
                    if _same(out, original)
                    else f"the folded block's res_scale is {folded.res_scale:g}: once the last "
                    "conv carries the scale, set res_scale = 1.0, or the branch is scaled twice"
                )
            if _same(out, expected, atol=1e-5):
                continue
            mistake = _diagnose(out, _fold_mistakes(before, x), lambda a, b: _same(a, b, 1e-5))
            raise ExerciseError(
                (mistake or "the folded block's output differs from the original's")
                + f" ({call}: {_max_diff(out, expected)})"
            )
    _passed("check_fold_res_scale", len(cases))


def _fold_mistakes(block: ResBlock, x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    s = block.res_scale

    def variant(scale_layers: Sequence[int], weight: float, bias: float) -> torch.Tensor:
        b = copy.deepcopy(block)
        with torch.no_grad():
            for i in scale_layers:
                b.body[i].weight.mul_(weight)
                b.body[i].bias.mul_(bias)
            b.res_scale = 1.0
            return b(x)

    return [
        (
            "the last conv's bias was not scaled (scaling the first conv instead does the same, "
            "since relu(s z) = s relu(z)): s * (W y + b) = (s W) y + s b, so fold the scale into "
            "the last conv's weight *and* bias",
            variant([2], s, 1.0),
        ),
        (
            "only the bias was scaled: multiply the weight by res_scale as well",
            variant([2], 1.0, s),
        ),
        (
            "you scaled both convs: the branch is then scaled twice; scale only the last conv",
            variant([0, 2], s, s),
        ),
        (
            "you divided by res_scale: multiply the last conv's weight and bias by it",
            variant([2], 1 / s, 1 / s),
        ),
    ]


# ============================================================================================
# 03 · Single- vs multi-scale (MDSR)
# ============================================================================================


def _mdsr_parts(
    model: MDSR,
    x: torch.Tensor,
    i: int,
    pre: bool = True,
    skip: bool = True,
    mean: bool = True,
    pre_after_body: bool = False,
) -> torch.Tensor:
    """MDSR's forward with branch ``i``, or one of the typical mistakes."""
    if mean:
        x = model.sub_mean(x)
    x = model.head(x)
    if pre and not pre_after_body:
        x = model.pre_process[i](x)
    x = x + model.body(x) if skip else model.body(x)
    if pre_after_body:
        x = model.pre_process[i](x)
    x = model.tail(model.upsample[i](x))
    return model.add_mean(x) if mean else x


@_isolated
def check_mdsr_forward(fn: Callable[[MDSR, torch.Tensor, int], torch.Tensor]) -> None:
    """Check ``fn(model, x, scale) -> sr``: MDSR's forward pass, written with its parts.

    ``model``: an :class:`edsr_lite.models.MDSR` (``model.scales``: its scales, e.g. (2, 3, 4),
    in the order of its branches); ``x``: N x 3 x h x w, 0..255; return N x 3 x (scale*h) x
    (scale*w). The path: ``sub_mean``, ``head``, the scale's ``pre_process`` branch, ``body``
    with the global skip, the scale's ``upsample`` branch, ``tail``, ``add_mean``. Calling
    ``model(x, scale)`` itself is not allowed.

    Reference: ``model(x, scale)``. Two models: scales (2, 3, 4), and (4, 2) -- where the
    branch of x2 is not ``scale - 2`` -- five (model, scale) cases.
    """
    with _seeded(5):
        models = [
            MDSR((2, 3, 4), n_resblocks=2, n_feats=8).eval(),
            MDSR((4, 2), n_resblocks=1, n_feats=8).eval(),
        ]
        x = torch.rand(2, 3, 5, 6) * 255
    cases = [(m, s) for m in models for s in sorted(m.scales)]
    for model, scale in cases:
        with torch.no_grad():
            expected = model(x, scale)
        student_model = copy.deepcopy(model)
        student_model.forward = _forbidden_forward  # type: ignore[method-assign]
        call = f"{_name(fn)}(model, x, {scale}) with model.scales = {model.scales}"
        with torch.no_grad():
            out = _call(
                fn,
                student_model,
                x,
                scale,
                what=call,
                hint="The branches are numbered by their place in model.scales: "
                "i = model.scales.index(scale)",
            )
        if not isinstance(out, torch.Tensor):
            raise ExerciseError(f"{call} returned {type(out).__name__}, not a tensor")
        n, c, h, w = x.shape
        if tuple(out.shape) != tuple(expected.shape):
            ratio = out.shape[-1] / w if out.ndim == 4 else None
            branch = ratio in model.scales and ratio != scale
            raise ExerciseError(
                f"wrong output shape: {call} returned {tuple(out.shape)}, expected "
                f"{tuple(expected.shape)}"
                + (
                    f": that is the x{int(ratio)} branch. Find the branch of `scale` with "
                    "i = model.scales.index(scale) (the branches follow model.scales, which "
                    "need not be 2, 3, 4 in that order)"
                    if branch
                    else ""
                )
            )
        if _same(out, expected, atol=1e-3):
            continue
        i = model.scales.index(scale)
        with torch.no_grad():
            candidates = [
                (
                    f"used the branch of x{model.scales[j]} (index {j}) for x{scale}: pick "
                    "i = model.scales.index(scale) for both pre_process and upsample",
                    _mdsr_parts(model, x, j),
                )
                for j in range(len(model.scales))
                if j != i and model.scales[j] == scale
            ]
            candidates += [
                (
                    "the pre_process branch is mixed up: pre_process[i] must match upsample[i]",
                    _mixed_branches(model, x, i),
                ),
                (
                    "forgot the global skip: x = x + model.body(x) after pre_process",
                    _mdsr_parts(model, x, i, skip=False),
                ),
                (
                    "forgot the mean shift: start with model.sub_mean(x), end with "
                    "model.add_mean(...)",
                    _mdsr_parts(model, x, i, mean=False),
                ),
                (
                    "skipped the scale-specific pre-processing: model.pre_process[i] comes right "
                    "after the head",
                    _mdsr_parts(model, x, i, pre=False),
                ),
                (
                    "pre_process runs after the body; it comes before it, right after the head",
                    _mdsr_parts(model, x, i, pre_after_body=True),
                ),
            ]
        mistake = _diagnose(out, candidates, lambda a, b: _same(a, b, atol=1e-3))
        raise ExerciseError(
            (mistake or "the output differs from model(x, scale)")
            + f" ({call}: {_max_diff(out, expected)})"
        )
    _passed("check_mdsr_forward", len(cases))


def _mixed_branches(model: MDSR, x: torch.Tensor, i: int) -> torch.Tensor | None:
    if len(model.scales) < 2:
        return None
    j = (i + 1) % len(model.scales)
    x = model.head(model.sub_mean(x))
    x = model.pre_process[j](x)
    x = x + model.body(x)
    return model.add_mean(model.tail(model.upsample[i](x)))


def _forbidden_forward(*args: Any, **kwargs: Any) -> None:
    raise ExerciseError(
        "do not call model(x, scale) or model.forward: that is the answer itself. Compose the "
        "parts: model.sub_mean, model.head, model.pre_process[i], model.body, model.upsample[i], "
        "model.tail, model.add_mean"
    )


@_isolated
def check_mdsr_step(
    fn: Callable[[MDSR, torch.optim.Optimizer, Mapping, np.random.Generator], tuple[int, float]],
) -> None:
    """Check ``fn(model, optimizer, batches, rng) -> (scale, loss)``: one MDSR training step.

    ``model``: an :class:`edsr_lite.models.MDSR` with ``model.scales`` (2, 3, 4);
    ``optimizer``: Adam over its parameters; ``batches``: ``{scale: (lr, hr)}`` with ``lr``
    N x 3 x p x p and ``hr`` N x 3 x (scale*p) x (scale*p), float32 0..255; ``rng``: a
    ``numpy.random.Generator``. The step draws **one** scale at random with ``rng`` (each
    minibatch trains one branch, paper Sec. 3.2), clears the gradients, computes the L1 loss
    of ``model(lr, scale)`` against ``hr``, back-propagates, updates, and returns the scale and
    the loss (a float).

    Reference: the trainer's step (``optimizer.zero_grad(set_to_none=True)``,
    :func:`edsr_lite.train.forward_backward`, ``optimizer.step()``), replayed on a copy of the
    model with the scale the student drew. 10 steps of a small MDSR: losses, gradients and
    weights are compared step by step, then the scales: all three drawn, reproducible from the
    rng's seed.
    """
    steps = 10
    with _seeded(6):
        model = MDSR((2, 3, 4), n_resblocks=1, n_feats=4)
        batches = {
            s: (torch.rand(2, 3, 5, 5) * 255, torch.rand(2, 3, 5 * s, 5 * s) * 255)
            for s in model.scales
        }
    start = copy.deepcopy(model)
    reference = copy.deepcopy(model)
    optimizer, ref_optimizer = _adam(model), _adam(reference)
    rng = np.random.default_rng(2017)
    drawn: list[int] = []
    for step in range(1, steps + 1):
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        old_grads = {
            n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()
        }
        call = f"{_name(fn)}(model, optimizer, batches, rng), step {step}"
        result = _call(fn, model, optimizer, batches, rng, what=call)
        scale, loss = _step_result(result, call, model.scales)
        drawn.append(scale)
        ref_optimizer.zero_grad(set_to_none=True)
        lr, hr = batches[scale]
        ref_loss = float(forward_backward(reference, lr, hr, scale, bf16=False))
        ref_optimizer.step()
        _check_other_branches(model, old_grads, scale, call)
        _compare_loss(loss, ref_loss, reference, lr, hr, scale, before, call)
        _compare_grads(model, reference, old_grads, call)
        _compare_weights(model, reference, before, scale, call)
    missing = sorted(set(model.scales) - set(drawn))
    if missing:
        raise ExerciseError(
            f"in {steps} steps your function drew only {sorted(set(drawn))} "
            f"(never x{', x'.join(map(str, missing))}): draw the scale at random from "
            "model.scales, e.g. model.scales[rng.integers(len(model.scales))]"
        )
    cycle = [model.scales[i % len(model.scales)] for i in range(steps)]
    if drawn == cycle:
        raise ExerciseError(
            "the scales come in a fixed cycle (2, 3, 4, 2, 3, 4, ...): the paper draws each "
            "minibatch's scale at random; use rng"
        )
    again = copy.deepcopy(start)
    again_rng = np.random.default_rng(2017)
    again_opt = _adam(again)
    replay = [
        _step_result(
            _call(fn, again, again_opt, batches, again_rng, what="replay"), "", again.scales
        )[0]
        for _ in range(6)
    ]
    if replay != drawn[:6]:
        raise ExerciseError(
            f"the same seed gave other scales ({drawn[:6]} then {replay}): draw the scale with "
            "the rng you are given (rng.integers or rng.choice), not with random, np.random or "
            "torch, so that a run can be repeated exactly"
        )
    _passed("check_mdsr_step", steps)


def _adam(model: nn.Module) -> torch.optim.Adam:
    """The paper's Adam, with a larger eps: weights then depend smoothly on the gradients, so
    an answer whose loss rounds differently (mean of abs vs F.l1_loss) still compares equal."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.Adam(params, lr=1e-2, betas=ADAM_BETAS, eps=1e-2)


def _step_result(result: Any, call: str, scales: Sequence[int]) -> tuple[int, float]:
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise ExerciseError(f"{call} returned {result!r}: return a pair (scale, loss)")
    scale, loss = result
    try:
        scale = int(scale)
    except (TypeError, ValueError):
        raise ExerciseError(f"{call} returned the scale {scale!r}; it should be an int") from None
    if scale not in scales:
        raise ExerciseError(
            f"{call} returned the scale {scale}, which is not one of model.scales = {scales}; "
            "draw it from model.scales (not an index into it)"
        )
    return scale, _number(loss, call)


def _compare_loss(
    loss: float,
    expected: float,
    reference: MDSR,
    lr: torch.Tensor,
    hr: torch.Tensor,
    scale: int,
    before: Mapping[str, torch.Tensor],
    call: str,
) -> None:
    if math.isclose(loss, expected, rel_tol=1e-4, abs_tol=1e-4):
        return
    with torch.no_grad():
        old = copy.deepcopy(reference)
        old.load_state_dict({**old.state_dict(), **before}, strict=True)
        sr = old(lr, scale)
        after = reference(lr, scale)
    mistake = _diagnose(
        loss,
        [
            (
                "that is the mean squared error: EDSR and MDSR train with the L1 loss "
                "(F.l1_loss), which the paper found to converge better",
                float(F.mse_loss(sr, hr)),
            ),
            (
                "that is the loss after the update: return the loss of the forward pass you "
                "back-propagated",
                float(F.l1_loss(after, hr)),
            ),
            (
                "that is the sum of absolute errors: take the mean (F.l1_loss)",
                float((sr - hr).abs().sum()),
            ),
        ],
        lambda a, b: math.isclose(a, b, rel_tol=1e-4),
    )
    raise ExerciseError(
        (mistake or "wrong loss") + f": {call} returned loss {loss:.6g}, the L1 loss of the x"
        f"{scale} minibatch is {expected:.6g}"
    )


def _branch_of(name: str, scales: Sequence[int]) -> int | None:
    for part in ("pre_process.", "upsample."):
        if name.startswith(part):
            return scales[int(name[len(part) :].split(".")[0])]
    return None


def _check_other_branches(
    model: MDSR, old_grads: Mapping[str, torch.Tensor | None], scale: int, call: str
) -> None:
    """The branches of the scales not drawn must have no gradient at all."""
    for name, p in model.named_parameters():
        branch = _branch_of(name, model.scales)
        if branch is None or branch == scale or p.grad is None:
            continue
        old = old_grads.get(name)
        nonzero = bool(p.grad.abs().sum() > 0)
        if nonzero and old is not None and torch.equal(p.grad, old):
            raise ExerciseError(
                f"{call}: the gradients of an earlier step are still there ({name}, of the "
                f"x{branch} branch): clear them with optimizer.zero_grad() before "
                "loss.backward(), every step"
            )
        if nonzero:
            raise ExerciseError(
                f"{call} drew x{scale}, but the x{branch} branch got a gradient ({name}): "
                "one minibatch trains one scale; do not add up the losses of all scales"
            )
        raise ExerciseError(
            f"{call}: the x{branch} branch, not used at x{scale}, has a zero gradient instead "
            "of none. Adam still moves a parameter whose gradient is zero (its momentum keeps "
            "pushing), so clear with optimizer.zero_grad(set_to_none=True) (the default), not "
            "set_to_none=False"
        )


def _compare_grads(
    model: MDSR,
    reference: MDSR,
    old_grads: Mapping[str, torch.Tensor | None],
    call: str,
) -> None:
    """The gradients of the drawn branch and the shared parts: those of the L1 loss."""
    ref = dict(reference.named_parameters())
    for name, p in model.named_parameters():
        old = old_grads.get(name)
        want = ref[name].grad
        if p.grad is None or want is None:
            if p.requires_grad and want is not None:
                raise ExerciseError(
                    f"{call}: {name} has no gradient: call loss.backward() before optimizer.step()"
                )
            continue
        if torch.allclose(p.grad, want, rtol=1e-3, atol=1e-5):
            continue
        if old is not None and torch.allclose(p.grad, want + old, rtol=1e-3, atol=1e-5):
            raise ExerciseError(
                f"{call}: the gradients accumulate from step to step ({name}): clear them "
                "with optimizer.zero_grad() before loss.backward()"
            )
        raise ExerciseError(
            f"{call}: the gradient of {name} differs from the L1 loss's gradient "
            f"({_max_diff(p.grad, want)}); compute F.l1_loss(model(lr, scale), hr) and call "
            "backward() once"
        )


def _compare_weights(
    model: MDSR,
    reference: MDSR,
    before: Mapping[str, torch.Tensor],
    scale: int,
    call: str,
) -> None:
    ref = dict(reference.named_parameters())
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if all(torch.equal(p, before[n]) for n, p in trainable):
        raise ExerciseError(
            f"{call} changed no weight: call optimizer.step() after loss.backward()"
        )
    for name, p in model.named_parameters():
        if not torch.allclose(p, ref[name], rtol=1e-4, atol=1e-6):
            branch = _branch_of(name, model.scales)
            where = f" (the x{branch} branch, step drawn at x{scale})" if branch else ""
            raise ExerciseError(
                f"{call}: after the step {name}{where} differs from one Adam step on the "
                f"L1 loss ({_max_diff(p, ref[name])}): zero_grad, forward at the drawn scale, "
                "l1_loss, backward, optimizer.step(), once each"
            )


# ============================================================================================
# 04 · Pretrained initialization
# ============================================================================================


def _init_cases() -> list[tuple[str, nn.Module, dict[str, torch.Tensor]]]:
    """(label, target model, source state dict): x2 -> x4, x2 -> x3, BN model with extras."""
    cases = []
    for label, target_scale in (("x2 -> x4", 4), ("x2 -> x3", 3)):
        source = EDSR(2, n_resblocks=2, n_feats=8).state_dict()
        cases.append((label, EDSR(target_scale, n_resblocks=2, n_feats=8), source))
    source = EDSR(2, n_resblocks=1, n_feats=8, bn=True).state_dict()
    for key, value in source.items():
        if "running" in key:
            value.uniform_(0.5, 2.0)  # statistics that differ from a fresh BN's
    source["extra.weight"] = torch.ones(3)
    del source["body.0.body.0.bias"]
    cases.append(
        (
            "x2 BN model, source with an extra and a missing key",
            EDSR(2, n_resblocks=1, n_feats=8, bn=True),
            source,
        )
    )
    return cases


@_isolated
def check_copy_matching_weights(
    fn: Callable[[nn.Module, Mapping[str, torch.Tensor]], Sequence[str]],
) -> None:
    """Check ``fn(model, source_state_dict) -> copied_names``: pretrained initialization.

    Copy into ``model`` every tensor of ``source_state_dict`` (a ``{name: tensor}`` dict, as
    ``other_model.state_dict()``) whose name is in ``model.state_dict()`` **and** whose shape
    is the same; leave everything else as it is; return the names copied (any order). Copy
    the values (``tensor.copy_``, or ``load_state_dict(..., strict=False)`` on the matching
    part): the model must not share memory with the source, and keep its own Parameter
    objects. Buffers (BN's running statistics) count: they are in the state dict.

    Reference: :func:`edsr_lite.weights.init_from`. Three cases: EDSR x2 -> x4 (all but the
    second upsampling conv match), x2 -> x3 (the upsampler's shape differs), and a BN model
    from a source with an extra key and a missing one.
    """
    with _seeded(7):
        cases = _init_cases()
    for label, model, source in cases:
        reference = copy.deepcopy(model)
        report = init_from(reference, source, verbose=False)
        initial = {k: v.clone() for k, v in model.state_dict().items()}
        params = {n: id(p) for n, p in model.named_parameters()}
        source_copy = {k: v.clone() for k, v in source.items()}
        call = f"{_name(fn)}(model, source) for {label}"
        try:
            copied = fn(model, source)
        except (NotImplementedError, ExerciseError):
            raise
        except RuntimeError as error:
            text = str(error)
            if any(w in text for w in ("size mismatch", "shape", "must match the size")):
                mistake = (
                    "copied a tensor whose shape differs (load_state_dict refuses it even with "
                    "strict=False): keep only the tensors whose name *and* shape match"
                )
            elif "Missing key" in text or "Unexpected key" in text:
                mistake = (
                    "load_state_dict is strict by default: every key must match. Pass only "
                    "the matching tensors, with strict=False"
                )
            else:
                mistake = f"{call} raised RuntimeError: {text}"
            raise ExerciseError(f"{mistake} ({label})") from error
        except KeyError as error:
            raise ExerciseError(
                f"{call} raised KeyError {error}: not every name of the model is in the source "
                "(and the other way round); check `name in source` first"
            ) from error
        except Exception as error:
            raise ExerciseError(f"{call} raised {type(error).__name__}: {error}") from error
        if any(not torch.equal(v, source_copy[k]) for k, v in source.items()) or set(source) != set(
            source_copy
        ):
            raise ExerciseError(f"{call} changed the source state dict: only read from it")
        if {n: id(p) for n, p in model.named_parameters()} != params:
            raise ExerciseError(
                f"{call} replaced the model's Parameter objects: an optimizer made before would "
                "not see them. Copy values into the existing tensors (param.copy_(tensor) under "
                "torch.no_grad(), or model.load_state_dict(matching, strict=False))"
            )
        _compare_state(model, reference, initial, source_copy, report, label)
        _check_returned_names(copied, report.copied, call)
        with torch.no_grad():
            for value in source.values():
                value.add_(1)
        shared = [k for k in report.copied if torch.equal(model.state_dict()[k], source[k])]
        with torch.no_grad():
            for value in source.values():
                value.sub_(1)
        if shared:
            raise ExerciseError(
                f"the model shares memory with the source ({shared[0]}, ...): changing the "
                "source changes the model. Copy the values (param.copy_(tensor), "
                "load_state_dict) instead of assigning tensors (param.data = tensor)"
            )
    _passed("check_copy_matching_weights", len(cases))


def _compare_state(
    model: nn.Module,
    reference: nn.Module,
    initial: Mapping[str, torch.Tensor],
    source: Mapping[str, torch.Tensor],
    report: Any,
    label: str,
) -> None:
    state, want = model.state_dict(), reference.state_dict()
    buffers = {n for n, _ in model.named_buffers()}
    by_position = dict(initial)
    for (key, value), other in zip(initial.items(), source.values(), strict=False):
        if value.shape == other.shape:
            by_position[key] = other
    if any(not torch.equal(state[k], want[k]) for k in state) and all(
        torch.equal(state[k], by_position[k]) for k in state
    ):
        raise ExerciseError(
            f"you copied by position ({label}): the i-th tensor of the source went into the "
            "i-th tensor of the model. Copy by name, not by position: the two state dicts "
            "need not list the same tensors in the same order"
        )
    for key in report.copied:
        if torch.equal(state[key], want[key]):
            continue
        if torch.equal(state[key], initial[key]):
            hint = (
                " It is a buffer (BN's running statistics): buffers are in state_dict(), not "
                "in named_parameters()"
                if key in buffers
                else ""
            )
            raise ExerciseError(
                f"{key} was not copied, though its name and shape match ({label})." + hint
            )
        raise ExerciseError(
            f"{key} holds other values than the source's {key} ({label}): copy by name, not by "
            "position (the two state dicts need not list the same tensors in the same order)"
        )
    for key in report.left_random:
        if not torch.equal(state[key], initial[key]):
            why = "its shape differs" if key in report.shape_mismatch else "it is not in the source"
            raise ExerciseError(
                f"{key} changed, but {why}: it must keep its own (random) initialization ({label})"
            )


def _check_returned_names(copied: Any, expected: Sequence[str], call: str) -> None:
    if isinstance(copied, str) or not hasattr(copied, "__iter__"):
        raise ExerciseError(f"{call} returned {type(copied).__name__}: return the list of names")
    copied = list(copied)
    got, want = set(copied), set(expected)
    if got != want or len(copied) != len(got):
        extra, missing = sorted(got - want), sorted(want - got)
        raise ExerciseError(
            f"{call} returned the wrong names: "
            + "; ".join(
                part
                for part in (
                    f"{len(extra)} not copied ({', '.join(extra[:3])}...)" if extra else "",
                    f"{len(missing)} missing ({', '.join(missing[:3])}...)" if missing else "",
                    "some twice" if len(copied) != len(got) else "",
                )
                if part
            )
        )


@_isolated
def check_random_fraction(
    fn: Callable[[nn.Module, Mapping[str, torch.Tensor]], float],
) -> None:
    """Check ``fn(model, source_state_dict) -> fraction``: after pretrained initialization of
    ``model`` from ``source_state_dict``, which fraction of the model's values stays random.

    Count *values* (elements), over everything in ``model.state_dict()``: a tensor stays random
    when its name is not in the source or its shape differs there. Return a float in 0..1
    (x2 -> x4 EDSR: small; x2 -> x3: larger, the whole upsampler).

    Reference: the report of :func:`edsr_lite.weights.init_from` (``left_random``). The three
    cases of :func:`check_copy_matching_weights`.
    """
    with _seeded(7):
        cases = _init_cases()
    for label, model, source in cases:
        report = init_from(copy.deepcopy(model), source, verbose=False)
        sizes = {k: v.numel() for k, v in model.state_dict().items()}
        total = sum(sizes.values())
        expected = sum(sizes[k] for k in report.left_random) / total
        call = f"{_name(fn)}(model, source) for {label}"
        got = _number(_call(fn, model, source, what=call), call)
        if math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12):
            continue
        by_name = sum(sizes[k] for k in report.missing_in_source) / total
        mistake = _diagnose(
            got,
            [
                (
                    "that is the fraction copied: return the fraction left random (1 - yours)",
                    1 - expected,
                ),
                (
                    "you counted tensors, not values: weigh each tensor by its numel()",
                    len(report.left_random) / len(sizes),
                ),
                (
                    "a tensor whose name matches but whose shape differs is not copied either: it "
                    "stays random",
                    by_name if by_name != expected else None,
                ),
                ("that is a percentage: return a fraction between 0 and 1", 100 * expected),
                (
                    "count over the whole state dict (buffers too), not only the parameters",
                    _param_fraction(model, report),
                ),
            ],
            lambda a, b: math.isclose(a, b, rel_tol=1e-9),
        )
        raise ExerciseError(
            (mistake or "wrong fraction") + f": {call} returned {got:.6g}, expected {expected:.6g}"
        )
    _passed("check_random_fraction", len(cases))


def _param_fraction(model: nn.Module, report: Any) -> float | None:
    params = dict(model.named_parameters())
    if len(params) == len(model.state_dict()):
        return None
    left = sum(params[k].numel() for k in report.left_random if k in params)
    return left / sum(p.numel() for p in params.values())


# ============================================================================================
# 05 · Benchmark
# ============================================================================================


@_isolated
def check_modcrop(fn: Callable[[np.ndarray, int], np.ndarray]) -> None:
    """Check ``fn(image, scale) -> cropped``: crop an HR image so that its height and width are
    multiples of ``scale``, keeping the top-left corner (MATLAB's ``modcrop``).

    ``image``: H x W x 3 or H x W uint8 array; return the array without its last
    ``H % scale`` rows and ``W % scale`` columns. Reference: :func:`edsr_lite.images.modcrop`.
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
        call = f"{_name(fn)}(image of shape {shape}, {scale})"
        out = _call(fn, image.copy(), scale, what=call)
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
        mistake = _diagnose(
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
    _passed("check_modcrop", len(cases))


def _psnr_on(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * math.log10(peak**2 / mse)


def _full_range_y(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def _benchmark_pair(
    rng: np.random.Generator, h: int, w: int, scale: int
) -> tuple[np.ndarray, np.ndarray]:
    """A smooth HR image and an "SR" image with small errors inside and large ones near the
    border (as an upscaler has), different in each channel."""
    coarse = rng.uniform(30, 225, (h // 4 + 2, w // 4 + 2, 3))
    hr = np.kron(coarse, np.ones((4, 4, 1)))[:h, :w]
    noise = rng.normal(0, 4, (h, w, 3))
    border = np.ones((h, w), bool)
    band = 2 * scale
    border[band:-band, band:-band] = False
    noise[border] = rng.normal(0, 30, (int(border.sum()), 3))
    noise[..., 2] *= 2.5  # errors mostly in blue: Y (which weighs blue little) sees less
    sr = np.clip(hr + noise, 0, 255)
    return np.round(sr).astype(np.uint8), np.round(hr).astype(np.uint8)


@_isolated
def check_psnr_y_shave(fn: Callable[[np.ndarray, np.ndarray, int], float]) -> None:
    """Check ``fn(sr, hr, scale) -> dB``: PSNR as the SR papers measure it.

    ``sr``, ``hr``: H x W x 3 uint8 RGB images (0..255). Convert both to the Y channel of
    MATLAB's ``rgb2ycbcr`` (Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, not rounded),
    shave ``scale`` pixels from each of the four borders, and return
    10 log10(255^2 / MSE), a float in dB.

    Reference: :func:`edsr_lite.metrics.psnr`. Three images (x2, x3, x4, odd sizes) whose
    errors are larger near the border (as an upscaler's are) and mostly in the blue channel,
    so that the shave and the Y conversion both change the number.
    """
    rng = np.random.default_rng(9)
    cases = [(30, 24, 2), (33, 27, 3), (36, 44, 4)]
    for h, w, s in cases:
        sr, hr = _benchmark_pair(rng, h, w, s)
        expected = psnr(sr, hr, s)
        call = f"{_name(fn)}(sr, hr, {s}) on {h} x {w} images"
        got = _number(_call(fn, sr.copy(), hr.copy(), s, what=call), call)
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
                _psnr_on(_full_range_y(sr)[inner], _full_range_y(hr)[inner]),
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
        mistake = _diagnose(got, candidates, lambda a, b: math.isclose(a, b, abs_tol=2e-4))
        raise ExerciseError(
            (mistake or "wrong PSNR") + f": {call} returned {got:.4f} dB, expected "
            f"{expected:.4f} dB (Y channel, {s} pixels shaved per border)"
        )
    _passed("check_psnr_y_shave", len(cases))


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


@_isolated
def check_self_ensemble(
    fn: Callable[[Callable[[torch.Tensor], torch.Tensor], torch.Tensor], torch.Tensor],
) -> None:
    """Check ``fn(forward, x) -> sr``: the geometric self-ensemble ("+", EDSR+).

    ``forward`` maps a batch N x C x h x w to N x C x (s·h) x (s·w) (a network); ``x`` is one
    batch N x C x h x w. Run ``forward`` on the 8 flips and rotations of ``x`` (4 rotations by
    90°, each with and without a flip), transform each output back, and return their mean,
    N x C x (s·h) x (s·w): every image of the batch gets its own ensemble.

    Reference: :func:`edsr_lite.infer.self_ensemble`. Three cases with small random
    convolutional "networks" (x2, x2, x3), a square input and two non-square ones (where a
    rotation changes the shape); the images ``forward`` sees are counted too.
    """
    cases = [((3, 3, 6, 6), 2), ((2, 3, 5, 7), 2), ((1, 3, 4, 6), 3)]
    with _seeded(10):
        for shape, s in cases:
            net = nn.Sequential(nn.Conv2d(3, 3 * s * s, 3, padding=1), nn.PixelShuffle(s)).eval()
            x = torch.rand(shape) * 255
            seen: list[int] = []

            def forward(t: torch.Tensor, net=net, seen=seen) -> torch.Tensor:
                seen.append(int(t.shape[0]))
                return net(t)

            n, c, h, w = shape
            call = f"{_name(fn)}(forward, x) for x of shape {shape}, x{s}"
            with torch.no_grad():
                expected = self_ensemble(net, x)
                out = _call(
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
            _check_tensor(
                out, tuple(expected.shape), call, "Transform every output back before averaging"
            )
            if _same(out, expected, atol=1e-3):
                continue
            with torch.no_grad():
                mistake = _diagnose(out, _ensemble_mistakes(net, x), lambda a, b: _same(a, b, 1e-3))
            raise ExerciseError(
                (mistake or "the ensemble differs from infer.self_ensemble's")
                + f" ({call}: {_max_diff(out, expected)})"
            )
    _passed("check_self_ensemble", len(cases))


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
