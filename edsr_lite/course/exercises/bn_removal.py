"""The checks of the exercises in ``notebooks/01_bn_removal.ipynb``.

====================================  ============================================
:func:`check_resblock`                the EDSR residual block (no BN, ``res_scale``)
:func:`check_saved_activation_bytes`  the feature maps a block keeps for backward
====================================  ============================================

The lesson's code: :mod:`edsr_lite.course.bn_removal`. How a check runs and reports:
:mod:`edsr_lite.course.exercises.checking`. The module holds only its checks: the references
they compare with are imported inside them, so they are not ``exercises.<name>``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from edsr_lite.course.exercises import checking as _checking
from edsr_lite.course.exercises import guard as _guard

#: The checks, in the order the notebook's exercises call them.
__all__ = ["check_resblock", "check_saved_activation_bytes"]


_NORM_LAYERS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)

#: One case: n_feats, kernel size, res_scale, input shape.
_Case = tuple[int, int, float, tuple[int, int, int, int]]


@_checking.isolated
def check_resblock(block_class: Callable[..., nn.Module]) -> None:
    """Check an EDSR residual block: ``x + res_scale * conv(relu(conv(x)))``, no BN.

    ``block_class(n_feats, kernel_size=3, res_scale=1.0)`` must build an ``nn.Module`` (a class
    or a factory function) with exactly two ``nn.Conv2d`` layers (``n_feats`` -> ``n_feats``
    channels, ``kernel_size`` x ``kernel_size``, ``padding=kernel_size // 2`` in any form or
    ``padding="same"``, zero padding, stride 1, with bias), a ReLU between them (a module or
    ``F.relu``, in place or not), no normalization layer, and the skip connection; the convs
    may have any names and sit in an ``nn.Sequential`` or ``nn.ModuleList``. Its
    ``forward(x)`` maps N x n_feats x H x W to the same shape and dtype.

    The student's convolution weights are copied into :class:`edsr_lite.core.models.ResBlock`
    (conv order as registered, or the other way round) and both blocks run on the same random
    input, in training and in evaluation mode; three cases (features 8/16/6, kernel 3/3/5,
    res_scale 1/0.1/0.5, odd sizes). Also checked: the input is not modified in place, float64
    stays float64, and the gradient flows back. An answer that uses the package's own block
    (``el.ResBlock``, a model's block, the lesson's blocks) is refused.
    """
    from edsr_lite.core import models
    from edsr_lite.course import bn_removal

    name = getattr(block_class, "__name__", "your block")
    _guard.refuse_references(
        block_class,
        [models.ResBlock, models.EDSR, models.MDSR, models.build, bn_removal],
        what=name,
    )
    cases: list[_Case] = [
        (8, 3, 1.0, (2, 8, 9, 11)),
        (16, 3, 0.1, (1, 16, 7, 10)),
        (6, 5, 0.5, (3, 6, 8, 8)),
    ]
    with _checking.seeded(1):
        for i, case in enumerate(cases):
            with _checking.mistakes("check_resblock") as found:
                found.expected = (
                    "x + res_scale * conv2(relu(conv1(x))): two n_feats -> n_feats convs "
                    "(padding kernel_size // 2, with bias), no normalization, same shape out"
                )
                _resblock_case(block_class, name, case, i == 0, models.ResBlock, found)
    _checking.passed("check_resblock", len(cases))


def _resblock_case(
    block_class: Callable[..., nn.Module],
    name: str,
    case: _Case,
    first: bool,
    reference_class: type[nn.Module],
    found: _checking.Mistakes,
) -> None:
    """Note every mistake of one case (a mistake that hides the others ends the list)."""
    n_feats, k, s, shape = case
    call = f"{name}({n_feats}, kernel_size={k}, res_scale={s})"
    block = _checking.run_answer(block_class, n_feats, kernel_size=k, res_scale=s, what=call)
    if not isinstance(block, nn.Module):
        found.add(
            f"{call} returned {type(block).__name__}, not an nn.Module: subclass nn.Module and "
            "call super().__init__() first"
        )
        return
    package = sorted(
        {
            type(m).__qualname__
            for m in block.modules()
            if type(m).__module__.startswith("edsr_lite")
        }
    )
    if package:
        found.add(
            f"{call} is built from edsr_lite's own {', '.join(package)}: the check compares "
            "your block with the package's, so write it from nn.Conv2d and a ReLU yourself"
        )
        return
    norms = [(n, type(m).__name__) for n, m in block.named_modules() if _is_norm(m)]
    if norms:
        where = ", ".join(f"{t} ('{n}')" for n, t in norms)
        found.add(
            f"BN still present: the block contains {where}. The EDSR block has no normalization "
            "layer: removing BN from SRResNet's block is the paper's first change (Sec. 3.1)"
        )
        block = _without_norms(block)  # to name the other mistakes too
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    problems, fatal = _conv_mistakes(convs, n_feats, k, call)
    for problem in problems:
        found.add(problem)
    if fatal:
        return
    _compare_outputs(block, convs, case, call, reference_class(n_feats, k, res_scale=s), found)
    if first and not found:
        _check_dtype(block, shape, call, found)
        _check_backward(block, torch.randn(shape), call, found)


def _is_norm(module: nn.Module) -> bool:
    return isinstance(module, _NORM_LAYERS)


def _without_norms(block: nn.Module) -> nn.Module:
    """A copy of ``block`` with each normalization layer replaced by an identity."""
    block = copy.deepcopy(block)
    for parent in list(block.modules()):
        for child_name, child in list(parent.named_children()):
            if _is_norm(child):
                setattr(parent, child_name, nn.Identity())
    return block


def _conv_mistakes(
    convs: list[nn.Conv2d], n_feats: int, k: int, call: str
) -> tuple[list[str], bool]:
    """The convolutions' mistakes, and whether they keep the outputs from being compared."""
    if len(convs) != 2:
        return [
            f"{call} has {len(convs)} nn.Conv2d layer{'s' * (len(convs) != 1)}; the EDSR block "
            "has exactly two (conv - ReLU - conv), each created once in __init__ (a layer created "
            "inside forward() would get new random weights at every call and never train; one "
            "conv used twice shares its weights)"
        ], True
    problems: list[str] = []
    fatal = False
    for j, conv in enumerate(convs, 1):
        if (conv.in_channels, conv.out_channels) != (n_feats, n_feats):
            problems.append(
                f"conv {j} maps {conv.in_channels} -> {conv.out_channels} channels; both convs "
                f"keep n_feats = {n_feats} channels"
            )
        if tuple(conv.kernel_size) != (k, k):
            problems.append(
                f"conv {j} has kernel size {tuple(conv.kernel_size)}, expected ({k}, {k}): use "
                "the kernel_size argument"
            )
        if conv.padding != "same" and tuple(conv.padding) != (k // 2, k // 2):
            problems.append(
                f"conv {j} has padding {conv.padding}: a {k}x{k} conv keeps H x W with "
                f"padding={k // 2} (kernel_size // 2) or padding='same'"
            )
        if tuple(conv.stride) != (1, 1):
            problems.append(f"conv {j} has stride {conv.stride}: the block keeps H x W (stride 1)")
        if tuple(conv.dilation) != (1, 1):
            problems.append(f"conv {j} has dilation {conv.dilation}: EDSR's convs are not dilated")
        if conv.groups != 1:
            problems.append(
                f"conv {j} has groups={conv.groups}: in EDSR every output channel sees every "
                "input channel (groups=1, the default)"
            )
        if conv.padding_mode != "zeros":
            problems.append(
                f"conv {j} pads with padding_mode='{conv.padding_mode}': EDSR pads with zeros "
                "(the default)"
            )
        fatal = fatal or bool(problems)
        if conv.bias is None:
            problems.append(
                f"conv {j} has no bias: EDSR's convolutions keep theirs (bias=True, the default; "
                "only a BN layer after a conv makes its bias redundant)"
            )
    return problems, fatal


def _load_convs(reference: nn.Module, first: nn.Conv2d, second: nn.Conv2d) -> None:
    """Copy two convs into the reference block (a missing bias as zeros)."""
    with torch.no_grad():
        for target, source in ((reference.body[0], first), (reference.body[2], second)):
            target.weight.copy_(source.weight)
            if source.bias is None:
                target.bias.zero_()
            else:
                target.bias.copy_(source.bias)


def _compare_outputs(
    block: nn.Module,
    convs: list[nn.Conv2d],
    case: _Case,
    call: str,
    reference: nn.Module,
    found: _checking.Mistakes,
) -> None:
    """Run the block (training, then evaluation mode) and the reference; note the mistakes."""
    n_feats, k, s, shape = case
    x = torch.randn(shape)
    x_before = x.clone()
    outputs = {}
    for mode in (True, False):
        block.train(mode)
        with torch.no_grad():
            outputs[mode] = _checking.run_answer(
                block, x, what=f"{call}(x) with x of shape {shape}"
            )
        if not torch.equal(x, x_before):
            found.add(
                "your forward changed its input x in place (x += ..., or an in-place ReLU on x): "
                "autograd needs x unchanged; write `return x + ...` instead"
            )
            return
        _checking.expect_tensor(
            outputs[mode], shape, f"{call}(x)", "The block keeps N x F x H x W: use padding=k // 2"
        )
    out = outputs[False]
    candidates: list[tuple[str, torch.Tensor]] = []
    for first, second in (convs, convs[::-1]):
        _load_convs(reference, first, second)
        with torch.no_grad():
            expected = reference(x)
        if _checking.same(out, expected):
            break
        candidates += _resblock_mistakes(x, first, second, s)
    else:
        mistake = _checking.diagnose(out, candidates, _checking.same)
        _load_convs(reference, *convs)
        with torch.no_grad():
            diff = _checking.max_diff(out, reference(x))
        found.add(
            (mistake or "the output differs from the EDSR block's")
            + f" ({call}, input {shape}: {diff} against models.ResBlock)"
        )
        return
    if not _checking.same(outputs[True], expected):
        found.add(
            f"{call} computes something else in training mode (block.train()) than in "
            "evaluation mode: the EDSR block has no dropout or other mode-dependent layer, it is "
            "the same function in both"
        )


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


def _check_dtype(
    block: nn.Module, shape: tuple[int, ...], call: str, found: _checking.Mistakes
) -> None:
    """A float64 copy of the block must give float64 for a float64 input."""
    double = copy.deepcopy(block).double()
    with torch.no_grad():
        out = _checking.run_answer(
            double, torch.randn(shape, dtype=torch.float64), what=f"{call} in float64"
        )
    if isinstance(out, torch.Tensor) and out.dtype != torch.float64:
        found.add(
            f"{call}.double() returns {out.dtype} for a float64 input: keep the input's dtype "
            "(no .float() or float32 tensors made inside forward)"
        )


def _check_backward(
    block: nn.Module, x: torch.Tensor, call: str, found: _checking.Mistakes
) -> None:
    block.train()
    x = x.clone().requires_grad_(True)
    try:
        block(x).square().sum().backward()
    except (NotImplementedError, _checking.ExerciseError):
        raise
    except RuntimeError as error:
        found.add(
            f"the backward pass through {call} fails: {error}. An in-place operation "
            "(x += ..., out.mul_(...)) overwrote a tensor autograd needs; use out-of-place ops"
        )
        return
    if x.grad is None or not all(p.grad is not None for p in block.parameters()):
        found.add(
            f"no gradient reaches the input or the weights of {call}: do not use "
            "torch.no_grad() or .detach() inside forward"
        )


@_checking.isolated
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
    from edsr_lite.core.models import ResBlock
    from edsr_lite.course import bn_removal

    _guard.refuse_references(fn, [bn_removal], what=_checking.name_of(fn))
    with _checking.seeded(2):
        x = torch.randn(2, 8, 5, 7)
        maps = {
            bn: bn_removal.count_saved_maps(ResBlock(8, bn=bn).train(), x) for bn in (False, True)
        }
    cases = [
        (16, 64, 48, 48, False),
        (16, 64, 48, 48, True),
        (4, 32, 24, 30, False),
        (1, 256, 10, 17, True),
        (3, 5, 7, 11, False),
        (2, 12, 9, 6, True),
    ]
    for batch, n_feats, h, w, bn in cases:
        call = f"{_checking.name_of(fn)}({batch}, {n_feats}, {h}, {w}, bn={bn})"
        value = _checking.run_answer(fn, batch, n_feats, h, w, bn, what=call)
        got = _checking.as_number(value, call)
        one_map = batch * n_feats * h * w * 4
        expected = maps[bn] * one_map
        if got == expected:
            continue
        block = "SRResNet block (with BN)" if bn else "EDSR block"
        mistake = _checking.diagnose(
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
        raise _checking.ExerciseError(
            (mistake or "wrong number of bytes") + f": {call} returned {got:g}",
            expected=f"the {block} keeps {maps[bn]} maps of {batch} x {n_feats} x {h} x {w} "
            f"float32 values = {expected} bytes",
        )
    _checking.passed("check_saved_activation_bytes", len(cases))


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
