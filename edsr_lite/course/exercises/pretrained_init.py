"""The checks of the exercises in ``notebooks/04_pretrained_init.ipynb``.

====================================  ==============================================
:func:`check_copy_matching_weights`   pretrained initialization: copy what matches
:func:`check_random_fraction`         how much of the model stays random
====================================  ==============================================

The lesson's code: :mod:`edsr_lite.course.pretrained_init`. How a check runs and reports:
:mod:`edsr_lite.course.exercises.checking`.
"""

import copy as _copy
import math as _math
from collections.abc import Callable as _Callable
from collections.abc import Mapping as _Mapping
from collections.abc import Sequence as _Sequence
from typing import Any as _Any

import torch as _torch
from torch import nn as _nn

from edsr_lite.core.models import EDSR as _EDSR
from edsr_lite.course.exercises import checking as _checking
from edsr_lite.course.exercises import guard as _guard

#: The checks, in the order the notebook's exercises call them.
__all__ = ["check_copy_matching_weights", "check_random_fraction"]


class _Notes:
    """Notes each kind of mistake once (with the first case that showed it) into ``found``."""

    def __init__(self, found: _checking.Mistakes) -> None:
        self.found = found
        self.kinds: set[str] = set()

    def add(self, mistake: str, where: str = "") -> None:
        if mistake not in self.kinds:
            self.kinds.add(mistake)
            self.found.add(f"{mistake} ({where})" if where else mistake)


def _references() -> list[object]:
    """The package's pretrained initialization, in every module that offers it."""
    from edsr_lite.core.init import init_from_state_dict
    from edsr_lite.course import pretrained_init
    from edsr_lite.weights import init_from

    return [init_from, init_from_state_dict, pretrained_init.init_table]


def _init_cases() -> list[tuple[str, _nn.Module, dict[str, _torch.Tensor]]]:
    """(label, target model, source state dict): x2 -> x4, x2 -> x3, BN model with extras
    whose source holds float64 tensors (a checkpoint saved in double precision)."""
    cases = []
    for label, target_scale in (("x2 -> x4", 4), ("x2 -> x3", 3)):
        source = _EDSR(2, n_resblocks=2, n_feats=8).state_dict()
        cases.append((label, _EDSR(target_scale, n_resblocks=2, n_feats=8), source))
    source = _EDSR(2, n_resblocks=1, n_feats=8, bn=True).state_dict()
    for key, value in source.items():
        if "running" in key:
            value.uniform_(0.5, 2.0)  # statistics that differ from a fresh BN's
    source = {k: v.double() if v.is_floating_point() else v for k, v in source.items()}
    source["extra.weight"] = _torch.ones(3)
    del source["body.0.body.0.bias"]
    cases.append(
        (
            "x2 BN model, source in float64 with an extra and a missing key",
            _EDSR(2, n_resblocks=1, n_feats=8, bn=True),
            source,
        )
    )
    return cases


@_checking.isolated
def check_copy_matching_weights(
    fn: _Callable[[_nn.Module, _Mapping[str, _torch.Tensor]], _Sequence[str]],
) -> None:
    """Check ``fn(model, source_state_dict) -> copied_names``: pretrained initialization.

    Copy into ``model`` every tensor of ``source_state_dict`` (a ``{name: tensor}`` dict, as
    ``other_model.state_dict()``) whose name is in ``model.state_dict()`` **and** whose shape
    is the same; leave everything else as it is; return the names copied (any order, any
    collection). Copy the values (``tensor.copy_``, or ``load_state_dict(..., strict=False)``
    on the matching part): the model must not share memory with the source, keep its own
    Parameter objects, its dtypes (float32, also from a float64 source) and its train/eval
    mode. Buffers (BN's running statistics) count: they are in the state dict.

    Reference: :func:`edsr_lite.weights.init_from` (the answer may not call it, nor
    :func:`edsr_lite.core.init.init_from_state_dict`). Three cases: EDSR x2 -> x4 (all but
    the second upsampling conv match), x2 -> x3 (the upsampler's shape differs), and a BN
    model from a float64 source with an extra key and a missing one.
    """
    _guard.refuse_references(fn, _references(), what=_checking.name_of(fn))
    _run_copy_cases(fn)


def _run_copy_cases(fn: _Callable) -> None:
    from edsr_lite.weights import init_from

    with _checking.seeded(7):
        cases = _init_cases()
    with _checking.mistakes("check_copy_matching_weights") as found:
        notes = _Notes(found)
        for label, model, source in cases:
            reference = _copy.deepcopy(model)
            report = init_from(reference, source, verbose=False)
            _copy_case(fn, label, model, source, reference, report, notes)
    _checking.passed("check_copy_matching_weights", len(cases))


