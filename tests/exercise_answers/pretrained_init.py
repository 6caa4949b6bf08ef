"""Answers to the exercises of ``notebooks/04_pretrained_init.ipynb``, whose checks are in
``edsr_lite.course.exercises.pretrained_init``: the notebook's solutions in plain Python
(``RIGHT``), typical wrong answers (``WRONG``: the check must name each mistake), and
``VARIANTS``: ``(check, answer, expected)`` with ``expected`` None for a correct variant the
check must accept, else a part of the message the check must give.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

import edsr_lite as el
from edsr_lite.core.init import init_from_state_dict
from edsr_lite.course import pretrained_init as lesson

# ============================================================================================
# Right answers (the notebook's solutions, in plain Python)
# ============================================================================================


def copy_matching_weights(model, source):
    own = model.state_dict()
    matching = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(matching, strict=False)
    return list(matching)


def random_fraction(model, source):
    own = model.state_dict()
    left = sum(v.numel() for k, v in own.items() if k not in source or source[k].shape != v.shape)
    return left / sum(v.numel() for v in own.values())


RIGHT = {
    "check_copy_matching_weights": copy_matching_weights,
    "check_random_fraction": random_fraction,
}


# ============================================================================================
# Wrong answers, each with the diagnosis the check must give
# ============================================================================================


def _copy_all(model, source):
    model.load_state_dict(source, strict=False)
    return list(source)


def _copy_by_position(model, source):
    own = model.state_dict()
    names = []
    with torch.no_grad():
        for (k, v), s in zip(own.items(), source.values(), strict=False):
            if v.shape == s.shape:
                v.copy_(s)
                names.append(k)
    return names


def _copy_parameters_only(model, source):
    names = []
    with torch.no_grad():
        for k, p in model.named_parameters():
            if k in source and source[k].shape == p.shape:
                p.copy_(source[k])
                names.append(k)
    return names


def _copy_sharing_memory(model, source):
    names = []
    for k, p in model.named_parameters():
        if k in source and source[k].shape == p.shape:
            p.data = source[k]
            names.append(k)
    for k, b in model.named_buffers():
        if k in source and source[k].shape == b.shape:
            b.data = source[k]
            names.append(k)
    return names


def _fraction_by_name(model, source):
    own = model.state_dict()
    return sum(v.numel() for k, v in own.items() if k not in source) / sum(
        v.numel() for v in own.values()
    )


def _fraction_of_tensors(model, source):
    own = model.state_dict()
    left = [k for k, v in own.items() if k not in source or source[k].shape != v.shape]
    return len(left) / len(own)


WRONG = [
    ("check_copy_matching_weights", _copy_all, "shape differs"),
    ("check_copy_matching_weights", _copy_by_position, "by name, not by position"),
    ("check_copy_matching_weights", _copy_parameters_only, "buffer"),
    ("check_copy_matching_weights", _copy_sharing_memory, "shares memory"),
    ("check_copy_matching_weights", lambda m, s: copy_matching_weights(m, s)[1:], "wrong names"),
    ("check_random_fraction", _fraction_by_name, "shape differs"),
    ("check_random_fraction", _fraction_of_tensors, "counted tensors, not values"),
    ("check_random_fraction", lambda m, s: 1 - random_fraction(m, s), "fraction copied"),
]  # fmt: skip


# ============================================================================================
# Variants: correct forms the checks must accept, and wrong ones with the message they get
# ============================================================================================


def copy_in_place(model, source):
    own = model.state_dict()  # its tensors share memory with the parameters and buffers
    names = []
    with torch.no_grad():
        for name, value in source.items():
            if name in own and own[name].shape == value.shape:
                own[name].copy_(value)
                names.append(name)
    return tuple(names)


def copy_returning_a_set(model, source):
    own = model.state_dict()
    names = {k for k in own if k in source and source[k].shape == own[k].shape}
    model.load_state_dict({k: source[k] for k in names}, strict=False)
    return names


def copy_with_init_from(model, source):
    return el.init_from(model, source, verbose=False).copied


def _helper(model, source):
    return init_from_state_dict(model, source)


def copy_via_helper(model, source):
    return _helper(model, source).copied


def copy_with_init_table(model, source):
    return lesson.init_table(model, source)[1].copied


def copy_assigning_data(model, source):
    names = []
    for k, p in list(model.named_parameters()) + list(model.named_buffers()):
        if k in source and source[k].shape == p.shape:
            p.data = source[k].clone()  # a copy, but in the source's dtype
            names.append(k)
    return names


def copy_switching_to_eval(model, source):
    model.eval()
    return copy_matching_weights(model, source)


def fraction_with_numpy(model, source):
    own = model.state_dict()
    sizes = np.array([v.numel() for v in own.values()])
    left = np.array([k not in source or source[k].shape != v.shape for k, v in own.items()])
    return sizes[left].sum() / sizes.sum()  # a numpy float


def fraction_as_tensor(model, source):
    own = model.state_dict()
    left = sum(v.numel() for k, v in own.items() if k not in source or source[k].shape != v.shape)
    return torch.tensor(left / sum(v.numel() for v in own.values()))


def fraction_with_init_from(model, source):
    report = el.init_from(copy.deepcopy(model), source, verbose=False)
    own = model.state_dict()
    return sum(own[k].numel() for k in report.left_random) / sum(v.numel() for v in own.values())


VARIANTS = [
    ("check_copy_matching_weights", copy_matching_weights, None),
    ("check_copy_matching_weights", copy_in_place, None),
    ("check_copy_matching_weights", copy_returning_a_set, None),
    ("check_copy_matching_weights", copy_with_init_from, "edsr_lite's own"),
    ("check_copy_matching_weights", copy_via_helper, "edsr_lite's own"),
    ("check_copy_matching_weights", copy_with_init_table, "edsr_lite's own"),
    ("check_copy_matching_weights", copy_assigning_data, "changed the dtype"),
    ("check_copy_matching_weights", copy_switching_to_eval, "train/eval mode"),
    ("check_random_fraction", random_fraction, None),
    ("check_random_fraction", fraction_with_numpy, None),
    ("check_random_fraction", fraction_as_tensor, None),
    ("check_random_fraction", fraction_with_init_from, "edsr_lite's own"),
    *WRONG,
]
