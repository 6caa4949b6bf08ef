"""The checks of the exercises in ``notebooks/02_residual_scaling.ipynb``.

===============================  ==============================================
:func:`check_activation_growth`  activation growth with depth, with hooks
:func:`check_predicted_growth`   the growth predicted from the initialization
:func:`check_fold_res_scale`     fold ``res_scale`` into the last conv
===============================  ==============================================

The lesson's code: :mod:`edsr_lite.course.residual_scaling`. How a check runs and reports:
:mod:`edsr_lite.course.exercises.checking`. The module holds only its checks: the references
they compare with are imported inside them, so they are not ``exercises.<name>``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from edsr_lite.course.exercises import checking as _checking
from edsr_lite.course.exercises import guard as _guard

#: The checks, in the order the notebook's exercises call them.
__all__ = ["check_activation_growth", "check_predicted_growth", "check_fold_res_scale"]


@_checking.isolated
def check_activation_growth(fn: Callable[[nn.Module, torch.Tensor], float]) -> None:
    """Check ``fn(model, x) -> float``: how much the activations grow through the residual
    blocks of an EDSR ``model`` for the input batch ``x``.

    ``model``: an :class:`edsr_lite.core.models.EDSR` (``model.body`` holds the ``ResBlock`` s, then
    one conv); ``x``: N x 3 x h x w, 0..255. Return std(output of the last ResBlock) /
    std(output of the first ResBlock), measured in one forward pass with forward hooks
    (``register_forward_hook``), and remove the hooks before returning.

    Any std works (``unbiased`` or not, numpy's or torch's: all blocks' outputs have the same
    size, so the ratio is the same), as does a 0-d tensor. Reference:
    :func:`edsr_lite.course.residual_scaling.depth_profile`'s ``activation_growth``; the answer
    may use ``el.ResBlock`` to find the blocks, nothing else of the lesson's. Three models (6
    blocks with res_scale 1 and 0.1, 3 blocks at x3), random inputs.
    """
    from edsr_lite.core.models import EDSR, ResBlock
    from edsr_lite.course import residual_scaling

    _guard.refuse_references(fn, [residual_scaling], what=_checking.name_of(fn), allowed=[ResBlock])
    cases = [(6, 16, 1.0, 2, (2, 3, 10, 10)), (6, 16, 0.1, 2, (1, 3, 12, 9)), (3, 8, 1.0, 3, None)]
    with _checking.seeded(3):
        for n_blocks, n_feats, s, scale, shape in cases:
            shape = shape or (2, 3, 7, 8)
            model = EDSR(scale, n_resblocks=n_blocks, n_feats=n_feats, res_scale=s)
            x = torch.rand(shape) * 255
            hr = torch.rand(shape[0], 3, scale * shape[2], scale * shape[3]) * 255
            expected = residual_scaling.depth_profile(model, x, hr).activation_growth
            model.zero_grad(set_to_none=True)
            stats = _block_stats(model, x, ResBlock)
            call = (
                f"{_checking.name_of(fn)}(model, x) for {n_blocks} blocks x {n_feats}, "
                f"res_scale {s:g}"
            )
            with torch.no_grad():
                got = _checking.as_number(_checking.run_answer(fn, model, x, what=call), call)
            left = [n for n, m in model.named_modules() if m._forward_hooks or m._forward_pre_hooks]
            if left:
                raise _checking.ExerciseError(
                    f"{call} left hooks on {', '.join(repr(n or 'model') for n in left)}: keep "
                    "the handle that register_forward_hook returns and call handle.remove() "
                    "(a forgotten hook runs, and keeps its tensors alive, at every later call)"
                )
            if math.isclose(got, expected, rel_tol=1e-4):
                continue
            out_std, in_std, out_abs = stats["out_std"], stats["in_std"], stats["out_abs"]
            mistake = _checking.diagnose(
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
            raise _checking.ExerciseError(
                (mistake or "wrong growth") + f": {call} returned {got:.6g}, expected "
                f"{expected:.6g} (std of the last ResBlock's output / std of the first's)"
            )
    _checking.passed("check_activation_growth", len(cases))


def _block_stats(model: nn.Module, x: torch.Tensor, block_class: type) -> dict[str, list[float]]:
    """Per-ResBlock std of outputs and inputs, mean |output|; std of the body's output."""
    outs: list[torch.Tensor] = []
    ins: list[torch.Tensor] = []
    body: list[torch.Tensor] = []
    blocks = [b for b in model.body if isinstance(b, block_class)]
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


