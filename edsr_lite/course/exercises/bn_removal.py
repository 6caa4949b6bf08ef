"""The checks of the exercises in ``notebooks/01_bn_removal.ipynb``.

====================================  ============================================
:func:`check_resblock`                the EDSR residual block (no BN, ``res_scale``)
:func:`check_saved_activation_bytes`  the feature maps a block keeps for backward
====================================  ============================================

The lesson's code: :mod:`edsr_lite.course.bn_removal`. How a check runs and reports:
:mod:`edsr_lite.course.exercises.checking`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from edsr_lite.core.models import ResBlock
from edsr_lite.course.bn_removal import count_saved_maps
from edsr_lite.course.exercises.checking import (
    ExerciseError,
    as_number,
    diagnose,
    expect_tensor,
    isolated,
    max_diff,
    name_of,
    passed,
    run_answer,
    same,
    seeded,
)

#: The checks, in the order the notebook's exercises call them.
__all__ = ["check_resblock", "check_saved_activation_bytes"]


_NORM_LAYERS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


@isolated
def check_resblock(block_class: Callable[..., nn.Module]) -> None:
    """Check an EDSR residual block: ``x + res_scale * conv(relu(conv(x)))``, no BN.

    ``block_class(n_feats, kernel_size=3, res_scale=1.0)`` must build an ``nn.Module`` (a class
    or a factory function) with exactly two ``nn.Conv2d`` layers (``n_feats`` -> ``n_feats``
    channels, ``kernel_size`` x ``kernel_size``, 'same' padding, with bias), a ReLU between
    them, no normalization layer, and the skip connection. Its ``forward(x)`` maps
    N x n_feats x H x W to the same shape, values of either sign.

    The student's convolution weights are copied into :class:`edsr_lite.core.models.ResBlock`
    (conv order as registered, or the other way round) and both blocks run on the same random
    input; three cases (features 8/16/6, kernel 3/3/5, res_scale 1/0.1/0.5, odd sizes). Also
    checked: the input is not modified in place, and the gradient flows back.
    """
    name = getattr(block_class, "__name__", "your block")
    cases = [(8, 3, 1.0, (2, 8, 9, 11)), (16, 3, 0.1, (1, 16, 7, 10)), (6, 5, 0.5, (3, 6, 8, 8))]
    with seeded(1):
        for i, (n_feats, k, s, shape) in enumerate(cases):
            call = f"{name}({n_feats}, kernel_size={k}, res_scale={s})"
            block = run_answer(block_class, n_feats, kernel_size=k, res_scale=s, what=call)
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
                out = run_answer(block, x, what=f"{call}(x) with x of shape {shape}")
            if not torch.equal(x, x_before):
                raise ExerciseError(
                    "your forward changed its input x in place (x += ..., or an in-place ReLU "
                    "on x): autograd needs x unchanged; write `return x + ...` instead"
                )
            expect_tensor(
                out, shape, f"{call}(x)", "The block keeps N x F x H x W: use padding=k // 2"
            )
            candidates = []
            for first, second in (convs, convs[::-1]):
                _load_convs(reference, first, second)
                with torch.no_grad():
                    if same(out, reference(x)):
                        break
                    candidates += _resblock_mistakes(x, first, second, s)
            else:
                mistake = diagnose(out, candidates, same)
                with torch.no_grad():
                    _load_convs(reference, *convs)
                    diff = max_diff(out, reference(x))
                raise ExerciseError(
                    (mistake or "the output differs from the EDSR block's")
                    + f" ({call}, input {shape}: {diff} against models.ResBlock)"
                )
            if i == 0:
                _check_backward(block, x, call)
    passed("check_resblock", len(cases))


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


@isolated
def check_saved_activation_bytes(fn: Callable[[int, int, int, int, bool], int]) -> None:
    """Check ``fn(batch, n_feats, height, width, bn) -> bytes``: the memory of the feature maps
    that one residual block keeps for the backward pass, in training.

    The block is :class:`edsr_lite.core.models.ResBlock` (``bn=False``: the EDSR block;
    ``bn=True``: SRResNet's conv-BN-ReLU-conv-BN, as in EDSR's ablation), its input a float32
    feature map of batch x n_feats x height x width. Count the distinct tensors of that size
    that autograd saves (small per-channel tensors, such as BN's batch mean, do not count) and
    return their bytes (an int: maps x batch x n_feats x height x width x 4).

    The reference *measures* the count with
    :func:`edsr_lite.course.bn_removal.count_saved_maps` (one block, a small input), so the
    answer is what PyTorch really keeps, not what a textbook says. Six cases, with and without
    BN, the paper's batch (16 x 64 x 48 x 48) among them.
    """
    with seeded(2):
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
        call = f"{name_of(fn)}({batch}, {n_feats}, {h}, {w}, bn={bn})"
        value = run_answer(fn, batch, n_feats, h, w, bn, what=call)
        got = as_number(value, call)
        one_map = batch * n_feats * h * w * 4
        expected = maps[bn] * one_map
        if got == expected:
            continue
        block = "SRResNet block (with BN)" if bn else "EDSR block"
        mistake = diagnose(
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
    passed("check_saved_activation_bytes", len(cases))


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
