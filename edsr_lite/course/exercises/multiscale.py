"""The checks of the exercises in ``notebooks/03_multiscale.ipynb``.

===========================  ==============================================
:func:`check_mdsr_forward`   MDSR's forward: pick the scale's branch
:func:`check_mdsr_step`      the random-scale MDSR training step
===========================  ==============================================

The lesson's code: :mod:`edsr_lite.course.multiscale`. How a check runs and reports:
:mod:`edsr_lite.course.exercises.checking`.

The module's only public names are its checks: the references they compare with are imported
inside them, so that ``exercises.<reference>`` is no answer a student can call.
"""

import copy as _copy
import math as _math
import sys as _sys
from collections.abc import Callable as _Callable
from collections.abc import Iterator as _Iterator
from collections.abc import Mapping as _Mapping
from collections.abc import Sequence as _Sequence
from contextlib import contextmanager as _contextmanager
from typing import Any as _Any

import numpy as _np
import torch as _torch
import torch.nn.functional as _F

from edsr_lite.core.models import MDSR as _MDSR
from edsr_lite.core.recipe import ADAM_BETAS as _ADAM_BETAS
from edsr_lite.course.exercises import checking as _checking
from edsr_lite.course.exercises import guard as _guard

#: The checks, in the order the notebook's exercises call them.
__all__ = ["check_mdsr_forward", "check_mdsr_step"]

_FORWARD_HINT = (
    "Compose the parts: model.sub_mean, model.head, model.pre_process[i], model.body, "
    "model.upsample[i], model.tail, model.add_mean"
)


class _Notes:
    """Notes each kind of mistake once (with the first case that showed it) into ``found``."""

    def __init__(self, found: _checking.Mistakes) -> None:
        self.found = found
        self.kinds: set[str] = set()
        self.count = 0  # every add, repeated mistakes too

    def add(self, mistake: str, where: str = "") -> None:
        self.count += 1
        if mistake not in self.kinds:
            self.kinds.add(mistake)
            self.found.add(f"{mistake} ({where})" if where else mistake)


# --------------------------------------------------------------------------------------------
# Exercise 1: MDSR's forward from its parts
# --------------------------------------------------------------------------------------------


def _mdsr_parts(
    model: _MDSR,
    x: _torch.Tensor,
    i: int,
    pre: bool = True,
    skip: bool = True,
    mean: bool = True,
    pre_after_body: bool = False,
) -> _torch.Tensor:
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


@_contextmanager
def _calls_to_mdsr_forward() -> _Iterator[list[bool]]:
    """Record (in the list it yields) whether MDSR's own forward runs inside the block: by
    its code's place, so ``model(x, s)``, ``model.forward``, ``el.MDSR.forward(model, ...)``
    and ``type(model).forward`` are all seen, from any import of the package."""
    code = _MDSR.forward.__code__
    seen: list[bool] = []
    previous = _sys.getprofile()

    def profile(frame: _Any, event: str, arg: _Any) -> None:
        if (
            event == "call"
            and frame.f_code.co_qualname == code.co_qualname
            and frame.f_code.co_filename == code.co_filename
        ):
            seen.append(True)

    _sys.setprofile(profile)
    try:
        yield seen
    finally:
        _sys.setprofile(previous)


@_checking.isolated
def check_mdsr_forward(fn: _Callable[[_MDSR, _torch.Tensor, int], _torch.Tensor]) -> None:
    """Check ``fn(model, x, scale) -> sr``: MDSR's forward pass, written with its parts.

    ``model``: an :class:`edsr_lite.core.models.MDSR` (``model.scales``: its scales, e.g. (2, 3, 4),
    in the order of its branches); ``x``: N x 3 x h x w float32, 0..255; return N x 3 x
    (scale*h) x (scale*w) float32. The path: ``sub_mean``, ``head``, the scale's
    ``pre_process`` branch, ``body`` with the global skip, the scale's ``upsample`` branch,
    ``tail``, ``add_mean``. Calling ``model(x, scale)`` (or ``MDSR.forward`` in any spelling)
    is not allowed; ``model.branch(scale)`` is.

    Reference: ``model(x, scale)``. Two models: scales (2, 3, 4), and (4, 2) -- where the
    branch of x2 is not ``scale - 2`` -- five (model, scale) cases. The answer must leave the
    model's train/eval mode as it was.
    """
    _guard.refuse_references(
        fn, [_MDSR.forward], what=_checking.name_of(fn), allowed=[_MDSR, _MDSR.branch]
    )
    _run_forward_cases(fn)


