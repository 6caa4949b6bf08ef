"""The checks of the exercises in ``notebooks/03_multiscale.ipynb``.

===========================  ==============================================
:func:`check_mdsr_forward`   MDSR's forward: pick the scale's branch
:func:`check_mdsr_step`      the random-scale MDSR training step
===========================  ==============================================

The lesson's code: :mod:`edsr_lite.course.multiscale`. How a check runs and reports:
:mod:`edsr_lite.course.exercises.checking`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edsr_lite.core.models import MDSR
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
from edsr_lite.train import ADAM_BETAS, forward_backward

#: The checks, in the order the notebook's exercises call them.
__all__ = ["check_mdsr_forward", "check_mdsr_step"]


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


@isolated
def check_mdsr_forward(fn: Callable[[MDSR, torch.Tensor, int], torch.Tensor]) -> None:
    """Check ``fn(model, x, scale) -> sr``: MDSR's forward pass, written with its parts.

    ``model``: an :class:`edsr_lite.core.models.MDSR` (``model.scales``: its scales, e.g. (2, 3, 4),
    in the order of its branches); ``x``: N x 3 x h x w, 0..255; return N x 3 x (scale*h) x
    (scale*w). The path: ``sub_mean``, ``head``, the scale's ``pre_process`` branch, ``body``
    with the global skip, the scale's ``upsample`` branch, ``tail``, ``add_mean``. Calling
    ``model(x, scale)`` itself is not allowed.

    Reference: ``model(x, scale)``. Two models: scales (2, 3, 4), and (4, 2) -- where the
    branch of x2 is not ``scale - 2`` -- five (model, scale) cases.
    """
    with seeded(5):
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
        call = f"{name_of(fn)}(model, x, {scale}) with model.scales = {model.scales}"
        with torch.no_grad():
            out = run_answer(
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
        if same(out, expected, atol=1e-3):
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
        mistake = diagnose(out, candidates, lambda a, b: same(a, b, atol=1e-3))
        raise ExerciseError(
            (mistake or "the output differs from model(x, scale)")
            + f" ({call}: {max_diff(out, expected)})"
        )
    passed("check_mdsr_forward", len(cases))


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


@isolated
def check_mdsr_step(
    fn: Callable[[MDSR, torch.optim.Optimizer, Mapping, np.random.Generator], tuple[int, float]],
) -> None:
    """Check ``fn(model, optimizer, batches, rng) -> (scale, loss)``: one MDSR training step.

    ``model``: an :class:`edsr_lite.core.models.MDSR` with ``model.scales`` (2, 3, 4);
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
    with seeded(6):
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
        call = f"{name_of(fn)}(model, optimizer, batches, rng), step {step}"
        result = run_answer(fn, model, optimizer, batches, rng, what=call)
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
            run_answer(fn, again, again_opt, batches, again_rng, what="replay"), "", again.scales
        )[0]
        for _ in range(6)
    ]
    if replay != drawn[:6]:
        raise ExerciseError(
            f"the same seed gave other scales ({drawn[:6]} then {replay}): draw the scale with "
            "the rng you are given (rng.integers or rng.choice), not with random, np.random or "
            "torch, so that a run can be repeated exactly"
        )
    passed("check_mdsr_step", steps)


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
    return scale, as_number(loss, call)


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
    mistake = diagnose(
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
            f"({max_diff(p.grad, want)}); compute F.l1_loss(model(lr, scale), hr) and call "
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
                f"L1 loss ({max_diff(p, ref[name])}): zero_grad, forward at the drawn scale, "
                "l1_loss, backward, optimizer.step(), once each"
            )