#: How close a predicted growth must be: float32 arithmetic is fine; every typical mistake is
#: further off in at least one case.
_GROWTH_TOL = 1e-5


@_checking.isolated
def check_predicted_growth(fn: Callable[[int, float], float]) -> None:
    """Check ``fn(n_blocks, res_scale) -> float``: the growth of the activations' std over
    ``n_blocks`` residual blocks at PyTorch's default initialization, predicted by hand.

    A conv initialized as PyTorch does keeps a third of its input's mean square, the ReLU
    half of that, the second conv a third again, and ``res_scale`` multiplies the branch: each
    block adds ``res_scale**2 / 18`` of its input's variance; variances multiply block after
    block, and the std is the square root. Any float or 0-d tensor, computed in float32 or
    float64 (compared to a relative 1e-5). Reference:
    :func:`edsr_lite.course.residual_scaling.predicted_growth`. Six cases (1 to 80 blocks,
    scale 0.1 to 2).
    """
    from edsr_lite.course import residual_scaling

    _guard.refuse_references(fn, [residual_scaling], what=_checking.name_of(fn))
    cases = [(32, 1.0), (32, 0.1), (16, 0.5), (80, 1.0), (1, 2.0), (7, 0.3)]
    for b, s in cases:
        call = f"{_checking.name_of(fn)}({b}, {s})"
        got = _checking.as_number(_checking.run_answer(fn, b, s, what=call), call)
        expected = residual_scaling.predicted_growth(b, s)
        if math.isclose(got, expected, rel_tol=_GROWTH_TOL):
            continue
        mistake = _checking.diagnose(
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
            lambda a, v: math.isclose(a, v, rel_tol=_GROWTH_TOL),
        )
        raise _checking.ExerciseError(
            (mistake or "wrong prediction") + f": {call} returned {got:.6g}, expected "
            f"{expected:.6g}"
        )
    _checking.passed("check_predicted_growth", len(cases))


@_checking.isolated
def check_fold_res_scale(fn: Callable[[nn.Module], nn.Module]) -> None:
    """Check ``fn(block) -> folded``: fold a block's ``res_scale`` into its last convolution.

    ``block``: an :class:`edsr_lite.core.models.ResBlock` without BN (``block.body`` is conv, ReLU,
    conv; ``block.res_scale`` is s). Return a *copy* (``copy.deepcopy``) whose last conv has
    weight s·W and bias s·b and whose ``res_scale`` is 1; the given block stays unchanged (its
    weights, ``res_scale`` and training mode). The copy keeps the block's dtype.
    ``x + s·conv(y) = x + conv'(y)``, so the outputs agree to float rounding.

    Reference: :func:`edsr_lite.core.models.fold_res_scale`; the answer may use ``el.ResBlock``
    (to build or check the copy). Three blocks (s = 0.1, 0.5, 2; kernel 3 and 5; one in training
    mode, one in float64), random inputs N x F x H x W.
    """
    from edsr_lite.core import models
    from edsr_lite.course import residual_scaling

    _guard.refuse_references(
        fn,
        [models.fold_res_scale, residual_scaling],
        what=_checking.name_of(fn),
        allowed=[models.ResBlock],
    )
    cases: list[_FoldCase] = [
        (8, 3, 0.1, (2, 8, 6, 7), True, torch.float32),
        (6, 5, 0.5, (1, 6, 9, 5), False, torch.float32),
        (4, 3, 2.0, (3, 4, 5, 5), False, torch.float64),
    ]
    with _checking.seeded(4):
        for case in cases:
            with _checking.mistakes("check_fold_res_scale") as found:
                found.expected = (
                    "a deep copy whose last conv has weight s·W and bias s·b, res_scale = 1, "
                    "the same dtype; the given block unchanged"
                )
                _fold_case(fn, case, models, found)
    _checking.passed("check_fold_res_scale", len(cases))