def _run_forward_cases(fn: _Callable) -> None:
    with _checking.mistakes("check_mdsr_forward") as found:
        _forward_cases(fn, _Notes(found))
    _checking.passed("check_mdsr_forward", 5)


def _forward_cases(fn: _Callable, notes: _Notes) -> None:
    with _checking.seeded(5):
        models = [
            _MDSR((2, 3, 4), n_resblocks=2, n_feats=8).eval(),
            _MDSR((4, 2), n_resblocks=1, n_feats=8).eval(),
        ]
        x = _torch.rand(2, 3, 5, 6) * 255
    cases = [(m, s) for m in models for s in sorted(m.scales)]
    for model, scale in cases:
        with _torch.no_grad():
            expected = model(x, scale)
        student_model = _copy.deepcopy(model)
        call = f"{_checking.name_of(fn)}(model, x, {scale}) with model.scales = {model.scales}"
        with _torch.no_grad(), _calls_to_mdsr_forward() as seen:
            out = _checking.run_answer(
                fn,
                student_model,
                x.clone(),
                scale,
                what=call,
                hint="The branches are numbered by their place in model.scales: "
                "i = model.scales.index(scale)",
            )
        if seen:
            notes.add(
                "runs edsr_lite's own MDSR.forward (model(x, scale) calls it): that is the "
                f"answer itself. {_FORWARD_HINT}"
            )
            break
        if student_model.training:
            notes.add("your function switched the model to train mode: leave its mode alone", call)
        for mistake, detail in _forward_mistakes(out, expected, model, x, scale):
            notes.add(mistake, call + detail)


def _forward_mistakes(
    out: _Any, expected: _torch.Tensor, model: _MDSR, x: _torch.Tensor, scale: int
) -> list[tuple[str, str]]:
    """What is wrong with one output of the student's forward: (mistake, detail) pairs."""
    if not isinstance(out, _torch.Tensor):
        return [(f"returned {type(out).__name__}, not a tensor", "")]
    if tuple(out.shape) != tuple(expected.shape):
        ratio = out.shape[-1] / x.shape[-1] if out.ndim == 4 else None
        branch = ratio in model.scales and ratio != scale
        return [
            (
                "wrong output shape"
                + (
                    f": that is the x{int(ratio)} branch. Find the branch of `scale` with "
                    "i = model.scales.index(scale) (the branches follow model.scales, which "
                    "need not be 2, 3, 4 in that order)"
                    if branch
                    else ""
                ),
                f": {tuple(out.shape)}, expected {tuple(expected.shape)}",
            )
        ]
    found = []
    if out.dtype != expected.dtype:
        found.append((f"returned {out.dtype}, expected the model's dtype {expected.dtype}", ""))
    if _checking.same(out, expected, atol=1e-3):
        return found
    i = model.scales.index(scale)
    with _torch.no_grad():
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
                "forgot the mean shift: start with model.sub_mean(x), end with model.add_mean(...)",
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
    mistake = _checking.diagnose(out, candidates, lambda a, b: _checking.same(a, b, atol=1e-3))
    found.append(
        (
            mistake or "the output differs from model(x, scale)",
            f": {_checking.max_diff(out, expected)}",
        )
    )
    return found


def _mixed_branches(model: _MDSR, x: _torch.Tensor, i: int) -> _torch.Tensor | None:
    if len(model.scales) < 2:
        return None
    j = (i + 1) % len(model.scales)
    x = model.head(model.sub_mean(x))
    x = model.pre_process[j](x)
    x = x + model.body(x)
    return model.add_mean(model.tail(model.upsample[i](x)))


# --------------------------------------------------------------------------------------------
# Exercise 2: the random-scale training step
# --------------------------------------------------------------------------------------------