#: What :func:`_run_copy` returns when the student's function raised (and the mistake is noted).
_RAISED = object()


def _run_copy(fn: _Callable, model: _nn.Module, source: dict, label: str, notes: _Notes) -> _Any:
    """The student's copy on one case; ``_RAISED`` after noting why it raised."""
    call = f"{_checking.name_of(fn)}(model, source) for {label}"
    try:
        return fn(model, source)
    except (NotImplementedError, _checking.ExerciseError):
        raise
    except RuntimeError as error:
        text = str(error)
        if any(w in text for w in ("size mismatch", "shape", "must match the size")):
            notes.add(
                "copied a tensor whose shape differs (load_state_dict refuses it even with "
                "strict=False): keep only the tensors whose name *and* shape match",
                label,
            )
        elif "Missing key" in text or "Unexpected key" in text:
            notes.add(
                "load_state_dict is strict by default: every key must match. Pass only the "
                "matching tensors, with strict=False",
                label,
            )
        else:
            raise _checking.ExerciseError(f"{call} raised RuntimeError: {text}") from error
    except KeyError as error:
        notes.add(
            "raised KeyError: not every name of the model is in the source (and the other way "
            "round); check `name in source` first",
            f"{call}: {error}",
        )
    except Exception as error:
        raise _checking.ExerciseError(f"{call} raised {type(error).__name__}: {error}") from error
    return _RAISED


def _copy_case(
    fn: _Callable,
    label: str,
    model: _nn.Module,
    source: dict[str, _torch.Tensor],
    reference: _nn.Module,
    report: _Any,
    notes: _Notes,
) -> None:
    """Run the student's copy on one case and note what is wrong with the model after it."""
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    dtypes = {k: v.dtype for k, v in initial.items()}
    params = {n: id(p) for n, p in model.named_parameters()}
    source_copy = {k: v.clone() for k, v in source.items()}
    mode = model.training
    copied = _run_copy(fn, model, source, label, notes)
    if copied is _RAISED:
        return
    if any(not _torch.equal(v, source_copy[k]) for k, v in source.items()) or set(source) != set(
        source_copy
    ):
        notes.add("changed the source state dict: only read from it", label)
        return
    if model.training != mode:
        notes.add("changed the model's train/eval mode: copying weights leaves it as it was", label)
    if {n: id(p) for n, p in model.named_parameters()} != params:
        notes.add(
            "replaced the model's Parameter objects: an optimizer made before would not see "
            "them. Copy values into the existing tensors (param.copy_(tensor) under "
            "torch.no_grad(), or model.load_state_dict(matching, strict=False))",
            label,
        )
    changed = [k for k, v in model.state_dict().items() if v.dtype != dtypes[k]]
    if changed:
        now = model.state_dict()[changed[0]].dtype
        notes.add(
            "changed the dtype of the model's tensors: copy the values into them "
            "(tensor.copy_ and load_state_dict cast to the model's dtype)",
            f"{label}: {changed[0]} is {now}, was {dtypes[changed[0]]}",
        )
        return
    _compare_state(model, reference, initial, source_copy, report, label, notes)
    _check_returned_names(copied, report.copied, label, notes)
    _check_no_sharing(model, source, report.copied, label, notes)


def _check_no_sharing(
    model: _nn.Module, source: dict, copied: _Sequence[str], label: str, notes: _Notes
) -> None:
    with _torch.no_grad():
        for value in source.values():
            value.add_(1)
    state = model.state_dict()
    shared = [k for k in copied if _torch.equal(state[k], source[k].to(state[k].dtype))]
    with _torch.no_grad():
        for value in source.values():
            value.sub_(1)
    if shared:
        notes.add(
            "the model shares memory with the source: changing the source changes the model. "
            "Copy the values (param.copy_(tensor), load_state_dict) instead of assigning "
            "tensors (param.data = tensor)",
            f"{label}: {shared[0]}, ...",
        )