#: One case: n_feats, kernel size, res_scale, input shape, training mode, dtype.
_FoldCase = tuple[int, int, float, tuple[int, ...], bool, torch.dtype]


def _fold_case(fn: Callable, case: _FoldCase, models: Any, found: _checking.Mistakes) -> None:
    """Note every mistake of one case (a mistake that hides the others ends the list)."""
    n_feats, k, s, shape, training, dtype = case
    block = models.ResBlock(n_feats, k, res_scale=s).train(training).to(dtype)
    with torch.no_grad():
        for conv in (block.body[0], block.body[2]):
            conv.bias.add_(torch.randn_like(conv.bias))  # biases that matter
    before = copy.deepcopy(block)
    x = torch.randn(shape, dtype=dtype)
    mode = "training" if training else "evaluation"
    call = f"{_checking.name_of(fn)}(block) for res_scale={s:g} ({mode} mode, {dtype})"
    folded = _checking.run_answer(fn, block, what=call)
    old = before.state_dict()
    changed = [n for n, p in block.state_dict().items() if not torch.equal(p, old[n])]
    if changed or block.res_scale != s:
        found.add(
            f"{call} changed the block it was given ({', '.join(changed) or 'res_scale'}): fold "
            "a copy (folded = copy.deepcopy(block)) and leave the original as it is (a model you "
            "are still training must keep its res_scale)"
        )
    if block.training != training:
        found.add(
            f"{call} switched the given block to {'training' if block.training else 'evaluation'}"
            " mode: leave its mode alone (call .eval() on the copy if you need it)"
        )
    if folded is block:
        found.add(f"{call} returned the block itself: return a folded copy")
        return
    if not isinstance(folded, models.ResBlock):
        found.add(
            f"{call} returned {type(folded).__name__}: return a ResBlock (a deep copy of the "
            "block, with its last conv changed)"
        )
        return
    if len(folded.body) != len(block.body):
        found.add(
            f"the folded block's body has {len(folded.body)} layers instead of "
            f"{len(block.body)}: change the last conv's weights, add no layer"
        )
        return
    dtypes = sorted({str(p.dtype) for p in folded.parameters()} - {str(dtype)})
    if dtypes:
        found.add(
            f"the folded block's weights are {', '.join(dtypes)}, the block's {dtype}: keep the "
            "dtype (multiply in place, or weight * res_scale)"
        )
        return
    with torch.no_grad():
        expected = models.fold_res_scale(before).eval()(x)
        original = before.eval()(x)
        out = copy.deepcopy(folded).eval()(x)
    if folded.res_scale != 1:
        found.add(
            "nothing was folded: the copy still multiplies its branch by res_scale = "
            f"{folded.res_scale:g}. Scale the last conv's weight and bias by it, then set "
            "res_scale = 1.0"
            if _checking.same(out, original)
            else f"the folded block's res_scale is {folded.res_scale:g}: once the last conv "
            "carries the scale, set res_scale = 1.0, or the branch is scaled twice"
        )
        return
    if _checking.same(out, expected, atol=1e-5):
        return
    mistake = _checking.diagnose(
        out, _fold_mistakes(before, x), lambda a, b: _checking.same(a, b, 1e-5)
    )
    found.add(
        (mistake or "the folded block's output differs from the original's")
        + f" ({call}: {_checking.max_diff(out, expected)})"
    )


def _fold_mistakes(block: nn.Module, x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
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