#: (the model's scales, steps): the step must work for any scale set, in any order.
_STEP_CASES = (((2, 3, 4), 10), ((4, 2), 6), ((3,), 2))


@_checking.isolated
def check_mdsr_step(
    fn: _Callable[
        [_MDSR, _torch.optim.Optimizer, _Mapping, _np.random.Generator], tuple[int, float]
    ],
) -> None:
    """Check ``fn(model, optimizer, batches, rng) -> (scale, loss)``: one MDSR training step.

    ``model``: an :class:`edsr_lite.core.models.MDSR` in train mode, with ``model.scales``
    (any set: (2, 3, 4), (4, 2), (3,)); ``optimizer``: Adam over its parameters; ``batches``:
    ``{scale: (lr, hr)}`` with ``lr`` N x 3 x p x p and ``hr`` N x 3 x (scale*p) x (scale*p),
    float32 0..255; ``rng``: a ``numpy.random.Generator``. The step draws **one** scale of
    ``model.scales`` at random with ``rng`` (each minibatch trains one branch, paper Sec.
    3.2), computes the L1 loss of the raw ``model(lr, scale)`` against ``hr``,
    back-propagates and updates, with the gradients cleared so that ``optimizer.step()`` sees
    only this minibatch's (``zero_grad()`` first, or last); it returns the scale and the loss
    (a float), and leaves the model in train mode.

    Reference: the trainer's step (``optimizer.zero_grad(set_to_none=True)``,
    :func:`edsr_lite.core.recipe.forward_backward`, ``optimizer.step()``), replayed on a copy
    of the model with the scale the student drew. The gradients are compared as
    ``optimizer.step()`` sees them, then the loss and the weights, step by step; then the
    scales: all drawn, at random, reproducible from the rng's seed. The model's output
    leaves 0..255 (so clamping it changes the loss).
    """
    from edsr_lite.core.recipe import forward_backward
    from edsr_lite.train.engine import Trainer

    _guard.refuse_references(
        fn, [forward_backward, Trainer], what=_checking.name_of(fn), allowed=[_MDSR]
    )
    _run_step_cases(fn)


def _run_step_cases(fn: _Callable) -> None:
    total = 0
    with _checking.mistakes("check_mdsr_step") as found:
        notes = _Notes(found)
        for scales, steps in _STEP_CASES:
            total += _run_steps(fn, scales, steps, notes)
    _checking.passed("check_mdsr_step", total)


def _step_model(scales: _Sequence[int]) -> tuple[_MDSR, dict]:
    """A small MDSR whose output leaves 0..255 (a large last conv), and its minibatches."""
    with _checking.seeded(6):
        model = _MDSR(scales, n_resblocks=1, n_feats=4).train()
        with _torch.no_grad():
            model.tail[0].weight.mul_(12)
        batches = {
            s: (_torch.rand(2, 3, 5, 5) * 255, _torch.rand(2, 3, 5 * s, 5 * s) * 255)
            for s in model.scales
        }
    return model, batches


class _StepWatch:
    """Counts ``optimizer.step()`` calls and keeps the gradients as the first one saw them."""

    def __init__(self, model: _MDSR, optimizer: _torch.optim.Optimizer) -> None:
        self.names = {id(p): n for n, p in model.named_parameters()}
        self.calls = 0
        self.grads: dict[str, _torch.Tensor | None] = {}
        optimizer.register_step_pre_hook(self._seen)

    def _seen(self, optimizer: _torch.optim.Optimizer, args: _Any, kwargs: _Any) -> None:
        self.calls += 1
        if self.calls == 1:
            self.grads = {
                self.names[id(p)]: None if p.grad is None else p.grad.detach().clone()
                for group in optimizer.param_groups
                for p in group["params"]
            }

    def start(self) -> None:
        self.calls, self.grads = 0, {}


