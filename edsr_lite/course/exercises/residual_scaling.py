"""The checks of the exercises in ``notebooks/02_residual_scaling.ipynb``.

===============================  ==============================================
:func:`check_activation_growth`  activation growth with depth, with hooks
:func:`check_predicted_growth`   the growth predicted from the initialization
:func:`check_fold_res_scale`     fold ``res_scale`` into the last conv
===============================  ==============================================

The lesson's code: :mod:`edsr_lite.course.residual_scaling`. How a check runs and reports:
:mod:`edsr_lite.course.exercises.checking`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from edsr_lite.core.models import EDSR, ResBlock, fold_res_scale
from edsr_lite.course.exercises.checking import (
    ExerciseError,
    as_number,
    diagnose,
    isolated,
    max_diff,
    name_of,
    passed,
    run_answer,
    same,
    seeded,
)
from edsr_lite.course.residual_scaling import depth_profile, predicted_growth

#: The checks, in the order the notebook's exercises call them.
__all__ = ["check_activation_growth", "check_predicted_growth", "check_fold_res_scale"]


@isolated
def check_activation_growth(fn: Callable[[nn.Module, torch.Tensor], float]) -> None:
    """Check ``fn(model, x) -> float``: how much the activations grow through the residual
    blocks of an EDSR ``model`` for the input batch ``x``.

    ``model``: an :class:`edsr_lite.core.models.EDSR` (``model.body`` holds the ``ResBlock`` s, then
    one conv); ``x``: N x 3 x h x w, 0..255. Return std(output of the last ResBlock) /
    std(output of the first ResBlock), measured in one forward pass with forward hooks
    (``register_forward_hook``), and remove the hooks before returning.

    Reference: :func:`edsr_lite.course.residual_scaling.depth_profile`'s
    ``activation_growth``. Three models (6 blocks with res_scale 1 and 0.1, 3 blocks at x3),
    random inputs.
    """
    cases = [(6, 16, 1.0, 2, (2, 3, 10, 10)), (6, 16, 0.1, 2, (1, 3, 12, 9)), (3, 8, 1.0, 3, None)]
    with seeded(3):
        for n_blocks, n_feats, s, scale, shape in cases:
            shape = shape or (2, 3, 7, 8)
            model = EDSR(scale, n_resblocks=n_blocks, n_feats=n_feats, res_scale=s)
            x = torch.rand(shape) * 255
            hr = torch.rand(shape[0], 3, scale * shape[2], scale * shape[3]) * 255
            expected = depth_profile(model, x, hr).activation_growth
            model.zero_grad(set_to_none=True)
            stats = _block_stats(model, x)
            call = f"{name_of(fn)}(model, x) for {n_blocks} blocks x {n_feats}, res_scale {s:g}"
            with torch.no_grad():
                got = as_number(run_answer(fn, model, x, what=call), call)
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
            mistake = diagnose(
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
    passed("check_activation_growth", len(cases))


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


@isolated
def check_predicted_growth(fn: Callable[[int, float], float]) -> None:
    """Check ``fn(n_blocks, res_scale) -> float``: the growth of the activations' std over
    ``n_blocks`` residual blocks at PyTorch's default initialization, predicted by hand.

    A conv initialized as PyTorch does keeps a third of its input's mean square, the ReLU
    half of that, the second conv a third again, and ``res_scale`` multiplies the branch: each
    block adds ``res_scale**2 / 18`` of its input's variance; variances multiply block after
    block, and the std is the square root. Reference:
    :func:`edsr_lite.course.residual_scaling.predicted_growth`. Six cases (1 to 80 blocks,
    scale 0.1 to 2).
    """
    cases = [(32, 1.0), (32, 0.1), (16, 0.5), (80, 1.0), (1, 2.0), (7, 0.3)]
    for b, s in cases:
        call = f"{name_of(fn)}({b}, {s})"
        got = as_number(run_answer(fn, b, s, what=call), call)
        expected = predicted_growth(b, s)
        if math.isclose(got, expected, rel_tol=1e-9):
            continue
        mistake = diagnose(
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
    passed("check_predicted_growth", len(cases))


@isolated
def check_fold_res_scale(fn: Callable[[ResBlock], nn.Module]) -> None:
    """Check ``fn(block) -> folded``: fold a block's ``res_scale`` into its last convolution.

    ``block``: an :class:`edsr_lite.core.models.ResBlock` without BN (``block.body`` is conv, ReLU,
    conv; ``block.res_scale`` is s). Return a *copy* (``copy.deepcopy``) whose last conv has
    weight s·W and bias s·b and whose ``res_scale`` is 1; the given block stays unchanged.
    ``x + s·conv(y) = x + conv'(y)``, so the outputs agree to float rounding.

    Reference: :func:`edsr_lite.core.models.fold_res_scale`. Three blocks (s = 0.1, 0.5, 2; kernel
    3 and 5), random inputs N x F x H x W.
    """
    cases = [(8, 3, 0.1, (2, 8, 6, 7)), (6, 5, 0.5, (1, 6, 9, 5)), (4, 3, 2.0, (3, 4, 5, 5))]
    with seeded(4):
        for n_feats, k, s, shape in cases:
            block = ResBlock(n_feats, k, res_scale=s).eval()
            with torch.no_grad():
                for conv in (block.body[0], block.body[2]):
                    conv.bias.add_(torch.randn_like(conv.bias))  # biases that matter
            before = copy.deepcopy(block)
            x = torch.randn(shape)
            call = f"{name_of(fn)}(block) for res_scale={s:g}"
            folded = run_answer(fn, block, what=call)
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
                    if same(out, original)
                    else f"the folded block's res_scale is {folded.res_scale:g}: once the last "
                    "conv carries the scale, set res_scale = 1.0, or the branch is scaled twice"
                )
            if same(out, expected, atol=1e-5):
                continue
            mistake = diagnose(out, _fold_mistakes(before, x), lambda a, b: same(a, b, 1e-5))
            raise ExerciseError(
                (mistake or "the folded block's output differs from the original's")
                + f" ({call}: {max_diff(out, expected)})"
            )
    passed("check_fold_res_scale", len(cases))


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
