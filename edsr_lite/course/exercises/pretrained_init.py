"""The checks of the exercises in ``notebooks/04_pretrained_init.ipynb``.

====================================  ==============================================
:func:`check_copy_matching_weights`   pretrained initialization: copy what matches
:func:`check_random_fraction`         how much of the model stays random
====================================  ==============================================

The lesson's code: :mod:`edsr_lite.course.pretrained_init`. How a check runs and reports:
:mod:`edsr_lite.course.exercises.checking`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from edsr_lite.core.models import EDSR
from edsr_lite.course.exercises.checking import (
    ExerciseError,
    as_number,
    diagnose,
    isolated,
    name_of,
    passed,
    run_answer,
    seeded,
)
from edsr_lite.weights import init_from

#: The checks, in the order the notebook's exercises call them.
__all__ = ["check_copy_matching_weights", "check_random_fraction"]


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


@isolated
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
    with seeded(7):
        cases = _init_cases()
    for label, model, source in cases:
        reference = copy.deepcopy(model)
        report = init_from(reference, source, verbose=False)
        initial = {k: v.clone() for k, v in model.state_dict().items()}
        params = {n: id(p) for n, p in model.named_parameters()}
        source_copy = {k: v.clone() for k, v in source.items()}
        call = f"{name_of(fn)}(model, source) for {label}"
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
    passed("check_copy_matching_weights", len(cases))


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


@isolated
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
    with seeded(7):
        cases = _init_cases()
    for label, model, source in cases:
        report = init_from(copy.deepcopy(model), source, verbose=False)
        sizes = {k: v.numel() for k, v in model.state_dict().items()}
        total = sum(sizes.values())
        expected = sum(sizes[k] for k in report.left_random) / total
        call = f"{name_of(fn)}(model, source) for {label}"
        got = as_number(run_answer(fn, model, source, what=call), call)
        if math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12):
            continue
        by_name = sum(sizes[k] for k in report.missing_in_source) / total
        mistake = diagnose(
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
    passed("check_random_fraction", len(cases))


def _param_fraction(model: nn.Module, report: Any) -> float | None:
    params = dict(model.named_parameters())
    if len(params) == len(model.state_dict()):
        return None
    left = sum(params[k].numel() for k in report.left_random if k in params)
    return left / sum(p.numel() for p in params.values())