def _run_steps(fn: _Callable, scales: _Sequence[int], steps: int, notes: _Notes) -> int:
    """Run ``steps`` steps of the student's function on an MDSR of ``scales``, comparing each
    with the trainer's step until the first mistake; then check the scales drawn."""
    from edsr_lite.core.recipe import forward_backward

    model, batches = _step_model(scales)
    start = _copy.deepcopy(model)
    reference = _copy.deepcopy(model)
    optimizer, ref_optimizer = _adam(model), _adam(reference)
    watch = _StepWatch(model, optimizer)
    rng = _np.random.default_rng(2017)
    drawn: list[int] = []
    comparing = True
    for step in range(1, steps + 1):
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        old_grads = {n: _grad(p) for n, p in model.named_parameters()}
        call = f"step {step} with model.scales = {model.scales}"
        watch.start()
        result = _run_one(fn, model, optimizer, batches, rng, call, notes)
        if result is None:
            return step
        scale, loss = result
        drawn.append(scale)
        if not comparing:
            continue
        ref_optimizer.zero_grad(set_to_none=True)
        lr, hr = batches[scale]
        ref_loss = float(forward_backward(reference, lr, hr, scale, bf16=False))
        ref_optimizer.step()
        count = notes.count
        _check_mode(model, call, notes)
        _check_loss(loss, ref_loss, reference, lr, hr, scale, before, call, notes)
        if _check_grads(model, reference, watch, old_grads, scale, call, notes):
            _check_weights(model, reference, before, watch, scale, call, notes)
        comparing = notes.count == count
    _check_draws(fn, start, batches, drawn, notes)
    return steps


def _grad(p: _torch.Tensor) -> _torch.Tensor | None:
    return None if p.grad is None else p.grad.detach().clone()


def _run_one(
    fn: _Callable,
    model: _MDSR,
    optimizer: _torch.optim.Optimizer,
    batches: _Mapping,
    rng: _np.random.Generator,
    call: str,
    notes: _Notes,
) -> tuple[int, float] | None:
    """The student's step: (scale, loss), or None after noting why there is none."""
    try:
        result = fn(model, optimizer, batches, rng)
    except (NotImplementedError, _checking.ExerciseError):
        raise
    except KeyError as error:
        key = error.args[0] if error.args else None
        if isinstance(key, int | _np.integer) and int(key) not in model.scales:
            notes.add(
                f"drew x{key}, which this model does not have: draw from model.scales (here "
                f"{model.scales}), not from a fixed list such as [2, 3, 4]",
                call,
            )
            return None
        raise _checking.ExerciseError(f"{call}: raised KeyError: {error}") from error
    except Exception as error:
        raise _checking.ExerciseError(
            f"{_checking.name_of(fn)}(model, optimizer, batches, rng) raised "
            f"{type(error).__name__}: {error} ({call})"
        ) from error
    return _step_result(result, call, model.scales, notes)


def _adam(model: _MDSR) -> _torch.optim.Adam:
    """The paper's Adam, with a larger eps: weights then depend smoothly on the gradients, so
    an answer whose loss rounds differently (mean of abs vs F.l1_loss) still compares equal."""
    params = [p for p in model.parameters() if p.requires_grad]
    return _torch.optim.Adam(params, lr=1e-2, betas=_ADAM_BETAS, eps=1e-2)


def _step_result(
    result: _Any, call: str, scales: _Sequence[int], notes: _Notes
) -> tuple[int, float] | None:
    if not isinstance(result, tuple | list) or len(result) != 2:
        notes.add(f"returned {result!r}: return a pair (scale, loss)", call)
        return None
    scale, loss = result
    if isinstance(loss, _torch.Tensor) and loss.requires_grad:
        notes.add(
            "returned the loss tensor with its graph: return loss.item(), a float (a training "
            "loop that keeps the tensors keeps every step's graph in memory)",
            call,
        )
    try:
        scale = int(scale)
    except (TypeError, ValueError):
        notes.add(f"returned the scale {scale!r}; it should be an int", call)
        return None
    if scale not in scales:
        notes.add(
            f"returned the scale {scale}, which is not one of model.scales = {tuple(scales)}; "
            "draw it from model.scales (not an index into it, nor a fixed list)",
            call,
        )
        return None
    try:
        return scale, _checking.as_number(loss, "your function")
    except _checking.ExerciseError as error:
        notes.add(str(error), call)
        return None