def _compare_state(
    model: _nn.Module,
    reference: _nn.Module,
    initial: _Mapping[str, _torch.Tensor],
    source: _Mapping[str, _torch.Tensor],
    report: _Any,
    label: str,
    notes: _Notes,
) -> None:
    state, want = model.state_dict(), reference.state_dict()
    buffers = {n for n, _ in model.named_buffers()}
    by_position = dict(initial)
    for (key, value), other in zip(initial.items(), source.values(), strict=False):
        if value.shape == other.shape:
            by_position[key] = other.to(value.dtype)
    if any(not _torch.equal(state[k], want[k]) for k in state) and all(
        _torch.equal(state[k], by_position[k]) for k in state
    ):
        notes.add(
            "you copied by position: the i-th tensor of the source went into the i-th tensor "
            "of the model. Copy by name, not by position: the two state dicts need not list "
            "the same tensors in the same order",
            label,
        )
        return
    for key in report.copied:
        if _torch.equal(state[key], want[key]):
            continue
        if _torch.equal(state[key], initial[key]):
            if key in buffers:
                notes.add(
                    "a buffer was not copied, though its name and shape match: buffers (BN's "
                    "running statistics) are in state_dict(), not in named_parameters()",
                    f"{label}: {key}",
                )
            else:
                notes.add(
                    "a tensor was not copied, though its name and shape match", f"{label}: {key}"
                )
        else:
            notes.add(
                "a tensor holds other values than the source's tensor of its name: copy by "
                "name, not by position (the two state dicts need not list the same tensors in "
                "the same order)",
                f"{label}: {key}",
            )
    for key in report.left_random:
        if not _torch.equal(state[key], initial[key]):
            why = "its shape differs" if key in report.shape_mismatch else "it is not in the source"
            notes.add(
                f"a tensor changed though {why}: it must keep its own (random) initialization",
                f"{label}: {key}",
            )


def _check_returned_names(
    copied: _Any, expected: _Sequence[str], label: str, notes: _Notes
) -> None:
    if isinstance(copied, str) or not hasattr(copied, "__iter__"):
        notes.add(f"returned {type(copied).__name__}: return the list of names copied", label)
        return
    copied = list(copied)
    got, want = set(copied), set(expected)
    if got != want or len(copied) != len(got):
        extra, missing = sorted(got - want), sorted(want - got)
        notes.add(
            "returned the wrong names",
            label
            + ": "
            + "; ".join(
                part
                for part in (
                    f"{len(extra)} not copied ({', '.join(extra[:3])}...)" if extra else "",
                    f"{len(missing)} missing ({', '.join(missing[:3])}...)" if missing else "",
                    "some twice" if len(copied) != len(got) else "",
                )
                if part
            ),
        )


@_checking.isolated
def check_random_fraction(
    fn: _Callable[[_nn.Module, _Mapping[str, _torch.Tensor]], float],
) -> None:
    """Check ``fn(model, source_state_dict) -> fraction``: after pretrained initialization of
    ``model`` from ``source_state_dict``, which fraction of the model's values stays random.

    Count *values* (elements), over everything in ``model.state_dict()``: a tensor stays random
    when its name is not in the source or its shape differs there. Return a number in 0..1
    (a float, a numpy or a 0-d tensor; x2 -> x4 EDSR: small; x2 -> x3: larger, the whole
    upsampler).

    Reference: the report of :func:`edsr_lite.weights.init_from` (``left_random``), which the
    answer may not call. The three cases of :func:`check_copy_matching_weights`.
    """
    _guard.refuse_references(fn, _references(), what=_checking.name_of(fn))
    _run_fraction_cases(fn)


def _run_fraction_cases(fn: _Callable) -> None:
    from edsr_lite.weights import init_from

    with _checking.seeded(7):
        cases = _init_cases()
    with _checking.mistakes("check_random_fraction") as found:
        notes = _Notes(found)
        for label, model, source in cases:
            report = init_from(_copy.deepcopy(model), source, verbose=False)
            call = f"{_checking.name_of(fn)}(model, source) for {label}"
            got = _checking.as_number(_checking.run_answer(fn, model, source, what=call), call)
            _fraction_case(got, model, report, label, notes)
    _checking.passed("check_random_fraction", len(cases))


def _fraction_case(got: float, model: _nn.Module, report: _Any, label: str, notes: _Notes) -> None:
    sizes = {k: v.numel() for k, v in model.state_dict().items()}
    total = sum(sizes.values())
    expected = sum(sizes[k] for k in report.left_random) / total
    if _math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-9):  # float32 is fine
        return
    by_name = sum(sizes[k] for k in report.missing_in_source) / total
    mistake = _checking.diagnose(
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
        lambda a, b: _math.isclose(a, b, rel_tol=1e-6),
    )
    notes.add(mistake or "wrong fraction", f"{label}: returned {got:.6g}, expected {expected:.6g}")


def _param_fraction(model: _nn.Module, report: _Any) -> float | None:
    params = dict(model.named_parameters())
    if len(params) == len(model.state_dict()):
        return None
    left = sum(params[k].numel() for k in report.left_random if k in params)
    return left / sum(p.numel() for p in params.values())