def _check_mode(model: _MDSR, call: str, notes: _Notes) -> None:
    if not all(m.training for m in model.modules()):
        notes.add(
            "left the model in eval mode: a training step leaves it in train mode (call "
            "model.train() again after an evaluation)",
            call,
        )


def _check_loss(
    loss: float,
    expected: float,
    reference: _MDSR,
    lr: _torch.Tensor,
    hr: _torch.Tensor,
    scale: int,
    before: _Mapping[str, _torch.Tensor],
    call: str,
    notes: _Notes,
) -> None:
    if _math.isclose(loss, expected, rel_tol=1e-4, abs_tol=1e-4):
        return
    with _torch.no_grad():
        old = _copy.deepcopy(reference)
        old.load_state_dict({**old.state_dict(), **before}, strict=True)
        sr = old(lr, scale)
        after = reference(lr, scale)
    mistake = _checking.diagnose(
        loss,
        [
            (
                "that is the mean squared error: EDSR and MDSR train with the L1 loss "
                "(F.l1_loss), which the paper found to converge better",
                float(_F.mse_loss(sr, hr)),
            ),
            (
                "clamped the output to 0..255 before the loss: the loss must see the raw "
                "output (a clamped pixel gets no gradient); clamp only to save or measure",
                float(_F.l1_loss(sr.clamp(0, 255), hr)),
            ),
            (
                "rounded the output before the loss: rounding has no gradient; use the raw output",
                float(_F.l1_loss(sr.round(), hr)),
            ),
            (
                "that is the loss after the update: return the loss of the forward pass you "
                "back-propagated",
                float(_F.l1_loss(after, hr)),
            ),
            (
                "that is the sum of absolute errors: take the mean (F.l1_loss)",
                float((sr - hr).abs().sum()),
            ),
        ],
        lambda a, b: _math.isclose(a, b, rel_tol=1e-4),
    )
    notes.add(
        mistake or "wrong loss",
        f"{call}: loss {loss:.6g}, the L1 loss of the x{scale} minibatch is {expected:.6g}",
    )


def _branch_of(name: str, scales: _Sequence[int]) -> int | None:
    for part in ("pre_process.", "upsample."):
        if name.startswith(part):
            return scales[int(name[len(part) :].split(".")[0])]
    return None


def _check_grads(
    model: _MDSR,
    reference: _MDSR,
    watch: _StepWatch,
    old_grads: _Mapping[str, _torch.Tensor | None],
    scale: int,
    call: str,
    notes: _Notes,
) -> bool:
    """Compare the gradients ``optimizer.step()`` saw with the L1 loss's; False if it did
    not run (or ran more than once) or the gradients differ."""
    if watch.calls != 1:
        if watch.calls > 1:
            notes.add(f"called optimizer.step() {watch.calls} times: once per step", call)
        return watch.calls == 0
    ref = dict(reference.named_parameters())
    ok = True
    for name, p in model.named_parameters():
        got, want, old = watch.grads.get(name), ref[name].grad, old_grads.get(name)
        branch = _branch_of(name, model.scales)
        if branch is not None and branch != scale:
            ok &= _check_other_branch(name, got, old, branch, scale, call, notes)
            continue
        if want is None or not p.requires_grad:
            continue
        if got is None:
            notes.add(
                "no gradient when optimizer.step() ran: call loss.backward() before "
                "optimizer.step()",
                f"{call}, {name}",
            )
        elif _torch.allclose(got, want, rtol=1e-3, atol=1e-5):
            continue
        elif old is not None and _torch.allclose(got, want + old, rtol=1e-3, atol=1e-5):
            notes.add(
                "the gradients accumulate from step to step: clear them with "
                "optimizer.zero_grad() once per step (before loss.backward(), or after "
                "optimizer.step())",
                f"{call}, {name}",
            )
        else:
            notes.add(
                "the gradients differ from the L1 loss's: compute F.l1_loss(model(lr, scale), "
                "hr) on the raw output and call backward() once",
                f"{call}, {name}: {_checking.max_diff(got, want)}",
            )
        ok = False
    return ok


def _check_other_branch(
    name: str,
    got: _torch.Tensor | None,
    old: _torch.Tensor | None,
    branch: int,
    scale: int,
    call: str,
    notes: _Notes,
) -> bool:
    """A branch of a scale not drawn must have no gradient at all when the optimizer steps."""
    if got is None:
        return True
    nonzero = bool(got.abs().sum() > 0)
    if nonzero and old is not None and _torch.equal(got, old):
        notes.add(
            "the gradients of an earlier step are still there in a branch this step did not "
            "use: clear them with optimizer.zero_grad() every step",
            f"{call}, {name} of the x{branch} branch",
        )
    elif nonzero:
        notes.add(
            "a branch of a scale not drawn got a gradient: one minibatch trains one scale; do "
            "not add up the losses of all scales",
            f"{call}: drew x{scale}, {name} of the x{branch} branch",
        )
    else:
        notes.add(
            "a branch not used this step has a zero gradient instead of none. Adam still moves "
            "a parameter whose gradient is zero (its momentum keeps pushing), so clear with "
            "optimizer.zero_grad(set_to_none=True) (the default), not set_to_none=False",
            f"{call}: drew x{scale}, {name} of the x{branch} branch",
        )
    return False


def _check_weights(
    model: _MDSR,
    reference: _MDSR,
    before: _Mapping[str, _torch.Tensor],
    watch: _StepWatch,
    scale: int,
    call: str,
    notes: _Notes,
) -> None:
    ref = dict(reference.named_parameters())
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if all(_torch.equal(p, before[n]) for n, p in trainable):
        notes.add("changed no weight: call optimizer.step() after loss.backward()", call)
        return
    if watch.calls == 0:
        notes.add("changed the weights without optimizer.step(): update with it", call)
        return
    for name, p in model.named_parameters():
        if not _torch.allclose(p, ref[name], rtol=1e-4, atol=1e-6):
            branch = _branch_of(name, model.scales)
            where = f" (the x{branch} branch, step drawn at x{scale})" if branch else ""
            notes.add(
                "after the step the weights differ from one Adam step on the L1 loss: "
                "zero_grad, forward at the drawn scale, l1_loss, backward, optimizer.step(), "
                "once each",
                f"{call}, {name}{where}: {_checking.max_diff(p, ref[name])}",
            )
            return


def _check_draws(
    fn: _Callable, start: _MDSR, batches: _Mapping, drawn: list[int], notes: _Notes
) -> None:
    """All scales drawn, not in a fixed cycle, and the same ones again from the same seed."""
    scales = start.scales
    missing = sorted(set(scales) - set(drawn))
    if missing and len(drawn) >= 6:
        notes.add(
            f"in {len(drawn)} steps your function drew only {sorted(set(drawn))} "
            f"(never x{', x'.join(map(str, missing))}): draw the scale at random from "
            "model.scales, e.g. model.scales[rng.integers(len(model.scales))]",
            f"model.scales = {scales}",
        )
    cycles = [[s[i % len(s)] for i in range(len(drawn))] for s in (scales, sorted(scales))]
    if len(scales) > 2 and drawn in cycles:
        notes.add(
            "the scales come in a fixed cycle (2, 3, 4, 2, 3, 4, ...): the paper draws each "
            "minibatch's scale at random; use rng",
            f"model.scales = {scales}",
        )
    n = min(len(drawn), 6)
    if len(scales) < 2 or n < 4:
        return
    again = _copy.deepcopy(start)
    again_rng = _np.random.default_rng(2017)
    again_opt = _adam(again)
    replay = []
    for step in range(1, n + 1):
        what = f"replay step {step} with model.scales = {scales}"
        result = _checking.run_answer(fn, again, again_opt, batches, again_rng, what=what)
        replay.append(int(result[0]))
    if replay != drawn[:n]:
        notes.add(
            f"the same seed gave other scales ({drawn[:n]} then {replay}): draw the scale with "
            "the rng you are given (rng.integers or rng.choice), not with random, np.random or "
            "torch, so that a run can be repeated exactly",
            f"model.scales = {scales}",
        )
